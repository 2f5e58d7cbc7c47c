"""SMS through TextBelt (the hosted service, or a self-hosted server at TEXTBELT_URL): one
`POST /text` per number, the text trimmed to a single SMS, the key's remaining quota kept
for the Settings page."""

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from app.domain.vocabulary import NotificationChannel
from app.services.notify.channels import transport
from app.services.notify.channels.base import DeliveryError, Message, NotifySettings

logger = logging.getLogger(__name__)

# GSM 03.38: a character of the default alphabet costs one septet, one of its extension
# table two (an escape first). Any other character makes the whole SMS UCS-2: 70 UTF-16
# units instead of 160 septets.
GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_LIMIT = 160
UCS2_LIMIT = 70
REMEMBER_SECONDS = 24 * 3600
SERVICE = "TextBelt"


class OutOfQuota(DeliveryError):
    """The key has no credit left: nothing more can be sent until the trader buys some."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


@dataclass(frozen=True)
class Quota:
    remaining: int
    seen_at: datetime


class SmsChannel:
    name = NotificationChannel.SMS

    def unready(self, settings: NotifySettings) -> str | None:
        if not settings.textbelt_key:
            return "No TextBelt key is set."
        if not settings.sms_to:
            return "No phone number is set."
        return None

    def send(self, message: Message, settings: NotifySettings) -> None:
        text = sms_text(message)
        failed: dict[str, DeliveryError] = {}
        waiting = [phone for phone in settings.sms_to if not _SENT.has(message, phone)]
        for index, phone in enumerate(waiting):
            try:
                _text(phone, text, settings)
            except OutOfQuota as error:
                unsent = ", ".join([*failed, *waiting[index:]])
                raise OutOfQuota(f"{error} Not sent to {unsent}.") from error
            except DeliveryError as error:
                failed[phone] = error
            else:
                _SENT.add(message, phone)
        if failed:
            raise DeliveryError(
                "; ".join(str(error) for error in failed.values()),
                permanent=all(error.permanent for error in failed.values()),
                retry_after=max((e.retry_after or 0 for e in failed.values()), default=0) or None,
            )
        logger.info("sms %s sent to %d number(s)", message.event_type, len(waiting))


def sms_text(message: Message) -> str:
    """ "DeskPilot: <title> - <text>" as one SMS. The separator is a plain hyphen: a dash
    outside GSM-7 would make every message UCS-2 and cut it to 70 characters."""
    return fit(f"DeskPilot: {message.title} - {message.text}")


def fit(text: str) -> str:
    """`text` trimmed with an ellipsis to one SMS: 160 GSM-7 septets when the kept part is
    all GSM-7, else 70 UTF-16 units."""
    single = _trim(text, GSM7_LIMIT, _septets, "...")
    if all(char in GSM7 or char in GSM7_EXTENSION for char in single):
        return single
    return _trim(text, UCS2_LIMIT, _utf16_units, "…")


def _septets(text: str) -> int:
    return sum(2 if char in GSM7_EXTENSION else 1 for char in text)


def _utf16_units(text: str) -> int:
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def _trim(text: str, limit: int, cost, ellipsis: str) -> str:
    if cost(text) <= limit:
        return text
    room, used, kept = limit - cost(ellipsis), 0, []
    for char in text:  # whole characters: a surrogate pair is never split
        used += cost(char)
        if used > room:
            break
        kept.append(char)
    return "".join(kept).rstrip() + ellipsis


def quota(settings: NotifySettings) -> int:
    """The key's remaining credit, asked of TextBelt (`GET /quota/<key>`) and recorded."""
    base = settings.textbelt_url.rstrip("/")
    reply = transport.request(
        "GET",
        f"{base}/quota/{quote(settings.textbelt_key or '', safe='')}",
        timeout=settings.timeout_seconds,
        service=SERVICE,
    )
    if reply.status == 404:  # its answer would repeat the path, key and all
        raise DeliveryError(
            f"The TextBelt server at {transport.where(base)} has no quota to ask "
            "(the open-source server keeps none).",
            permanent=True,
        )
    answer = _verdict(reply, settings)
    remaining = answer.get("quotaRemaining")
    if answer.get("success") is not True or not _is_count(remaining):
        raise DeliveryError(f"TextBelt could not look up this key: {_reason(answer)}")
    return remaining


def last_quota(settings: NotifySettings) -> Quota | None:
    """The remaining credit TextBelt last reported for these settings' key, in this
    process; None before the first SMS or quota call with it."""
    with _QUOTA_LOCK:
        return _QUOTAS.get(_fingerprint(settings))


def _text(phone: str, text: str, settings: NotifySettings) -> None:
    form = {"phone": phone, "message": text, "key": settings.textbelt_key or ""}
    reply = transport.request(
        "POST",
        settings.textbelt_url.rstrip("/") + "/text",
        data=urlencode(form).encode(),  # a "+" in the number travels as %2B
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=settings.timeout_seconds,
        service=SERVICE,
    )
    answer = _verdict(reply, settings)
    if answer.get("success") is True:
        return
    reason = _reason(answer)
    if answer.get("quotaRemaining") == 0 or reason.lower().startswith("out of quota"):
        raise OutOfQuota(f"TextBelt: out of quota ({reason}). Add credit to the TextBelt key.")
    raise DeliveryError(
        f"TextBelt did not text {phone}: {reason}",
        permanent="invalid phone" in reason.lower(),
    )


def _verdict(reply: transport.Reply, settings: NotifySettings) -> dict:
    """TextBelt's JSON answer, its quota recorded; an HTTP failure as a DeliveryError."""
    wait = transport.retry_after(reply.headers)
    if reply.status == 429:
        raise DeliveryError("TextBelt asked to slow down (HTTP 429).", retry_after=wait)
    if reply.status >= 500:
        raise DeliveryError(f"TextBelt answered HTTP {reply.status}.", retry_after=wait)
    try:
        answer = json.loads(reply.body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        # No snippet of the body: a server may echo the request, key included.
        raise DeliveryError(
            f"The server at {transport.where(settings.textbelt_url)} answered HTTP "
            f"{reply.status} without TextBelt's JSON: check TEXTBELT_URL.",
            permanent=400 <= reply.status < 500,
        )
    if _is_count(answer.get("quotaRemaining")):
        with _QUOTA_LOCK:
            _QUOTAS[_fingerprint(settings)] = Quota(answer["quotaRemaining"], datetime.now(UTC))
    return answer


def _reason(answer: dict) -> str:
    # The hosted service says `error`; the open-source server says `message`.
    return str(answer.get("error") or answer.get("message") or "no reason given")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fingerprint(settings: NotifySettings) -> str:
    """Which key a quota belongs to, without keeping the key itself."""
    identity = f"{settings.textbelt_url.rstrip('/')}\n{settings.textbelt_key or ''}"
    return hashlib.sha256(identity.encode()).hexdigest()


class _SentNumbers:
    """The numbers that already have a message, so that a retry after one number failed
    texts only the others (each SMS costs credit). In-process: after a restart a retry
    may text a number twice, never skip one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: dict[tuple[Message, str], float] = {}

    def has(self, message: Message, phone: str) -> bool:
        with self._lock:
            return (message, phone) in self._at

    def add(self, message: Message, phone: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in [k for k, at in self._at.items() if now - at > REMEMBER_SECONDS]:
                del self._at[key]
            self._at[(message, phone)] = now


_SENT = _SentNumbers()
_QUOTA_LOCK = threading.Lock()
_QUOTAS: dict[str, Quota] = {}
