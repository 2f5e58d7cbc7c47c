"""One conditional GET of a document the trader pointed DeskPilot at — the economic
calendar's URL, a news feed — shared by their fetchers.

The last answer's validators go with the request, so a document that did not change
costs the server a 304; the body is read in chunks up to a cap; and every failure is said
in words that name the host and never the URL, which may carry an access token
(requests' own messages repeat it whole).
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: str  # the header as sent, "" without one
    encoding: str | None  # requests' reading of its charset
    etag: str | None
    last_modified: str | None


class FetchFailed(Exception):
    """Why a fetch failed, in words fit for a log, an audit entry or the trader's page."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "the server"


def conditional_get(
    url: str,
    *,
    headers: dict[str, str],
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    what: str,
) -> Fetched | None:
    """The document at `url`, or None when the server says it has not changed since the
    validators given; FetchFailed on no answer within `timeout` seconds, an answer other
    than 2xx or 304, or a body beyond `max_bytes` (`what` names the document then)."""
    asked = dict(headers)
    if etag:
        asked["If-None-Match"] = etag
    if last_modified:
        asked["If-Modified-Since"] = last_modified
    host = host_of(url)
    try:
        with requests.get(url, headers=asked, timeout=timeout, stream=True) as response:
            if response.status_code == 304:
                return None
            if not 200 <= response.status_code < 300:
                reason = (response.reason or "")[:60]
                raise FetchFailed(f"{host} answered HTTP {response.status_code} {reason}".rstrip())
            return Fetched(
                body=_read(response, max_bytes, what),
                content_type=response.headers.get("Content-Type", ""),
                encoding=response.encoding,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
            )
    except requests.Timeout:
        raise FetchFailed(f"{host} did not answer within {timeout:g} s") from None
    except requests.ConnectionError:
        raise FetchFailed(f"could not connect to {host}") from None
    except requests.RequestException as exc:
        raise FetchFailed(f"the request to {host} failed ({type(exc).__name__})") from None


def _read(response: requests.Response, max_bytes: int, what: str) -> bytes:
    body = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            raise FetchFailed(f"{what} is larger than {max_bytes // 1_000_000} MB")
    return bytes(body)
