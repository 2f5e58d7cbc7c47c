"""The funded-account rules watched on every monitor tick, not only when an entry asks.

Each look advances what the rules trail (a real-time high-water mark must see the peaks
between entries). A rule whose breach flattens (`breach_action: flatten`) flattens and
halts the account (`halted_by: rule`, kill_switch.flatten_and_halt); that halt ends by
itself once no such rule is breached any more — a new trading day for a daily target, a
new week for a weekly one, never for a drawdown that is gone — since the trader may not
lift it by hand.

Each rule whose room runs low (`rule_warning`) or out (`rule_breached`) is told once per
trading day and account, with the commit of that look. What was told is remembered by the
process: a restart may tell a rule again the same day, once.
"""

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import or_, select

from app.domain.account_rules import RuleName, RuleRoom
from app.domain.numbers import shown
from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import HaltKind
from app.extensions import db
from app.models import BrokerAccount, RiskLimits
from app.services.protection import halts
from app.services.protection.kill_switch import flatten_and_halt
from app.services.records import events
from app.services.trading import guard_rails

logger = logging.getLogger(__name__)

RULE_COLUMNS = (
    RiskLimits.trailing_drawdown,
    RiskLimits.daily_profit_target,
    RiskLimits.profit_lock_trail,
    RiskLimits.weekly_loss_limit,
    RiskLimits.weekly_profit_target,
    RiskLimits.consistency_pct,
    RiskLimits.loss_cooldown_minutes,
    RiskLimits.max_consecutive_losses,
)


def watch_rules(now: datetime) -> tuple[list[int], list[str]]:
    """Look at every enabled account with rules; flatten and halt the breached ones whose
    action says so, lift the rule halts no longer breached. Returns the accounts halted
    and the failures, in words."""
    rows = db.session.scalars(
        select(RiskLimits)
        .join(BrokerAccount, BrokerAccount.id == RiskLimits.account_id)
        .where(
            BrokerAccount.enabled.is_(True),
            or_(*(column.is_not(None) for column in RULE_COLUMNS)),
        )
        .order_by(RiskLimits.account_id)
    ).all()
    halted: list[int] = []
    failures: list[str] = []
    for limits in rows:
        account_id = limits.account_id
        try:
            rooms = guard_rails.look(limits, now)
            _tell(account_id, rooms, now)
            flattening = [room for room in rooms if _flattens(room)]
            db.session.commit()
            if limits.halted:
                if limits.halted_by == HaltKind.RULE and not flattening:
                    _lift(limits, now)
                continue
            if flattening:
                reason = "; ".join(
                    f"{room.rule.value.replace('_', ' ')} rule breached: {room.detail}"
                    for room in flattening
                )
                flatten_and_halt(account_id, HaltKind.RULE, reason[:255], now, actor="monitor")
                halted.append(account_id)
        except Exception as exc:  # one account's trouble must not stop the others
            db.session.rollback()
            logger.exception("account %s: funded-account rules not watched", account_id)
            failures.append(f"account {account_id}: rules not watched: {exc}")
    return halted, failures


_TOLD = "deskpilot.rules_told"


def _tell(account_id: int, rooms: list[RuleRoom], now: datetime) -> None:
    """Queue `rule_warning` / `rule_breached` for the rules newly so today."""
    told: dict[tuple[int, RuleName, str], datetime] = current_app.extensions.setdefault(_TOLD, {})
    day = trading_day_start(now)
    for room in rooms:
        name = "rule_breached" if room.breached else "rule_warning" if room.warning else None
        if name is None or told.get((account_id, room.rule, name)) == day:
            continue
        told[(account_id, room.rule, name)] = day
        events.publish_after_commit(
            db.session(),
            name,
            {
                "account_id": account_id,
                "rule": room.rule.value,
                "limit": shown(room.limit),
                "room_left": shown(room.room_left),
                "detail": room.detail,
                "at": now.isoformat(),
            },
        )


def _flattens(room: RuleRoom) -> bool:
    """A breach this watch flattens for; the daily loss limit has its own (`monitor`)."""
    return room.breached and room.flattens and room.rule is not RuleName.DAILY_LOSS


def _lift(limits: RiskLimits, now: datetime) -> None:
    account = db.session.get(BrokerAccount, limits.account_id)
    change = halts.clear_halt(account, limits, "no rule is breached any more", now, "monitor")
    halts.announce([change])
    db.session.commit()
