"""What the owner wants told, where, and when (DESIGN §5.4 notification preferences).

Defaults: what a trader away from the desk must know is on for every channel — openings,
closes, refusals, halts, the kill switch, guard rails, silences, failures, approvals, the
daily summary and the monthly review; the chatty ones (every alert taken, every fill,
every stop move) are off until asked for. Filters narrow the trading news (not the
alarms) to some strategies, accounts, symbols or a direction. Quiet hours hold all but the
alarms below until they end.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.domain.vocabulary import AuditCategory, NotificationChannel, NotificationEvent
from app.extensions import db
from app.models import NotificationPrefs, User
from app.services.notify.render import Rendered
from app.services.records import audit

logger = logging.getLogger(__name__)

E = NotificationEvent
OFF_BY_DEFAULT = frozenset({E.SIGNAL_RECEIVED, E.ORDER_FILLED, E.STOP_MOVED})
# Told at once, whatever the hour: what the trader may have to act on now. A login from
# a new device is one: a stolen password is stopped best before the morning.
THROUGH_QUIET_HOURS = frozenset(
    {
        E.KILL_SWITCH,
        E.ACCOUNT_HALTED,
        E.JOB_FAILED,
        E.BROKER_DISCONNECTED,
        E.LOGIN_NEW_DEVICE,
        E.TEST,
    }
)
# Filters apply to news about trading; an alarm about the whole desk is never filtered.
UNFILTERED = frozenset(
    {
        E.KILL_SWITCH,
        E.JOB_FAILED,
        E.BROKER_DISCONNECTED,
        E.BROKER_RECONNECTED,
        E.DAILY_SUMMARY,
        E.MONTHLY_REVIEW,
        E.LOGIN_NEW_DEVICE,
        E.TEST,
    }
)
DIRECTIONS = ("all", "long", "short")


@dataclass(frozen=True)
class Prefs:
    events: dict[str, dict[str, bool]]
    strategy_ids: frozenset[int]
    account_ids: frozenset[int]
    symbols: frozenset[str]
    direction: str
    quiet_start: time | None
    quiet_end: time | None
    timezone: str

    def wants(self, rendered: Rendered, channel: NotificationChannel) -> bool:
        event = rendered.event_type
        chosen = self.events.get(event.value, {}).get(channel.value)
        if chosen is None:
            chosen = event not in OFF_BY_DEFAULT
        if not chosen:
            return False
        return event in UNFILTERED or self._passes_filters(rendered)

    def _passes_filters(self, rendered: Rendered) -> bool:
        if self.strategy_ids and rendered.strategy_id not in self.strategy_ids:
            return False
        if self.account_ids and rendered.account_id not in self.account_ids:
            return False
        if self.symbols and not _symbol_matches(rendered.symbol, self.symbols):
            return False
        return self.direction == "all" or rendered.direction in (None, self.direction)

    def held_until(self, event: NotificationEvent, now: datetime) -> datetime | None:
        """The end of the quiet hours `now` falls in, for an event they hold; else None."""
        if event in THROUGH_QUIET_HOURS or self.quiet_start is None or self.quiet_end is None:
            return None
        if self.quiet_start == self.quiet_end:
            return None
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        start, end = self.quiet_start, self.quiet_end
        clock = local.time()
        inside = start <= clock < end if start < end else clock >= start or clock < end
        if not inside:
            return None
        ends = datetime.combine(local.date(), end, tzinfo=zone)
        if ends <= local:
            ends += timedelta(days=1)
        return ends


def _symbol_matches(symbol: str | None, wanted: frozenset[str]) -> bool:
    """MES matches MESZ6: a trader filters by product as often as by contract."""
    if symbol is None:
        return True
    return any(symbol == w or (symbol.startswith(w) and len(symbol) == len(w) + 2) for w in wanted)


def row_for(user: User) -> NotificationPrefs:
    """The owner's preferences row, made with the defaults on first need."""
    row = db.session.scalar(select(NotificationPrefs).where(NotificationPrefs.user_id == user.id))
    if row is None:
        row = NotificationPrefs(
            user_id=user.id, events={}, strategy_ids=[], account_ids=[], symbols=[], direction="all"
        )
        db.session.add(row)
        db.session.flush()
    return row


def prefs_of(user: User, row: NotificationPrefs | None) -> Prefs:
    if row is None:
        return Prefs({}, frozenset(), frozenset(), frozenset(), "all", None, None, user.timezone)
    return Prefs(
        dict(row.events or {}),
        frozenset(row.strategy_ids or []),
        frozenset(row.account_ids or []),
        frozenset(row.symbols or []),
        row.direction,
        row.quiet_start,
        row.quiet_end,
        user.timezone,
    )


def current(user: User) -> Prefs:
    row = db.session.scalar(select(NotificationPrefs).where(NotificationPrefs.user_id == user.id))
    return prefs_of(user, row)


def to_json(prefs: Prefs) -> dict:
    """The GET/PUT /api/notifications/preferences shape, every event and channel spelled
    out (the defaults filled in), so a client shows the whole matrix."""
    return {
        "events": {
            event.value: {
                channel.value: prefs.events.get(event.value, {}).get(
                    channel.value, event not in OFF_BY_DEFAULT
                )
                for channel in NotificationChannel
            }
            for event in NotificationEvent
        },
        "filters": {
            "strategy_ids": sorted(prefs.strategy_ids),
            "account_ids": sorted(prefs.account_ids),
            "symbols": sorted(prefs.symbols),
            "direction": prefs.direction,
        },
        "quiet_hours": {
            "start": prefs.quiet_start.strftime("%H:%M") if prefs.quiet_start else None,
            "end": prefs.quiet_end.strftime("%H:%M") if prefs.quiet_end else None,
        },
    }


def update(user: User, changes: dict) -> Prefs:
    """Apply a PUT's parts (events merged per event and channel; filters and quiet hours
    replaced as given) and record it."""
    row = row_for(user)
    if "events" in changes:
        merged = {event: dict(choices) for event, choices in (row.events or {}).items()}
        for event, choices in changes["events"].items():
            merged.setdefault(event, {}).update(choices)
        row.events = merged
    if "filters" in changes:
        filters = changes["filters"]
        row.strategy_ids = sorted(set(filters.get("strategy_ids", [])))
        row.account_ids = sorted(set(filters.get("account_ids", [])))
        row.symbols = sorted(set(filters.get("symbols", [])))
        row.direction = filters.get("direction", "all")
    if "quiet_hours" in changes:
        row.quiet_start = changes["quiet_hours"].get("start")
        row.quiet_end = changes["quiet_hours"].get("end")
    audit.record(
        AuditCategory.SYSTEM, "notification preferences changed", data={"changed": sorted(changes)}
    )
    db.session.commit()
    return prefs_of(user, row)
