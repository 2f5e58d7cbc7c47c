"""An account's funded-account rules against its figures now (domain.account_rules).

The figures come from the ledger (trades, the cash the broker reports, open positions
marked at the last price); what the rules trail between looks — the equity high-water
mark, the last equity (an end-of-day mark takes the day's last), the day's best P&L — is
kept on the account's risk_limits row and advanced by every look. The risk gate refuses an
entry while a rule is breached; the accounts page and `GET /api/risk/<id>/room` show the
room left.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from app.domain import account_rules
from app.domain.account_rules import AccountPicture, AccountRules, RuleName, RuleRoom
from app.domain.trading_day import trading_day_start, trading_week_start
from app.extensions import db
from app.models import BrokerAccount, RiskLimits, Trade
from app.services.ledger import positions
from app.services.ledger.trades import realized_pnl

ZERO = Decimal(0)


def rules_of(limits: RiskLimits) -> AccountRules:
    return AccountRules(
        trailing_drawdown=limits.trailing_drawdown,
        trailing_mode=limits.trailing_drawdown_mode,
        trailing_stops_at_start=limits.trailing_stops_at_start,
        max_daily_loss=limits.max_daily_loss,
        weekly_loss_limit=limits.weekly_loss_limit,
        daily_profit_target=limits.daily_profit_target,
        weekly_profit_target=limits.weekly_profit_target,
        profit_lock_trail=limits.profit_lock_trail,
        consistency_pct=limits.consistency_pct,
        loss_cooldown_minutes=limits.loss_cooldown_minutes,
        max_consecutive_losses=limits.max_consecutive_losses,
        safety_buffer=limits.safety_buffer or ZERO,
        breach_action=limits.breach_action,
    )


def look(limits: RiskLimits, now: datetime, unrealized: Decimal | None = None) -> list[RuleRoom]:
    """Every rule the account has, with its room left now; the trailed state advanced (the
    caller commits). `unrealized`: the open P&L when the caller has read it from the
    broker, else the positions marked at the last price."""
    rules = rules_of(limits)
    if not rules.any:
        return []
    account = db.session.get(BrokerAccount, limits.account_id)
    if unrealized is None:
        unrealized = sum(
            (view.unrealized_pnl or ZERO for view in positions.open_positions(account.id)), ZERO
        )
    equity = equity_of(account, unrealized)
    starting = account.starting_balance
    if starting is None:  # a broker account: the rules count from the first equity seen
        starting = limits.high_water_mark if limits.high_water_mark is not None else equity
    day_start = trading_day_start(now)
    _advance_mark(limits, rules, equity, starting, day_start, now)
    day_pnl = realized_pnl(account.id, day_start) + unrealized
    if limits.day_best_since != day_start or limits.day_best_pnl is None:
        limits.day_best_pnl, limits.day_best_since = day_pnl, day_start
    else:
        limits.day_best_pnl = max(limits.day_best_pnl, day_pnl)
    picture = AccountPicture(
        equity=equity,
        starting_balance=starting,
        high_water_mark=limits.high_water_mark,
        day_pnl=day_pnl,
        day_best_pnl=limits.day_best_pnl,
        week_pnl=realized_pnl(account.id, trading_week_start(now)) + unrealized,
        prior_profit=realized_pnl(account.id, None, before=day_start),
        last_loss_at=db.session.scalar(
            select(func.max(Trade.exit_time)).where(Trade.account_id == account.id, Trade.pnl < 0)
        ),
        losses_in_a_row=_losses_in_a_row(account.id, day_start),
    )
    return account_rules.rooms(rules, picture, now)


def equity_of(account: BrokerAccount, unrealized: Decimal) -> Decimal:
    """The cash the broker last reported (a new account's starting balance) plus open P&L."""
    cash = account.cash_balance if account.cash_balance is not None else account.starting_balance
    return (cash or ZERO) + unrealized


def room_now(limits: RiskLimits, now: datetime) -> list[RuleRoom]:
    """`look` for the API and the accounts page: the state it moved is kept."""
    found = look(limits, now)
    db.session.commit()
    return found


def entry_breaches(limits: RiskLimits, now: datetime, unrealized: Decimal | None) -> list[str]:
    """Why a new entry is refused by the rules, as sentences; the daily loss is the risk
    check's own (`domain.risk`)."""
    return [
        f"{room.rule.value.replace('_', ' ')} rule breached: {room.detail}"
        for room in account_rules.breaches(look(limits, now, unrealized))
        if room.rule is not RuleName.DAILY_LOSS
    ]


def _advance_mark(
    limits: RiskLimits,
    rules: AccountRules,
    equity: Decimal,
    starting: Decimal,
    day_start: datetime,
    now: datetime,
) -> None:
    mark = limits.high_water_mark if limits.high_water_mark is not None else starting
    seen_before_today = limits.last_equity_at is not None and limits.last_equity_at < day_start
    if seen_before_today and limits.last_equity is not None:  # yesterday's close counts
        mark = account_rules.high_water_mark(
            rules.trailing_mode, mark, limits.last_equity, day_closed=True
        )
    limits.high_water_mark = account_rules.high_water_mark(
        rules.trailing_mode, mark, equity, day_closed=False
    )
    limits.last_equity, limits.last_equity_at = equity, now


def _losses_in_a_row(account_id: int, day_start: datetime) -> int:
    recent = db.session.scalars(
        select(Trade.pnl)
        .where(Trade.account_id == account_id, Trade.exit_time >= day_start)
        .order_by(Trade.exit_time.desc(), Trade.id.desc())
    )
    count = 0
    for pnl in recent:
        if pnl >= 0:
            break
        count += 1
    return count
