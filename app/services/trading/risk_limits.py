"""Per-account risk limits: read and change them, with an audit entry for each change."""

import logging
from collections.abc import Callable
from datetime import datetime, time
from decimal import Decimal

from flask import current_app
from sqlalchemy import Numeric, func, select

from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.risk import Exposure, RiskPolicy, TradingWindow
from app.domain.risk_modes import open_positions_limit, open_positions_set_by
from app.domain.trading_day import in_tradovate_maintenance, trading_day_start
from app.domain.vocabulary import AuditCategory, BrokerKind, OrderRole, OrderStatus, Severity
from app.extensions import db
from app.models import Order, RiskLimits, Trade
from app.services.market import economic_calendar, prices, sessions
from app.services.records import audit
from app.services.setup.accounts import get_account
from app.services.trading import guard_rails

logger = logging.getLogger(__name__)

# CME Globex hours are set in Chicago time, so a window without a zone means Chicago.
DEFAULT_WINDOW_TIMEZONE = "America/Chicago"

# Limits that loosen as they rise (or are removed).
LOOSER_HIGHER = (
    "max_contracts_per_order",
    "max_position",
    "max_open_positions",
    "max_exposure",
    "max_daily_loss",
    "max_trades_per_day",
    "trailing_drawdown",
    "daily_profit_target",
    "profit_lock_trail",
    "weekly_loss_limit",
    "weekly_profit_target",
    "consistency_pct",
    "max_consecutive_losses",
)
# Limits that loosen as they fall (or are removed).
LOOSER_LOWER = ("loss_cooldown_minutes", "safety_buffer")
# Settings a null leaves as they are.
SETTINGS = ("trailing_drawdown_mode", "trailing_stops_at_start", "breach_action")
# Guards whose removal loosens the rules.
FLAT_BY = ("flatten_at", "flatten_before_close_minutes", "news_blackout")
# Settings whose null means "the default" (set as given): no risk mode is the strategies'
# own quantities.
DEFAULTED = ("session_guard", "risk_mode")
LIMIT_FIELDS = (*LOOSER_HIGHER, *LOOSER_LOWER, *SETTINGS, *FLAT_BY, *DEFAULTED)
# The amounts, kept as text in the audit's record of a change.
DECIMAL_FIELDS = frozenset(
    column.name
    for column in RiskLimits.__table__.columns
    if isinstance(column.type, Numeric) and column.name in LIMIT_FIELDS
)


def limits_for(account_id: int) -> RiskLimits:
    account = get_account(account_id)
    if account.risk_limits is None:
        account.risk_limits = RiskLimits()
        db.session.commit()
    return account.risk_limits


def update_limits(account_id: int, changes: dict) -> RiskLimits:
    """Set the limits given; a null clears a limit. `trading_window` is start/end/timezone."""
    limits = limits_for(account_id)
    before = limits_summary(limits)
    for field in LIMIT_FIELDS:
        if field in changes:
            value = changes[field]
            if field in SETTINGS and value is None:
                continue
            setattr(limits, field, value)
    if "trading_window" in changes:
        window = changes["trading_window"]
        limits.window_start = window["start"] if window else None
        limits.window_end = window["end"] if window else None
        limits.window_timezone = (
            (window.get("timezone") or DEFAULT_WINDOW_TIMEZONE) if window else None
        )
    after = limits_summary(limits)
    diff = audit.changed_fields(before, after)
    loosened = _loosened(before, after)
    audit.record(
        AuditCategory.RISK,
        f"risk limits of account {limits.account.name!r} changed",
        severity=Severity.WARNING if loosened else Severity.INFO,
        account_id=account_id,
        data={"changes": diff, "loosened": loosened},
    )
    db.session.commit()
    return limits


def limits_summary(limits: RiskLimits) -> dict:
    summary = {field: getattr(limits, field) for field in LIMIT_FIELDS}
    for field in DECIMAL_FIELDS:
        if summary[field] is not None:
            summary[field] = str(summary[field])
    summary["trading_window"] = (
        {"start": limits.window_start, "end": limits.window_end, "timezone": limits.window_timezone}
        if limits.window_start
        else None
    )
    return summary


def _loosened(before: dict, after: dict) -> list[str]:
    """Limits raised or removed: worth a warning, since traders loosen limits mid-session."""
    names = []
    for field in (*LOOSER_HIGHER, *LOOSER_LOWER):
        old, new = before[field], after[field]
        if old is None:
            continue
        if new is None:
            names.append(field)
            continue
        change = Decimal(str(new)) - Decimal(str(old))
        if (change > 0) if field in LOOSER_HIGHER else (change < 0):
            names.append(field)
    if before["breach_action"] == "flatten" and after["breach_action"] == "refuse":
        names.append("breach_action")
    names += [field for field in FLAT_BY if before[field] is not None and after[field] is None]
    return names


def policy_of(limits: RiskLimits) -> RiskPolicy:
    window = None
    if limits.window_start and limits.window_end:
        window = TradingWindow(
            time.fromisoformat(limits.window_start),
            time.fromisoformat(limits.window_end),
            limits.window_timezone or DEFAULT_WINDOW_TIMEZONE,
        )
    return RiskPolicy(
        max_contracts_per_order=limits.max_contracts_per_order,
        max_position=limits.max_position,
        max_open_positions=open_positions_limit(limits.max_open_positions, limits.risk_mode),
        open_positions_by=open_positions_set_by(limits.max_open_positions, limits.risk_mode),
        max_exposure=limits.max_exposure,
        max_daily_loss=limits.max_daily_loss,
        max_trades_per_day=limits.max_trades_per_day,
        window=window,
        halted=limits.halted,
        halted_reason=limits.halted_reason,
        safety_buffer=limits.safety_buffer or Decimal(0),
        has_rules=guard_rails.rules_of(limits).any,
        news_blackout=bool(limits.news_blackout),
    )


def measure_exposure(
    account_id: int,
    policy: RiskPolicy,
    positions: dict[str, int],
    unrealized: Callable[[], Decimal],
    now: datetime,
    symbol: str | None = None,
    reference: Decimal | None = None,
) -> Exposure:
    """What the policy's limits need to know, and nothing more: the daily figures cost
    queries (and open P&L a broker call), so they are measured only under a limit.
    `symbol`: the contract an order is for, which the session guard checks; `reference`:
    its price when no quote has been seen (the alert's), for the exposure limit."""
    since = trading_day_start(now)
    realized = Decimal(0)
    open_pnl = Decimal(0)
    if policy.max_daily_loss is not None or policy.has_rules:
        open_pnl = unrealized()
    if policy.max_daily_loss is not None:
        realized = Decimal(
            db.session.scalar(
                select(func.coalesce(func.sum(Trade.pnl), 0)).where(
                    Trade.account_id == account_id, Trade.exit_time >= since
                )
            )
        )
    breaches: tuple[str, ...] = ()
    if policy.has_rules:
        breaches = tuple(guard_rails.entry_breaches(limits_for(account_id), now, open_pnl))
    if policy.news_blackout:
        breaches += _news_blackout(limits_for(account_id), now)
    if symbol is not None and session_guarded(limits_for(account_id)):
        breaches += _outside_session(limits_for(account_id), symbol, now)
    entries = 0
    if policy.max_trades_per_day is not None:
        entries = db.session.scalar(
            select(func.count(Order.id)).where(
                Order.account_id == account_id,
                Order.role == OrderRole.ENTRY,
                Order.status.in_([OrderStatus.WORKING, OrderStatus.FILLED]),
                Order.created_at >= since,
            )
        )
    marks: dict[str, Decimal] = {}
    point_values: dict[str, Decimal] = {}
    if policy.max_exposure is not None:
        marks, point_values = _marks(positions, symbol, reference, now)
    return Exposure(
        positions=positions,
        realized_today=realized,
        unrealized=open_pnl,
        entries_today=entries,
        rule_breaches=breaches,
        marks=marks,
        point_values=point_values,
    )


def _marks(
    positions: dict[str, int], symbol: str | None, reference: Decimal | None, now: datetime
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The last price and point value of each symbol held and of the one ordered; a
    symbol without a quote is left out, and the exposure check refuses on it."""
    marks: dict[str, Decimal] = {}
    point_values: dict[str, Decimal] = {}
    for code in {*positions, *([symbol] if symbol else [])}:
        quote = prices.last(code)
        price = quote.price if quote else (reference if code == symbol else None)
        if price is not None:
            marks[code] = price
        try:
            point_values[code] = resolve_symbol(code, now.date()).spec.point_value
        except UnknownSymbol:
            continue
    return marks, point_values


def _news_blackout(limits: RiskLimits, now: datetime) -> tuple[str, ...]:
    rule = economic_calendar.rule_of(limits.news_blackout)
    event = economic_calendar.blackout_at(rule, now) if rule else None
    if event is None:
        return ()
    return (
        f"news blackout: {event.title} ({event.impact}) at {event.starts_at:%H:%M} UTC; no "
        f"entries from {rule.before_minutes} min before to {rule.after_minutes} min after",
    )


def session_guarded(limits: RiskLimits) -> bool:
    """Whether the account refuses entries outside the session: its own setting, else on
    for Tradovate accounts (SESSION_GUARD_TRADOVATE) and off for paper ones, whose simulated
    feed trades around the clock."""
    if limits.session_guard is not None:
        return limits.session_guard
    tradovate = limits.account.broker == BrokerKind.TRADOVATE
    return tradovate and bool(current_app.config.get("SESSION_GUARD_TRADOVATE", True))


def _outside_session(limits: RiskLimits, symbol: str, now: datetime) -> tuple[str, ...]:
    calendar = sessions.calendar_for(symbol, now.date())
    if sessions.session_at(calendar, now) is None:
        upcoming = sessions.next_session(calendar, now)
        opens = f"; it opens {upcoming.opens:%a %d %b %H:%M} UTC" if upcoming else ""
        return (f"{symbol}: the market is closed (holiday, weekend or the daily break){opens}",)
    if limits.account.broker == BrokerKind.TRADOVATE and in_tradovate_maintenance(now):
        return ("Tradovate's maintenance window: no order is sent into it",)
    return ()
