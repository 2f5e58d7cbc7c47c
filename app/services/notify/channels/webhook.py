"""The outgoing webhook: each notification POSTed as JSON to the trader's own receiver (a
Slack or Telegram bridge), signed so that the receiver can tell it is ours and fresh."""

import hashlib
import hmac
import json
import logging
import time
from datetime import UTC
from urllib.parse import urljoin, urlsplit

from app.domain.vocabulary import NotificationChannel
from app.services.notify.channels import transport
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-DeskPilot-Timestamp"
SIGNATURE_HEADER = "X-DeskPilot-Signature"
SERVICE = "The webhook receiver"


class WebhookChannel:
    name = NotificationChannel.WEBHOOK

    def unready(self, settings: NotifySettings) -> str | None:
        url = settings.outgoing_webhook_url
        if not url:
            return "No outgoing webhook URL is set."
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "The outgoing webhook URL must start with https:// (or http://)."
        if not settings.outgoing_webhook_secret:
            return "The outgoing webhook has no signing secret yet."
        return None

    def send(self, message: Message, settings: NotifySettings) -> None:
        url = settings.outgoing_webhook_url or ""
        body = payload(message)
        timestamp = str(int(time.time()))
        reply = transport.request(
            "POST",
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": "DeskPilot",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(
                    settings.outgoing_webhook_secret or "", timestamp, body
                ),
            },
            timeout=settings.timeout_seconds,
            service=SERVICE,
        )
        if 200 <= reply.status < 300:
            logger.info("webhook %s delivered to %s", message.event_type, transport.where(url))
            return
        raise _refusal(reply, url)


def payload(message: Message) -> bytes:
    """The JSON body: the same facts every channel shows, `fields` in their order."""
    occurred = message.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = {
        "event_type": message.event_type,
        "title": message.title,
        "text": message.text,
        "fields": [{"name": name, "value": value} for name, value in message.fields],
        "tone": str(message.tone),
        "occurred_at": occurred,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over "<timestamp>.<body>": the timestamp is signed
    with the body, so a receiver that refuses old timestamps refuses replays."""
    signed = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _refusal(reply: transport.Reply, url: str) -> DeliveryError:
    """429 waits as told; 5xx (and 408) may pass; any other answer stays until the
    trader changes the receiver or its URL."""
    answered = f"{SERVICE} at {transport.where(url)} answered HTTP {reply.status}"
    said = f": {reply.snippet()}" if reply.body.strip() else "."
    wait = transport.retry_after(reply.headers)
    if reply.status == 429:
        return DeliveryError(f"{answered} (too many requests){said}", retry_after=wait)
    if reply.status >= 500 or reply.status == 408:
        return DeliveryError(f"{answered}{said}", retry_after=wait)
    if 300 <= reply.status < 400:
        moved = transport.where(urljoin(url, reply.headers.get("Location") or ""))
        return DeliveryError(
            f"{answered} (a redirect to {moved}): set the URL it redirects to.", permanent=True
        )
    return DeliveryError(f"{answered}{said}", permanent=True)
