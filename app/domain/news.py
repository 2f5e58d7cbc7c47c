"""News blackout: no new entries around the economic events that move markets.

A rule per account (`news_blackout`): from `before_minutes` before to `after_minutes` after
an event of at least `min_impact`, new entries are refused (and, with `flatten`, the
account is flat before it). Events come from a calendar the trader imports; this module
reads the CSV form (`time,title,impact,currency`, a header line optional) and decides.
"""

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from app.domain.errors import DomainValidationError


class Impact(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return list(Impact).index(self)


@dataclass(frozen=True)
class NewsEvent:
    starts_at: datetime  # UTC
    title: str
    impact: Impact
    currency: str | None = None


@dataclass(frozen=True)
class BlackoutRule:
    before_minutes: int
    after_minutes: int
    min_impact: Impact = Impact.HIGH
    flatten: bool = False

    def window(self, event: NewsEvent) -> tuple[datetime, datetime]:
        return (
            event.starts_at - timedelta(minutes=self.before_minutes),
            event.starts_at + timedelta(minutes=self.after_minutes),
        )

    def counts(self, event: NewsEvent) -> bool:
        return event.impact.rank >= self.min_impact.rank


def blocking(rule: BlackoutRule, events: list[NewsEvent], now: datetime) -> NewsEvent | None:
    """The event whose blackout `now` is inside (the earliest of several), if any."""
    inside = [
        event
        for event in events
        if rule.counts(event) and rule.window(event)[0] <= now <= rule.window(event)[1]
    ]
    return min(inside, key=lambda event: event.starts_at) if inside else None


def parse_impact(text: str) -> Impact:
    value = text.strip().lower()
    aliases = {"med": "medium", "moderate": "medium", "3": "high", "2": "medium", "1": "low"}
    value = aliases.get(value, value)
    try:
        return Impact(value)
    except ValueError:
        raise DomainValidationError(
            "impact", f"must be low, medium or high, got {text!r}"
        ) from None


def parse_csv(text: str) -> tuple[list[NewsEvent], list[str]]:
    """Events from `time,title,impact,currency` lines (time ISO 8601, UTC unless it has an
    offset); the lines skipped, each with why."""
    events: list[NewsEvent] = []
    skipped: list[str] = []
    # newline="": the csv module reads every line ending itself, a lone CR included.
    rows = csv.reader(io.StringIO(text, newline=""))
    try:
        for number, row in enumerate(rows, start=1):
            if not row or not "".join(row).strip():
                continue
            if number == 1 and row[0].strip().lower() == "time":
                continue  # the header
            if len(row) < 3:
                skipped.append(f"line {number}: needs time, title and impact")
                continue
            try:
                starts = datetime.fromisoformat(row[0].strip().replace("Z", "+00:00"))
                starts = starts.astimezone(UTC) if starts.tzinfo else starts.replace(tzinfo=UTC)
                impact = parse_impact(row[2])
            except (ValueError, OverflowError, DomainValidationError) as exc:
                skipped.append(f"line {number}: {getattr(exc, 'message', exc)}")
                continue
            currency = (row[3].strip().upper() or None) if len(row) > 3 else None
            events.append(NewsEvent(starts, row[1].strip()[:300], impact, currency))
    except csv.Error as exc:  # a NUL byte, a field beyond the module's limit
        raise DomainValidationError("body", f"is not CSV the calendar can read: {exc}") from None
    return events, skipped
