"""The economic calendar: events the trader imports (iCalendar or CSV), and the news
blackout they impose on an account's new entries.

An iCalendar event's impact is read from, in order: an `X-IMPACT` property, a category
named low, medium or high, or its RFC 5545 `PRIORITY` (1–4 high, 5 medium, 6–9 low); an
event with none of these is skipped. Importing the same calendar again updates its events
(by UID; a CSV line by time and title).
"""

import hashlib
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


def import_events(body: str, kind: str) -> tuple[int, list[str]]:
    """Store the calendar's events (`kind` "ics" or "csv"); how many, and what was skipped."""
    if kind == "ics":
        found, skipped = _parse_ics(body)
    else:
        events, skipped = parse_csv(body)
        found = [(_uid(event.starts_at, event.title), event) for event in events]
    for uid, event in found:
        row = db.session.scalar(select(CalendarEvent).where(CalendarEvent.uid == uid))
        if row is None:
            row = CalendarEvent(uid=uid)
            db.session.add(row)
        row.starts_at, row.title = event.starts_at, event.title
        row.impact, row.currency = event.impact, event.currency
    audit.record(
        AuditCategory.SYSTEM,
        f"economic calendar imported: {len(found)} events, {len(skipped)} skipped",
        data={"skipped": skipped[:20]},
    )
    db.session.commit()
    return len(found), skipped


def list_events(since: datetime | None, limit: int = 500) -> list[CalendarEvent]:
    query = select(CalendarEvent).order_by(CalendarEvent.starts_at).limit(limit)
    if since is not None:
        query = query.where(CalendarEvent.starts_at >= since)
    return list(db.session.scalars(query))


def blackout_at(rule: BlackoutRule, now: datetime) -> NewsEvent | None:
    """The event whose blackout `now` is inside, by the calendar stored."""
    rows = db.session.scalars(
        select(CalendarEvent).where(
            CalendarEvent.starts_at >= now - LOOKAROUND,
            CalendarEvent.starts_at <= now + LOOKAROUND,
        )
    )
    events = [NewsEvent(r.starts_at, r.title, Impact(r.impact), r.currency) for r in rows]
    return blocking(rule, events, now)


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
