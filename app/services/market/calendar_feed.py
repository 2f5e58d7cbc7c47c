"""The economic calendar fetched by URL (the owner's `calendar_url` setting) and imported
as an upload would be.

The URL may carry a token (in its user part, its query, or its path: Google's private
iCal links are /calendar/ical/<id>/private-<token>/basic.ics), so it is only ever shown —
log, audit, job status — as scheme and host. A failure (no answer, a non-2xx, a body that
is no calendar) leaves the stored calendar as it was and is logged and audited once, until
the failure changes or a fetch works again. The answer's ETag and Last-Modified are kept in
memory, so a calendar that did not change costs the server a 304.
"""

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from flask import current_app

from app.domain.vocabulary import AuditCategory, Severity
from app.errors import InvalidInput
from app.extensions import db
from app.services.market.economic_calendar import (
    MAX_BYTES,
    ImportReport,
    calendar_kind,
    import_events,
)
from app.services.records import audit
from app.services.web_fetch import Fetched, FetchFailed, conditional_get

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
_EXTENSION = "deskpilot.calendar_feed"


class FetchResult(StrEnum):
    IMPORTED = "imported"
    UNCHANGED = "unchanged"  # the server answered 304 Not Modified
    FAILED = "failed"


@dataclass(frozen=True)
class FetchOutcome:
    result: FetchResult
    report: ImportReport | None = None  # when imported
    error: str | None = None  # when failed: why, without the URL


@dataclass
class _Memory:
    """Per process: the last good answer's validators and the failure already told."""

    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    told: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def shown_url(url: str) -> str:
    """The URL as it may be logged: scheme and host (and port) — no user, password, path,
    query or fragment, where calendar services put their access tokens."""
    parts = urlsplit(url)
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{rest}"


def fetch_calendar(url: str) -> FetchOutcome:
    """Fetch `url` and import its events; a failure leaves the stored calendar as it was."""
    memory: _Memory = current_app.extensions.setdefault(_EXTENSION, _Memory())
    with memory.lock:  # the job and a settings save may fetch at once
        if memory.url != url:
            memory.url, memory.etag, memory.last_modified, memory.told = url, None, None, None
        try:
            outcome = _fetch(url, memory)
        except FetchFailed as failure:
            _tell(memory, url, failure.why)
            return FetchOutcome(FetchResult.FAILED, error=failure.why)
        if memory.told is not None:
            logger.info("economic calendar %s fetched again", shown_url(url))
            memory.told = None
        return outcome


def _fetch(url: str, memory: _Memory) -> FetchOutcome:
    answer = _download(url, memory)
    if answer is None:
        return FetchOutcome(FetchResult.UNCHANGED)
    mimetype = answer.content_type.partition(";")[0].strip().lower()
    text = _text(answer.body, answer.content_type, answer.encoding)
    try:
        report = import_events(text, calendar_kind(mimetype, text))
    except InvalidInput as exc:
        db.session.rollback()
        kind = mimetype or "no Content-Type"
        raise FetchFailed(f"not a calendar ({kind}): {exc.message}") from None
    if not report.imported and report.skipped:
        raise FetchFailed(f"no event could be read; first: {report.skipped[0]}")
    memory.etag, memory.last_modified = answer.etag, answer.last_modified
    return FetchOutcome(FetchResult.IMPORTED, report)


def _download(url: str, memory: _Memory) -> Fetched | None:
    """The server's answer; None when it says the calendar has not changed since the
    validators kept."""
    return conditional_get(
        url,
        headers={"Accept": "text/calendar, text/csv;q=0.9, text/plain;q=0.5"},
        etag=memory.etag,
        last_modified=memory.last_modified,
        timeout=TIMEOUT_SECONDS,
        max_bytes=MAX_BYTES,
        what="the calendar",
    )


def _text(body: bytes, content_type: str, encoding: str | None) -> str:
    """The body as text: in the charset the server names, else UTF-8 as RFC 5545 says
    (requests would guess Latin-1 for any text/* without one)."""
    charset = encoding if "charset=" in content_type.lower() else None
    try:
        return body.decode(charset or "utf-8-sig", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8-sig", errors="replace")


def _tell(memory: _Memory, url: str, why: str) -> None:
    """Log and audit a failure once; the same one again stays quiet."""
    if memory.told == why:
        return
    memory.told = why
    shown = shown_url(url)
    logger.warning("economic calendar %s: %s; the stored calendar is kept", shown, why)
    audit.record(
        AuditCategory.SYSTEM,
        f"economic calendar fetch failed: {why}",
        severity=Severity.WARNING,
        data={"url": shown},
    )
    db.session.commit()
