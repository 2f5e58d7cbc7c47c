"""Flat before the news: an account whose news blackout says `flatten` is flattened as the
blackout window of an event opens, once per event.

The account is not halted: the blackout itself refuses new entries inside its window and
ends with it, where a halt would outlive it. `risk_limits.news_flattened_event_id` records
the event the account was flattened for, written before the sweep (durable first), so a
later tick inside the same window leaves the account alone — a sweep that failed is
reported, not repeated every tick — and the next event flattens again.
"""

import logging
from datetime import datetime

from sqlalchemy import select

from app.domain.news import BlackoutRule
from app.extensions import db
from app.models import BrokerAccount, CalendarEvent, RiskLimits
from app.services.market import economic_calendar
from app.services.protection.kill_switch import AccountResult, flatten
from app.services.records import events

logger = logging.getLogger(__name__)

EVENT = "session_flatten"  # DESIGN §5.4's event for a flatten a guard rail did by itself


def watch_news(now: datetime) -> tuple[list[int], list[str]]:
    """Flatten each account whose `flatten` rule's window around an event has opened and
    that was not flattened for that event yet. Returns the accounts halted — none: the
    blackout refuses entries by itself — and the failures, in words, as the other watches
    of the monitor's tick do."""
    rows = db.session.scalars(
        select(RiskLimits)
        .join(BrokerAccount, BrokerAccount.id == RiskLimits.account_id)
        .where(BrokerAccount.enabled.is_(True), RiskLimits.news_blackout.is_not(None))
        .order_by(RiskLimits.account_id)
    ).all()
    failures: list[str] = []
    for limits in rows:
        try:
            rule = economic_calendar.rule_of(limits.news_blackout)
            if rule is None or not rule.flatten:
                continue
            event = economic_calendar.blackout_event_at(rule, now)
            if event is None or limits.news_flattened_event_id == event.id:
                continue
            result = _flatten_for(limits, rule, event, now)
            if not result.ok:
                failures.append(f"account {limits.account_id}: news flatten: {result.message}")
        except Exception as exc:  # one account's trouble must not stop the others
            db.session.rollback()
            logger.exception("account %s: the news blackout not watched", limits.account_id)
            failures.append(f"account {limits.account_id}: news blackout not watched: {exc}")
    return [], failures


def _flatten_for(
    limits: RiskLimits, rule: BlackoutRule, event: CalendarEvent, now: datetime
) -> AccountResult:
    """Mark the event done for the account, flatten it, and tell the trader when the sweep
    closed or cancelled something or failed (a flat account is only audited)."""
    account_id = limits.account_id
    about = {
        "id": event.id,
        "title": event.title,
        "impact": str(event.impact),
        "time": event.starts_at.isoformat(),
    }
    reason = (
        f"news: {event.title} ({event.impact}) at {event.starts_at:%H:%M} UTC; flat from "
        f"{rule.before_minutes} min before, as the news blackout asks"
    )
    limits.news_flattened_event_id = event.id
    db.session.commit()
    result = flatten(account_id, reason, now)
    if result.cancelled_orders or result.flattened_positions or not result.ok:
        events.publish(
            EVENT,
            {
                "account_id": account_id,
                "account": result.account,
                "cause": "news",
                "reason": reason,
                "event": about,
                "sweep": result.to_json(),
                "at": now.isoformat(),
            },
        )
    return result
