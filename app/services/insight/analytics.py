"""The metrics of DESIGN §5.4 `GET /api/analytics`, over the ledger's closed trades
filtered by account, strategy, symbol root and exit time (domain/analytics).

The starting balance is the account's, or the sum of the accounts' that the trades came
from (an account without one counts as 0); a balance of 0 or less has no percentages, so
it is refused naming `account_id`.

Each trade is read with what its execution quality needs, in a fixed number of queries
whatever the number of trades: its first entry fill (the first fill on its opening side
from its entry time on, less a fill that wholly closed another round trip — the rule of
the trade trace, services/ledger/trace), the alert behind that fill's order (its price
and receipt time) and its contract's tick size and value. The MAE / MFE of the trades in
view are filled in from the bars first (services/insight/excursions).
"""

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from app.domain.analytics import Metrics, TradeRecord, metrics, trading_day_name
from app.domain.contracts import ContractSpec, UnknownSymbol, resolve_symbol
from app.domain.vocabulary import PositionSide, Side
from app.errors import InvalidInput
from app.extensions import db
from app.models import BrokerAccount, Fill, Order, Strategy, Trade, TradeExit, User, WebhookEvent
from app.services.insight.excursions import fill_excursions
from app.services.insight.trade_filters import product_root
from app.services.setup.accounts import get_account
from app.services.setup.strategies import get_strategy

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
    fill_excursions(rows, datetime.now(UTC))
    return metrics(records_of(rows), _balance_for(account_id, rows))


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
    each group's trades, win rate, net P&L, profit factor, expectancy, max drawdown (from
    the same starting balance) and score. Days, weekdays and hours are in their order;
    strategies and symbols ranked by score, best first (see `score`)."""
    if by not in BREAKDOWNS:
        raise InvalidInput(f"by must be one of {', '.join(BREAKDOWNS)}.", {"by": "is unknown"})
    rows = _trades(account_id, strategy_id, symbol, start, end)
    balance = _balance_for(account_id, rows)
    key_of = _grouping(by)
    groups: dict[object, list[TradeRecord]] = {}
    for row, record in zip(rows, records_of(rows), strict=True):
        groups.setdefault(key_of(row), []).append(record)
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
                "expectancy": found.expectancy,
                "max_drawdown": found.max_drawdown,
                "avg_slippage_ticks": found.execution.avg_slippage_ticks,
                "score": score(found.net_pnl, found.trades),
            }
        )
    if by in ("strategy", "symbol"):
        return sorted(items, key=lambda item: (item["score"], item["net_pnl"]), reverse=True)
    order = WEEKDAYS.index if by == "weekday" else (lambda key: key)
    return sorted(items, key=lambda item: order(item["key"]))


def score(net_pnl: Decimal, trades: int) -> float:
    """The rank of a strategy (or product) among others: expectancy × √trades (the same
    as net P&L / √trades), an edge weighed by how many trades show it — 4 trades earning
    $100 each score 200, as do 400 earning $10 each; 100 earning $10 score 100. Rounded to
    0.01: it is a statistic for ordering, not money."""
    return round(float(net_pnl) / math.sqrt(trades), 2) if trades else 0.0


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
        get_account(account_id)  # 404 for an unknown id, not an empty answer
        query = query.where(Trade.account_id == account_id)
    if strategy_id is not None:
        get_strategy(strategy_id)
        query = query.where(Trade.strategy_id == strategy_id)
    if symbol:
        query = query.where(Trade.symbol.like(f"{product_root(symbol)}%"))
    if start is not None:
        query = query.where(Trade.exit_time >= start)
    if end is not None:
        query = query.where(Trade.exit_time <= end)
    return list(db.session.scalars(query).all())


@dataclass(frozen=True)
class _Opening:
    """What a trade's first entry fill knew: the alert behind its order, if any."""

    filled_at: datetime
    alert_price: Decimal | None
    alert_time: datetime | None


def records_of(rows: list[Trade]) -> list[TradeRecord]:
    """The trades as the metrics read them, each with its opening alert's price and time,
    its first entry fill's time, its contract's tick and its excursions (two queries)."""
    openings = _openings(rows)
    specs: dict[str, ContractSpec | None] = {}
    records = []
    for row in rows:
        if row.symbol not in specs:
            specs[row.symbol] = _spec(row.symbol, row.entry_time)
        spec, opening = specs[row.symbol], openings.get(row.id)
        records.append(
            TradeRecord(
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
                alert_price=opening.alert_price if opening else None,
                alert_time=opening.alert_time if opening else None,
                first_fill_time=opening.filled_at if opening else None,
                tick_size=spec.tick_size if spec else None,
                tick_value=spec.tick_value if spec else None,
                mae=row.mae,
                mfe=row.mfe,
            )
        )
    return records


def _spec(symbol: str, when: datetime) -> ContractSpec | None:
    try:
        return resolve_symbol(symbol, when.date()).spec
    except UnknownSymbol:
        return None


def _openings(rows: list[Trade]) -> dict[int, _Opening]:
    """Each trade's first entry fill and the alert behind it, by trade id: the fills of
    the trades' accounts and contracts over their time span (one query, with how much of
    each fill closed other round trips), then their alerts (one query)."""
    if not rows:
        return {}
    closed = (
        select(TradeExit.fill_id, func.sum(TradeExit.quantity).label("qty"))
        .where(TradeExit.fill_id.is_not(None), TradeExit.trade_id.is_not(None))
        .group_by(TradeExit.fill_id)
        .subquery()
    )
    query = (
        select(
            Fill.account_id,
            Fill.symbol,
            Fill.side,
            Fill.quantity,
            Fill.filled_at,
            Order.webhook_event_id,
            func.coalesce(closed.c.qty, 0),
        )
        .outerjoin(Order, Order.id == Fill.order_id)
        .outerjoin(closed, closed.c.fill_id == Fill.id)
        .where(
            Fill.account_id.in_(sorted({row.account_id for row in rows})),
            Fill.symbol.in_(sorted({row.symbol for row in rows})),
            Fill.filled_at >= min(row.entry_time for row in rows),
            Fill.filled_at <= max(row.exit_time for row in rows),
        )
        .order_by(Fill.filled_at, Fill.id)
    )
    # Per account, contract and side: the times of the fills that opened something, oldest
    # first, and the alert behind each.
    opened: dict[tuple[int, str, Side], tuple[list[datetime], list[int | None]]] = {}
    for account_id, symbol, side, qty, filled_at, event_id, closed_qty in db.session.execute(query):
        if int(closed_qty) < qty:
            times, alerts = opened.setdefault((account_id, symbol, Side(side)), ([], []))
            times.append(filled_at)
            alerts.append(event_id)
    firsts: dict[int, tuple[datetime, int | None]] = {}
    for row in rows:
        side = Side.BUY if row.side == PositionSide.LONG else Side.SELL
        times, alerts = opened.get((row.account_id, row.symbol, side), ([], []))
        at = bisect_left(times, row.entry_time)
        if at < len(times) and times[at] <= row.exit_time:
            firsts[row.id] = (times[at], alerts[at])
    events = {event_id for _, event_id in firsts.values() if event_id is not None}
    alerts = {
        event_id: (received_at, (signal or {}).get("price"))
        for event_id, received_at, signal in db.session.execute(
            select(WebhookEvent.id, WebhookEvent.received_at, WebhookEvent.signal).where(
                WebhookEvent.id.in_(sorted(events))
            )
        )
    }
    openings = {}
    for trade_id, (filled_at, event_id) in firsts.items():
        received_at, price = alerts.get(event_id, (None, None))
        openings[trade_id] = _Opening(
            filled_at=filled_at,
            alert_price=Decimal(str(price)) if price is not None else None,
            alert_time=received_at,
        )
    return openings


def _starting_balance(account_id: int | None, seen: set[int]) -> Decimal:
    ids = {account_id} if account_id is not None else seen
    if not ids:  # no trades: the accounts' own, so an empty answer is still well formed
        ids = set(db.session.scalars(select(BrokerAccount.id)))
    balances = db.session.scalars(
        select(BrokerAccount.starting_balance).where(BrokerAccount.id.in_(ids))
    )
    return sum((b or Decimal(0) for b in balances), Decimal(0))
