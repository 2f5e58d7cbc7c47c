"""One HTTP request for the channels that speak HTTP (TextBelt, the outgoing webhook).

It goes through the standard library rather than requests: urllib3 writes every request's
path to its debug log, and here the path can be a secret (TextBelt's /quota/<key>, a Slack
or Telegram bridge's hook URL). Redirects are not followed, so a signed notification never
travels on to a host the trader did not name.
"""

import http.client
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message as Headers
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from app.services.notify.channels.base import DeliveryError

MAX_ANSWER_BYTES = 64 * 1024  # a channel reads a verdict, never a document


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Headers
    body: bytes

    def snippet(self, limit: int = 200) -> str:
        """The start of the answer, for an error message the trader reads."""
        text = " ".join(self.body.decode("utf-8", "replace").split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs) -> None:
        return None  # the 3xx comes back as the reply


_OPENER = urllib.request.build_opener(_NoRedirect)


def where(url: str) -> str:
    """The host (and port) of `url`, all an error message may show of it: the path and
    any user:password part can be secrets."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def request(
    method: str,
    url: str,
    *,
    timeout: float,
    service: str,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Send one request and return whatever status came back; a network failure or a
    timeout is a retryable DeliveryError naming `service` and the host only."""
    outgoing = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with _OPENER.open(outgoing, timeout=timeout) as answer:
            return Reply(answer.status, answer.headers, answer.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read(MAX_ANSWER_BYTES))
    except urllib.error.URLError as error:
        raise DeliveryError(f"{service} at {where(url)} did not answer: {error.reason}") from error
    except OSError as error:  # a timeout, a reset
        raise DeliveryError(f"{service} at {where(url)} did not answer: {error}") from error
    except http.client.HTTPException as error:  # its text may quote the URL: name it only
        raise DeliveryError(
            f"{service} at {where(url)} did not answer: {type(error).__name__}"
        ) from error


def retry_after(headers: Headers, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (a number or an HTTP date), if any."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():  # delta-seconds, else an HTTP date (RFC 9110 §10.2.3)
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
