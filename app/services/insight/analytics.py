"""The metrics of DESIGN §5.4 `GET /api/analytics`, over the ledger's closed trades
filtered by account, strategy, symbol root and exit time (domain/analytics).

The starting balance is the account's, or the sum of the accounts' that the trades came
from (an account without one counts as 0); a balance of 0 or less has no percentages, so
it is refused naming `account_id`. The alert's price and time are not joined to each
trade here yet: execution quality comes from the trade trace (`GET /api/trades/<id>`).
"""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.domain.analytics import Metrics, TradeRecord, metrics, trading_day_name
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.errors import InvalidInput
from app.extensions import db
from app.models import BrokerAccount, Strategy, Trade, User
from app.services.insight.trade_filters import product_root

BREAKDOWNS = ("day", "weekday", "hour", "strategy", "symbol")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def analytics_of(
    account_id: int | None,
    strategy_id: int | None,
    symbol: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Metrics:
    rows = _trades(account_id, strategy_id, symbol, start, end)
    records = [_record(row) for row in rows]
    return metrics(records, _balance_for(account_id, rows))


def breakdown(
    by: str,
    account_id: int | None,
    strategy_id: int | None,
    symbol: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[dict]:
    """The trades grouped `by` day (the CME trading day they closed in), weekday (of that
    day), hour (of the exit, in the owner's time zone), strategy or symbol (the product);
    each group's trades, win rate, net P&L and profit factor. Days, weekdays and hours are
    in their order; strategies and symbols ranked by net P&L, best first."""
    if by not in BREAKDOWNS:
        raise InvalidInput(f"by must be one of {', '.join(BREAKDOWNS)}.", {"by": "is unknown"})
    rows = _trades(account_id, strategy_id, symbol, start, end)
    balance = _balance_for(account_id, rows)
    key_of = _grouping(by)
    groups: dict[object, list[TradeRecord]] = {}
    for row in rows:
        groups.setdefault(key_of(row), []).append(_record(row))
    items = []
    for key, records in groups.items():
        found = metrics(records, balance)
        items.append(
            {
                "key": key,
                "trades": found.trades,
                "win_rate": found.win_rate,
                "net_pnl": found.net_pnl,
                "profit_factor": found.profit_factor,
            }
        )
    if by in ("strategy", "symbol"):
        return sorted(items, key=lambda item: item["net_pnl"], reverse=True)
    order = WEEKDAYS.index if by == "weekday" else (lambda key: key)
    return sorted(items, key=lambda item: order(item["key"]))


def _grouping(by: str) -> Callable[[Trade], object]:
    if by == "day":
        return lambda row: trading_day_name(row.exit_time).isoformat()
    if by == "weekday":
        return lambda row: WEEKDAYS[trading_day_name(row.exit_time).weekday()]
    if by == "hour":
        owner = db.session.scalar(select(User).order_by(User.id).limit(1))
        zone = ZoneInfo(owner.timezone if owner else "UTC")
        return lambda row: row.exit_time.astimezone(zone).hour
    if by == "strategy":
        names = dict(db.session.execute(select(Strategy.id, Strategy.name)).all())
        return lambda row: names.get(row.strategy_id, "manual")
    return lambda row: _product(row.symbol)


def _product(code: str) -> str:
    try:
        return resolve_symbol(code, datetime.now().date()).spec.root
    except UnknownSymbol:
        return code


def _balance_for(account_id: int | None, rows: list[Trade]) -> Decimal:
    balance = _starting_balance(account_id, {row.account_id for row in rows})
    if balance <= 0:
        raise InvalidInput(
            "The analytics need a starting balance above 0 (the account's).",
            {"account_id": "has no starting balance"},
        )
    return balance


def _trades(
    account_id: int | None,
    strategy_id: int | None,
    symbol: str | None,
    start: datetime | None,
    end: datetime | None,
) -> list[Trade]:
    query = select(Trade).order_by(Trade.exit_time, Trade.id)
    if account_id is not None:
        query = query.where(Trade.account_id == account_id)
    if strategy_id is not None:
        query = query.where(Trade.strategy_id == strategy_id)
    if symbol:
        query = query.where(Trade.symbol.like(f"{product_root(symbol)}%"))
    if start is not None:
        query = query.where(Trade.exit_time >= start)
    if end is not None:
        query = query.where(Trade.exit_time <= end)
    return list(db.session.scalars(query).all())


def _record(row: Trade) -> TradeRecord:
    return TradeRecord(
        entry_time=row.entry_time,
        exit_time=row.exit_time,
        side=row.side,
        qty=row.quantity,
        entry_price=row.entry_price,
        exit_price=row.exit_price,
        gross_pnl=row.gross_pnl,
        commission=row.commission,
        pnl=row.pnl,
        strategy_id=row.strategy_id,
        symbol=row.symbol,
    )


def _starting_balance(account_id: int | None, seen: set[int]) -> Decimal:
    ids = {account_id} if account_id is not None else seen
    if not ids:  # no trades: the accounts' own, so an empty answer is still well formed
        ids = set(db.session.scalars(select(BrokerAccount.id)))
    balances = db.session.scalars(
        select(BrokerAccount.starting_balance).where(BrokerAccount.id.in_(ids))
    )
    return sum((b or Decimal(0) for b in balances), Decimal(0))
