"""The economic calendar: events the trader imports (iCalendar or CSV), and the news
blackout they impose on an account's new entries.

An iCalendar event's impact is read from, in order: an `X-IMPACT` property, a category
named low, medium or high, or its RFC 5545 `PRIORITY` (1–4 high, 5 medium, 6–9 low); an
event with none of these is skipped. Importing the same calendar again updates its events
(by UID; a CSV line by time and title). An upload and a calendar fetched by URL
(calendar_feed) are read alike: `calendar_kind` tells the format, `import_events` stores it.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import icalendar
from sqlalchemy import select

from app.domain.errors import DomainValidationError
from app.domain.news import BlackoutRule, Impact, NewsEvent, blocking, parse_csv, parse_impact
from app.domain.vocabulary import AuditCategory
from app.errors import InvalidInput
from app.extensions import db
from app.models import CalendarEvent
from app.services.records import audit

LOOKAROUND = timedelta(hours=6)  # the longest blackout window a rule may set, and some
MAX_BYTES = 2_000_000  # the largest calendar read, uploaded or fetched by URL


@dataclass(frozen=True)
class ImportReport:
    """What an import did to the stored calendar, event by event."""

    new: int
    updated: int
    unchanged: int
    skipped: list[str]

    @property
    def imported(self) -> int:
        """Every event read, whether it was new, changed or already stored as it is."""
        return self.new + self.updated + self.unchanged


def calendar_kind(mimetype: str, text: str) -> str:
    """The calendar's format, "ics" or "csv", by its media type; an iCalendar file is known
    by its first line whatever its server calls it (many say text/plain or octet-stream)."""
    kind = mimetype.lower()
    if kind == "text/calendar" or text.lstrip("\ufeff \t\r\n").startswith("BEGIN:VCALENDAR"):
        return "ics"
    if kind in ("text/csv", "text/plain"):
        return "csv"
    message = "send text/calendar (iCalendar) or text/csv"
    raise InvalidInput(f"Content-Type: {message}.", {"content_type": message})


def import_events(body: str, kind: str) -> ImportReport:
    """Store the calendar's events (`kind` "ics" or "csv"). Only a change is audited: a
    calendar fetched every hour that did not move leaves no trace."""
    if kind == "ics":
        found, skipped = _parse_ics(body)
    else:
        events, skipped = parse_csv(body)
        found = [(_uid(event.starts_at, event.title), event) for event in events]
    counts = Counter(_store(uid, event) for uid, event in found)
    report = ImportReport(counts["new"], counts["updated"], counts["unchanged"], skipped)
    if report.new or report.updated:
        audit.record(
            AuditCategory.SYSTEM,
            f"economic calendar imported: {report.new} new, {report.updated} updated, "
            f"{len(skipped)} skipped",
            data={"skipped": skipped[:20]},
        )
    db.session.commit()
    return report


def _store(uid: str, event: NewsEvent) -> str:
    """Add or update the event's row: "new", "updated" or "unchanged"."""
    row = db.session.scalar(select(CalendarEvent).where(CalendarEvent.uid == uid))
    fields = (event.starts_at, event.title, event.impact, event.currency)
    if row is None:
        row, outcome = CalendarEvent(uid=uid), "new"
        db.session.add(row)
    elif (row.starts_at, row.title, row.impact, row.currency) == fields:
        return "unchanged"
    else:
        outcome = "updated"
    row.starts_at, row.title, row.impact, row.currency = fields
    return outcome


def list_events(since: datetime | None, limit: int = 500) -> list[CalendarEvent]:
    query = select(CalendarEvent).order_by(CalendarEvent.starts_at).limit(limit)
    if since is not None:
        query = query.where(CalendarEvent.starts_at >= since)
    return list(db.session.scalars(query))


def blackout_at(rule: BlackoutRule, now: datetime) -> NewsEvent | None:
    """The event whose blackout `now` is inside, by the calendar stored."""
    row = blackout_event_at(rule, now)
    return _news_event(row) if row is not None else None


def blackout_event_at(rule: BlackoutRule, now: datetime) -> CalendarEvent | None:
    """The stored event whose blackout `now` is inside: its row, whose id tells one event
    from another (the flatten before the news acts once per event)."""
    rows = db.session.scalars(
        select(CalendarEvent).where(
            CalendarEvent.starts_at >= now - LOOKAROUND,
            CalendarEvent.starts_at <= now + LOOKAROUND,
        )
    )
    pairs = [(row, _news_event(row)) for row in rows]
    found = blocking(rule, [event for _, event in pairs], now)
    return next((row for row, event in pairs if event is found), None)


def _news_event(row: CalendarEvent) -> NewsEvent:
    return NewsEvent(row.starts_at, row.title, Impact(row.impact), row.currency)


def rule_of(value: dict | None) -> BlackoutRule | None:
    if not value:
        return None
    return BlackoutRule(
        before_minutes=value["before_minutes"],
        after_minutes=value["after_minutes"],
        min_impact=Impact(value.get("min_impact", Impact.HIGH)),
        flatten=bool(value.get("flatten", False)),
    )


def _parse_ics(body: str) -> tuple[list[tuple[str, NewsEvent]], list[str]]:
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except ValueError as exc:
        message = f"not an iCalendar file: {exc}"
        raise InvalidInput(f"body: {message}", {"body": message}) from None
    found: list[tuple[str, NewsEvent]] = []
    skipped: list[str] = []
    for index, item in enumerate(calendar.walk("VEVENT"), start=1):
        title = str(item.get("SUMMARY", "")).strip()[:300] or f"event {index}"
        try:
            event = _ics_event(item, title)
        except (ValueError, TypeError) as exc:  # a malformed property: this event only
            skipped.append(f"{title}: {exc}"[:300])
            continue
        if isinstance(event, str):
            skipped.append(f"{title}: {event}")
            continue
        found.append(event)
    return found, skipped


def _ics_event(item, title: str) -> tuple[str, NewsEvent] | str:
    """The event with its UID, or why it is skipped; a malformed property raises."""
    impact = _ics_impact(item)
    start = item.decoded("DTSTART") if item.get("DTSTART") else None
    if impact is None or start is None:
        return "no impact" if impact is None else "no start time"
    if not isinstance(start, datetime):  # an all-day event: its day's start, UTC
        start = datetime.combine(start, datetime.min.time())
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    uid = str(item.get("UID") or _uid(start, title))[:255]
    currency = str(item.get("X-CURRENCY", "")).strip().upper()[:8] or None
    return uid, NewsEvent(start.astimezone(UTC), title, impact, currency)


def _ics_impact(item) -> Impact | None:
    explicit = item.get("X-IMPACT")
    if explicit:
        try:
            return parse_impact(str(explicit))
        except DomainValidationError:
            return None
    categories = item.get("CATEGORIES")
    lists = categories if isinstance(categories, list) else [categories] if categories else []
    for group in lists:
        for category in group.cats:
            if str(category).strip().lower() in {i.value for i in Impact}:
                return Impact(str(category).strip().lower())
    priority = item.get("PRIORITY")
    if priority:
        level = int(priority)
        return Impact.HIGH if 1 <= level <= 4 else Impact.MEDIUM if level == 5 else Impact.LOW
    return None


def _uid(start: datetime | date, title: str) -> str:
    return "csv:" + hashlib.sha256(f"{start.isoformat()}|{title}".encode()).hexdigest()[:40]
