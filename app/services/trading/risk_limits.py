"""Per-account risk limits: read and change them, with an audit entry for each change."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.domain.risk import Exposure, RiskPolicy, TradingWindow
from app.domain.vocabulary import AuditCategory, OrderRole, OrderStatus, Severity
from app.extensions import db
from app.models import Order, RiskLimits, Trade
from app.services.records import audit
from app.services.setup.accounts import get_account

logger = logging.getLogger(__name__)

# CME Globex hours are set in Chicago time, so a window without a zone means Chicago.
DEFAULT_WINDOW_TIMEZONE = "America/Chicago"

LIMIT_FIELDS = (
    "max_contracts_per_order",
    "max_position",
    "max_open_positions",
    "max_daily_loss",
    "max_trades_per_day",
    "risk_mode",
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
            if field == "risk_mode" and value is None:
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
    if summary["max_daily_loss"] is not None:
        summary["max_daily_loss"] = str(summary["max_daily_loss"])
    summary["trading_window"] = (
        {"start": limits.window_start, "end": limits.window_end, "timezone": limits.window_timezone}
        if limits.window_start
        else None
    )
    return summary


def _loosened(before: dict, after: dict) -> list[str]:
    """Limits raised or removed: worth a warning, since traders loosen limits mid-session."""
    names = []
    for field in LIMIT_FIELDS[:-1]:
        old, new = before[field], after[field]
        if old is None:
            continue
        if new is None or Decimal(str(new)) > Decimal(str(old)):
            names.append(field)
    return names


def trading_day_start(now: datetime) -> datetime:
    """CME's trading day opens at 17:00 Chicago time; 'today' counts from there."""
    chicago = now.astimezone(ZoneInfo("America/Chicago"))
    opening = chicago.replace(hour=17, minute=0, second=0, microsecond=0)
    if chicago < opening:
        opening -= timedelta(days=1)
    return opening.astimezone(UTC)


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
        max_open_positions=limits.max_open_positions,
        max_daily_loss=limits.max_daily_loss,
        max_trades_per_day=limits.max_trades_per_day,
        window=window,
        halted=limits.halted,
        halted_reason=limits.halted_reason,
    )


def measure_exposure(
    account_id: int,
    policy: RiskPolicy,
    positions: dict[str, int],
    unrealized: Callable[[], Decimal],
    now: datetime,
) -> Exposure:
    """What the policy's limits need to know, and nothing more: the daily figures cost
    queries (and open P&L a broker call), so they are measured only under a limit."""
    since = trading_day_start(now)
    realized = Decimal(0)
    open_pnl = Decimal(0)
    if policy.max_daily_loss is not None:
        realized = Decimal(
            db.session.scalar(
                select(func.coalesce(func.sum(Trade.pnl), 0)).where(
                    Trade.account_id == account_id, Trade.exit_time >= since
                )
            )
        )
        open_pnl = unrealized()
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
    return Exposure(
        positions=positions, realized_today=realized, unrealized=open_pnl, entries_today=entries
    )
