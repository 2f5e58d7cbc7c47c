"""The trace of a trade or an alert: the alert as stored, each trader's risk decision, the
orders with our and the broker's ids, their fills, the stage timings and the slippage from
the alert's price — read in a fixed handful of queries, never one per order or fill.

A trade is a flat-to-flat round trip of one account and contract, so its fills are that
contract's fills between its entry and exit times: the exits are the ones its partial
closes (trade_exits) name, the entries those on its opening side — less a fill that only
closed the trade before it, or opened the next one at the very time this one closed.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select

from app.domain import slippage
from app.domain.contracts import ContractSpec, UnknownSymbol, resolve_symbol
from app.domain.slippage import Slippage
from app.domain.vocabulary import OrderRole, PositionSide, RejectCode, Side
from app.extensions import db
from app.models import Fill, Order, Trade, TradeExit, WebhookEvent
from app.services.ledger.trades import ExitShare, exits_of

logger = logging.getLogger(__name__)

# The codes of orders our risk gate refused (trading.orders records them so).
RISK_CODES = frozenset({RejectCode.RISK, RejectCode.HALTED})
# The orders an alert's price stands for; a take profit or stop rests at its own price.
ALERT_PRICED = frozenset({OrderRole.ENTRY, OrderRole.EXIT})
# The alert's stopwatch laps (trading.execution) that each stage ends with.
STORED_LAPS = ("auth", "parse", "store")
RISK_LAPS = ("checks",)
ACCOUNT_LAP = "account_"


@dataclass(frozen=True)
class Stage:
    """A step of an alert's way to the broker, `ms` after it was received."""

    name: str  # received | stored | risk | broker_accepted | filled
    at: datetime
    ms: float


@dataclass(frozen=True)
class Decision:
    """One trader's turn on an alert: passed the risk gate (its orders went on), or not."""

    trader_id: int | None
    account_id: int
    passed: bool
    code: RejectCode | None
    reason: str | None
    stages: list[Stage]


@dataclass(frozen=True)
class AlertStep:
    event: WebhookEvent
    orders: list[Order]  # every order it made, for every trader
    fills: list[Fill]  # theirs, oldest first
    decisions: list[Decision]

    @property
    def price(self) -> Decimal | None:
        value = (self.event.signal or {}).get("price")
        return Decimal(value) if value is not None else None


@dataclass(frozen=True)
class FillStep:
    fill: Fill
    part: str | None  # "entry" or "exit" of the traced trade; None in an alert's trace
    alert_price: Decimal | None  # the price of the alert that placed its order, if priced
    slippage: Slippage | None


@dataclass(frozen=True)
class OrderStep:
    order: Order
    fills: list[FillStep]


@dataclass(frozen=True)
class TradeTrace:
    trade: Trade
    exits: list[ExitShare]
    alert: AlertStep | None  # the alert that opened it; None for a trade opened by hand
    alerts: list[AlertStep]  # every alert behind its orders, oldest first
    orders: list[OrderStep]
    fills: list[FillStep]
    stages: list[Stage]  # the opening alert's, for this account, to the first entry fill
    slippage: Slippage | None  # over the fills of alert-priced orders
    alert_to_fill_ms: float | None


@dataclass(frozen=True)
class AlertTrace:
    alert: AlertStep
    orders: list[OrderStep]
    fills: list[FillStep]
    slippage: Slippage | None
    trades: list[Trade]
    exits: dict[int, list[ExitShare]]


def trade_trace(trade_id: int) -> TradeTrace | None:
    """A closed trade's whole path, or None when there is no such trade."""
    trade = db.session.get(Trade, trade_id)
    if trade is None:
        return None
    parts = _trade_fills(trade)
    orders = _orders_with_siblings(trade.account_id, {f.order_id for f, _ in parts})
    steps = alert_steps({o.webhook_event_id for o in orders.values() if o.webhook_event_id})
    spec = _spec(trade.symbol, trade.entry_time)
    fills = [_fill_step(fill, part, orders, steps, spec) for fill, part in parts]
    opening = _opening_alert(fills, orders, steps)
    first_entry = next((s.fill.filled_at for s in fills if s.part == "entry"), None)
    stages: list[Stage] = []
    if opening is not None:
        decision = next((d for d in opening.decisions if d.account_id == trade.account_id), None)
        stages = decision.stages if decision is not None else []
    return TradeTrace(
        trade=trade,
        exits=exits_of([trade])[trade.id],
        alert=opening,
        alerts=sorted(steps.values(), key=lambda step: step.event.id),
        orders=_order_steps(orders.values(), fills),
        fills=fills,
        stages=stages,
        slippage=slippage.combined(s.slippage for s in fills if s.slippage is not None),
        alert_to_fill_ms=_ms_between(opening.event.received_at, first_entry)
        if opening is not None and first_entry is not None
        else None,
    )


def alert_trace(event_id: int) -> AlertTrace | None:
    """An alert's whole path — its traders' decisions, orders, fills and the trades they
    opened or closed — or None when there is no such alert."""
    steps = alert_steps({event_id})
    step = steps.get(event_id)
    if step is None:
        return None
    orders = {order.id: order for order in step.orders}
    rows = sorted(step.fills, key=lambda fill: (fill.filled_at, fill.id))
    fills = [
        _fill_step(fill, None, orders, steps, _spec(fill.symbol, fill.filled_at)) for fill in rows
    ]
    trades = _trades_of(rows, orders)
    return AlertTrace(
        alert=step,
        orders=_order_steps(orders.values(), fills),
        fills=fills,
        slippage=slippage.combined(s.slippage for s in fills if s.slippage is not None),
        trades=trades,
        exits=exits_of(trades),
    )


def alert_steps(event_ids: set[int]) -> dict[int, AlertStep]:
    """The alerts with every order they made, their fills and each trader's decision
    (three queries)."""
    if not event_ids:
        return {}
    query = select(WebhookEvent).where(WebhookEvent.id.in_(event_ids))
    events = {event.id: event for event in db.session.scalars(query)}
    if not events:
        return {}
    orders: dict[int, list[Order]] = {event_id: [] for event_id in events}
    query = select(Order).where(Order.webhook_event_id.in_(list(events))).order_by(Order.id)
    for order in db.session.scalars(query):
        orders[order.webhook_event_id].append(order)
    fills: dict[int, list[Fill]] = {}
    for fill in _fills_of_orders([o.id for rows in orders.values() for o in rows]):
        fills.setdefault(fill.order_id, []).append(fill)
    return {
        event_id: AlertStep(
            event=event,
            orders=orders[event_id],
            fills=[f for o in orders[event_id] for f in fills.get(o.id, [])],
            decisions=_decisions(event, orders[event_id], fills),
        )
        for event_id, event in events.items()
    }


# The rows of a trade.


def _trade_fills(trade: Trade) -> list[tuple[Fill, str]]:
    """The trade's fills, oldest first, each as its "entry" or "exit"."""
    exit_ids = set(
        db.session.scalars(
            select(TradeExit.fill_id).where(
                TradeExit.trade_id == trade.id, TradeExit.fill_id.is_not(None)
            )
        )
    )
    window = and_(
        Fill.account_id == trade.account_id,
        Fill.symbol == trade.symbol,
        Fill.filled_at >= trade.entry_time,
        Fill.filled_at <= trade.exit_time,
    )
    query = select(Fill).where(or_(window, Fill.id.in_(exit_ids)) if exit_ids else window)
    rows = list(db.session.scalars(query.order_by(Fill.filled_at, Fill.id)))
    closed_others = _closed_elsewhere(trade.id, [row.id for row in rows])
    opening = Side.BUY if trade.side == PositionSide.LONG else Side.SELL
    last_exit = max(exit_ids, default=None)
    parts = []
    for row in rows:
        if row.id in exit_ids or (not exit_ids and row.side != opening):
            parts.append((row, "exit"))  # a trade kept before its partial closes were
        elif (
            row.side == opening
            and closed_others.get(row.id, 0) < row.quantity
            and not (
                last_exit is not None and row.filled_at == trade.exit_time and row.id > last_exit
            )
        ):
            parts.append((row, "entry"))
    return parts


def _closed_elsewhere(trade_id: int, fill_ids: list[int]) -> dict[int, int]:
    """Contracts each fill closed of other round trips (a flip both closes and opens)."""
    if not fill_ids:
        return {}
    query = (
        select(TradeExit.fill_id, func.sum(TradeExit.quantity))
        .where(TradeExit.fill_id.in_(fill_ids), TradeExit.trade_id != trade_id)
        .group_by(TradeExit.fill_id)
    )
    return {fill_id: int(qty) for fill_id, qty in db.session.execute(query)}


def _orders_with_siblings(account_id: int, order_ids: set[int | None]) -> dict[int, Order]:
    """The orders of the fills, with the rest of their brackets (a stop cancelled when the
    take profit filled is part of the story), in one query."""
    ids = [order_id for order_id in order_ids if order_id is not None]
    if not ids:
        return {}
    groups = select(Order.group_id).where(Order.id.in_(ids), Order.group_id.is_not(None))
    query = (
        select(Order)
        .where(
            or_(
                Order.id.in_(ids),
                and_(Order.account_id == account_id, Order.group_id.in_(groups)),
            )
        )
        .order_by(Order.id)
    )
    return {order.id: order for order in db.session.scalars(query)}


def _opening_alert(
    fills: list[FillStep], orders: dict[int, Order], steps: dict[int, AlertStep]
) -> AlertStep | None:
    first = next((s.fill for s in fills if s.part == "entry"), None)
    order = orders.get(first.order_id) if first is not None and first.order_id else None
    if order is None or order.webhook_event_id is None:
        return None
    return steps.get(order.webhook_event_id)


# The rows of an alert.


def _fills_of_orders(order_ids: list[int]) -> list[Fill]:
    if not order_ids:
        return []
    query = select(Fill).where(Fill.order_id.in_(order_ids)).order_by(Fill.filled_at, Fill.id)
    return list(db.session.scalars(query))


def _trades_of(fills: list[Fill], orders: dict[int, Order]) -> list[Trade]:
    """The closed trades the fills belong to: those their partial closes name, and those
    their alert-priced fills opened or added to (two queries)."""
    ids = [fill.id for fill in fills]
    if not ids:
        return []
    closed = select(TradeExit.trade_id).where(
        TradeExit.fill_id.in_(ids), TradeExit.trade_id.is_not(None)
    )
    entries = [f for f in fills if f.order_id and orders[f.order_id].role in ALERT_PRICED]
    condition = Trade.id.in_(closed)
    if entries:
        condition = or_(
            condition,
            and_(
                Trade.account_id.in_({f.account_id for f in entries}),
                Trade.symbol.in_({f.symbol for f in entries}),
                Trade.entry_time <= max(f.filled_at for f in entries),
                Trade.exit_time >= min(f.filled_at for f in entries),
            ),
        )
    exit_trades = set(db.session.scalars(closed))
    found = db.session.scalars(select(Trade).where(condition).order_by(Trade.id))
    return [t for t in found if t.id in exit_trades or any(_opened(t, f) for f in entries)]


def _opened(trade: Trade, fill: Fill) -> bool:
    """Whether `fill` is on `trade`'s opening side within its time."""
    opening = Side.BUY if trade.side == PositionSide.LONG else Side.SELL
    return (
        trade.account_id == fill.account_id
        and trade.symbol == fill.symbol
        and fill.side == opening
        and trade.entry_time <= fill.filled_at <= trade.exit_time
    )


# Decisions, stages and slippage.


def _decisions(
    event: WebhookEvent, orders: list[Order], fills: dict[int, list[Fill]]
) -> list[Decision]:
    by_trader: dict[tuple[int | None, int], list[Order]] = {}
    for order in orders:
        by_trader.setdefault((order.trader_id, order.account_id), []).append(order)
    decisions = []
    for (trader_id, account_id), rows in by_trader.items():
        refused = next((o for o in rows if o.reject_code in RISK_CODES), None)
        filled = [f.filled_at for o in rows if o.role in ALERT_PRICED for f in fills.get(o.id, [])]
        decisions.append(
            Decision(
                trader_id=trader_id,
                account_id=account_id,
                passed=refused is None,
                code=RejectCode(refused.reject_code) if refused is not None else None,
                reason=refused.reason if refused is not None else None,
                stages=stages(event, account_id, refused is None, min(filled, default=None)),
            )
        )
    return decisions


def stages(
    event: WebhookEvent, account_id: int, placed: bool, filled_at: datetime | None
) -> list[Stage]:
    """received → stored → risk → broker accepted → filled for one account, from the
    alert's stopwatch laps: stored once authenticated, parsed and committed; risk once the
    alert's checks (kill switch, age, symbol, traders) passed; broker accepted when the
    account's turn (its own risk check, order rows and broker calls) ended with the
    broker's answer — accounts take their turns one after another — or at the first fill
    if sooner; filled at the first fill of the alert's entry or exit, by the broker's
    clock."""
    received = event.received_at
    laps = event.timings_ms or {}
    found = [Stage("received", received, 0.0)]
    elapsed = 0.0
    for name, keys in (("stored", STORED_LAPS), ("risk", RISK_LAPS)):
        if not all(key in laps for key in keys):
            return found
        elapsed += sum(laps[key] for key in keys)
        found.append(Stage(name, received + timedelta(milliseconds=elapsed), round(elapsed, 3)))
    filled = _ms_between(received, filled_at) if filled_at is not None else None
    turn = _account_turn(laps, account_id)
    if placed and turn is not None:
        # A market order fills inside the broker call, before the turn (exits included)
        # ends: the broker had accepted it by its first fill.
        accepted = min(elapsed + turn, filled) if filled is not None else elapsed + turn
        found.append(
            Stage(
                "broker_accepted",
                received + timedelta(milliseconds=accepted),
                round(accepted, 3),
            )
        )
    if filled_at is not None:
        found.append(Stage("filled", filled_at, filled))
    return found


def _account_turn(laps: dict, account_id: int) -> float | None:
    """Milliseconds from the end of the checks to the end of this account's turn."""
    total = 0.0
    for key, value in laps.items():
        if key.startswith(ACCOUNT_LAP):
            total += value
            if key == f"{ACCOUNT_LAP}{account_id}":
                return total
    return None


def _ms_between(start: datetime, end: datetime) -> float:
    return round((end - start) / timedelta(milliseconds=1), 3)


def _spec(symbol: str, when: datetime) -> ContractSpec | None:
    try:
        return resolve_symbol(symbol, when.date()).spec
    except UnknownSymbol:
        return None


def _fill_step(
    fill: Fill,
    part: str | None,
    orders: dict[int, Order],
    steps: dict[int, AlertStep],
    spec: ContractSpec | None,
) -> FillStep:
    """The fill, and its slippage when an alert's price stands for its order."""
    order = orders.get(fill.order_id) if fill.order_id else None
    step = steps.get(order.webhook_event_id) if order and order.webhook_event_id else None
    if step is None or step.price is None or order.role not in ALERT_PRICED:
        return FillStep(fill, part, None, None)
    if spec is None:
        return FillStep(fill, part, step.price, None)
    moved = slippage.of_fill(Side(fill.side), step.price, fill.price, fill.quantity, spec)
    return FillStep(fill, part, step.price, moved)


def _order_steps(orders: Iterable[Order], fills: list[FillStep]) -> list[OrderStep]:
    by_order: dict[int, list[FillStep]] = {}
    for step in fills:
        if step.fill.order_id is not None:
            by_order.setdefault(step.fill.order_id, []).append(step)
    return [OrderStep(order, by_order.get(order.id, [])) for order in orders]
