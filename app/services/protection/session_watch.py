"""Flat before the close, and done for the day: halts that end with the trading day.

Each monitor tick, an account that asked for it (`flatten_at`, a wall-clock time in its
trading window's zone; or `flatten_before_close_minutes` before its session closes — the
earliest close among the products it holds, CME equity's when flat) is flattened and
halted (`halted_by: session_end`) once that moment of the trading day has come. The
trader's "done for the day" does the same at once (`done_for_day`). Both halts end when the
next trading day opens (17:00 Chicago time), and not by hand.
"""

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import HaltKind
from app.extensions import db
from app.models import BrokerAccount, RiskLimits
from app.services.ledger import positions
from app.services.market import sessions
from app.services.protection import halts
from app.services.protection.kill_switch import AccountResult, flatten_and_halt
from app.services.setup.accounts import get_account

logger = logging.getLogger(__name__)

DAY_HALTS = (HaltKind.SESSION_END, HaltKind.DONE_FOR_DAY)
DEFAULT_ZONE = "America/Chicago"


def done_for_day(account_id: int, now: datetime) -> AccountResult:
    """The trader is done: cancel, flatten and refuse entries until the next trading day."""
    get_account(account_id)
    return flatten_and_halt(account_id, HaltKind.DONE_FOR_DAY, "done for the day", now, actor=None)


def watch_sessions(now: datetime) -> tuple[list[int], list[str]]:
    """Lift the day halts of a past trading day, and flatten the accounts whose moment to be
    flat has come. Returns the accounts halted and the failures, in words."""
    day_start = trading_day_start(now)
    halted: list[int] = []
    failures: list[str] = []
    rows = db.session.scalars(
        select(RiskLimits)
        .join(BrokerAccount, BrokerAccount.id == RiskLimits.account_id)
        .where(
            BrokerAccount.enabled.is_(True),
            or_(
                RiskLimits.halted_by.in_(DAY_HALTS),
                RiskLimits.flatten_at.is_not(None),
                RiskLimits.flatten_before_close_minutes.is_not(None),
            ),
        )
        .order_by(RiskLimits.account_id)
    ).all()
    for limits in rows:
        try:
            if limits.halted:
                if limits.halted_by in DAY_HALTS and limits.halted_at < day_start:
                    _lift(limits, now)
                continue
            due = flatten_moment(limits, now)
            if due is not None and due[0] <= now:
                reason = due[1]
                flatten_and_halt(
                    limits.account_id, HaltKind.SESSION_END, reason, now, actor="monitor"
                )
                halted.append(limits.account_id)
        except Exception as exc:  # one account's trouble must not stop the others
            db.session.rollback()
            logger.exception("account %s: the session's end not watched", limits.account_id)
            failures.append(f"account {limits.account_id}: session end not watched: {exc}")
    return halted, failures


def flatten_moment(limits: RiskLimits, now: datetime) -> tuple[datetime, str] | None:
    """When (and why, in words) the account must be flat in the trading day `now` is in;
    None: not asked, or no session to close today."""
    day_start = trading_day_start(now)
    moments: list[tuple[datetime, str]] = []
    if limits.flatten_at:
        zone_name = limits.window_timezone or DEFAULT_ZONE
        local_start = day_start.astimezone(ZoneInfo(zone_name))
        wanted = time.fromisoformat(limits.flatten_at)
        moment = local_start.replace(hour=wanted.hour, minute=wanted.minute)
        if moment < local_start:
            moment += timedelta(days=1)
        why = f"flat by {limits.flatten_at} {zone_name}, as set for every trading day"
        moments.append((moment.astimezone(day_start.tzinfo), why))
    if limits.flatten_before_close_minutes:
        close = _session_close(limits.account_id, now)
        if close is not None:
            minutes = limits.flatten_before_close_minutes
            why = f"flat {minutes} minutes before the session closes at {close:%H:%M} UTC"
            moments.append((close - timedelta(minutes=minutes), why))
    return min(moments) if moments else None


def _session_close(account_id: int, now: datetime) -> datetime | None:
    """The earliest close among the sessions of the products the account holds (CME
    equity's when it holds none); None when no such session is open now."""
    held = positions.open_positions(account_id)
    calendars = {sessions.calendar_for(view.row.symbol, now.date()) for view in held}
    found = [sessions.session_at(c, now) for c in calendars or {sessions.DEFAULT_CALENDAR}]
    closes = [session.closes for session in found if session is not None]
    return min(closes) if closes else None


def _lift(limits: RiskLimits, now: datetime) -> None:
    account = db.session.get(BrokerAccount, limits.account_id)
    change = halts.clear_halt(account, limits, "a new trading day opened", now, "monitor")
    halts.announce([change])
    db.session.commit()
