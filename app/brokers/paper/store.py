"""The paper venue's database side: engine events into rows, and rows back into an engine.

`save` writes one batch of matching-engine events into the shared tables — `orders`,
`fills`, `positions`, `trades`, the account's cash and the audit log — in the current
`db.session` and commits once, so a batch is all there or not at all. It commits the
session as it finds it: callers hold no half-done work in it (order rows are committed
before the broker call, DESIGN §1.3).

Order rows, as the paper venue keeps them:

- The caller inserts a row (status `pending`, no broker order id) and commits before the
  call. Once the venue holds the order the row gets `broker_order_id` "paper-<client id>"
  and the engine's status: `working`, or `pending` for a bracket exit held until its
  entry fills. So `pending` with a broker order id is a held exit; `pending` without one
  has not reached the venue (a crash before the call), and is never restored.
- A bracket's or OCO pair's rows share `group_id`. Rows with role `take_profit` or
  `stop_loss` and a group are reduce-only legs of that OCO group; the group's other row
  (role `entry`, or whichever role the caller chose) is the parent a held exit waits for.
- A stop-limit that has triggered and rests as a limit says so in `reason`
  ("stop triggered at <price>"), which is how a restored engine knows; a request to
  modify it does not overwrite that reason.

Restoring (`load_state`): working and held rows oldest first; positions replayed exactly
from the account's fills for every symbol whose row is open (a flat row keeps its
realized P&L); cash from `broker_accounts.cash_balance`.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, or_, select

from app.brokers.base import BrokerFill, BrokerOrder
from app.brokers.errors import BrokerError
from app.domain import matching
from app.domain.matching import (
    MODIFIED_BY_REQUEST,
    Event,
    OrderAccepted,
    OrderActivated,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    PositionChanged,
    RequestRejected,
    TradeClosed,
)
from app.domain.vocabulary import (
    AuditCategory,
    BrokerKind,
    OrderRole,
    OrderStatus,
    OrderType,
    Severity,
    Side,
)
from app.extensions import db
from app.models import BrokerAccount, Fill, Order, Position
from app.services.ledger import trades as ledger
from app.services.ledger.trades import money, price, shown
from app.services.records import audit

logger = logging.getLogger(__name__)

PAPER_ID_PREFIX = "paper-"
TRIGGERED_PREFIX = "stop triggered at "
EXIT_ROLES = (OrderRole.TAKE_PROFIT, OrderRole.STOP_LOSS)

TermsLookup = Callable[[str], matching.TermsLike | None]


def paper_order_id(client_order_id: str) -> str:
    return f"{PAPER_ID_PREFIX}{client_order_id}"


# Writing events.


def save(
    account_id: int, events: Sequence[Event], cash: Decimal, *, stop_moves: bool = False
) -> None:
    """Apply one batch of engine events and the account's cash; commit once.

    With `stop_moves` (a batch of stop moves, the monitor's tick) the orders moved by
    request are audited together, one entry per strategy naming each order and its new
    stop, instead of one entry per order; each order's row still records its stop.
    """
    _Batch(account_id, events, stop_moves=stop_moves).apply(cash)
    db.session.commit()


class _Batch:
    """One batch of events for one account, with the rows it touches loaded once."""

    def __init__(
        self, account_id: int, events: Sequence[Event], *, stop_moves: bool = False
    ) -> None:
        self.account_id = account_id
        self.events = events
        # strategy id -> (row, order) moved by request, audited together; None: one by one
        self.moved: dict[int | None, list[tuple[Order, matching.Order]]] | None = (
            {} if stop_moves else None
        )
        wanted = {_client_order_id(event) for event in events} - {None}
        wanted |= {event.trade.exit_order_id for event in events if isinstance(event, TradeClosed)}
        self.rows: dict[str, Order] = {
            row.client_order_id: row
            for row in db.session.scalars(
                select(Order).where(
                    Order.account_id == account_id, Order.client_order_id.in_(wanted)
                )
            )
        }
        self.positions: dict[str, Position] = {}
        self.last_filled: dict[str, Order] = {}  # symbol -> row of the latest fill
        self.round_trip_strategy: dict[str, int | None] = {}  # symbol -> strategy of a close

    def apply(self, cash: Decimal) -> None:
        handlers = {
            OrderAccepted: self._accepted,
            OrderActivated: self._activated,
            OrderTriggered: self._triggered,
            OrderModified: self._modified,
            OrderRejected: self._rejected,
            OrderCancelled: self._cancelled,
            RequestRejected: self._request_rejected,
            OrderFilled: self._filled,
            PositionChanged: self._position_changed,
            TradeClosed: self._trade_closed,
        }
        for event in self.events:
            handlers[type(event)](event)
        self._audit_moves()
        account = db.session.get(BrokerAccount, self.account_id)
        if account is not None and account.cash_balance != money(cash):
            account.cash_balance = money(cash)

    # Orders.

    def _accepted(self, event: OrderAccepted) -> None:
        self._sync(event.order)

    def _activated(self, event: OrderActivated) -> None:
        self._sync(event.order)

    def _triggered(self, event: OrderTriggered) -> None:
        row = self._sync(event.order)
        row.reason = f"{TRIGGERED_PREFIX}{shown(event.price)}"

    def _modified(self, event: OrderModified) -> None:
        row = self._sync(event.order)
        if not event.order.triggered:
            row.reason = event.reason
        if self.moved is not None and event.reason == MODIFIED_BY_REQUEST:
            self.moved.setdefault(row.strategy_id, []).append((row, event.order))
            return
        self._audit(row, f"{_describe(event.order)} modified: {event.reason}")

    def _audit_moves(self) -> None:
        """One entry per strategy for the orders moved by request in this batch."""
        for strategy_id, moved in (self.moved or {}).items():
            if len(moved) == 1:
                row, order = moved[0]
                self._audit(row, f"{_describe(order)} modified: {MODIFIED_BY_REQUEST}")
                continue
            symbols = ", ".join(sorted({order.symbol for _, order in moved}))
            audit.record(
                AuditCategory.ORDER,
                f"{len(moved)} stops modified: {MODIFIED_BY_REQUEST} ({symbols})",
                data={
                    "stops": {order.client_order_id: shown(order.stop_price) for _, order in moved},
                },
                account_id=self.account_id,
                strategy_id=strategy_id,
            )

    def _rejected(self, event: OrderRejected) -> None:
        row = self._sync(event.order)
        row.reason = event.reason
        self._audit(
            row, f"{_describe(event.order)} rejected: {event.reason}", severity=Severity.WARNING
        )

    def _cancelled(self, event: OrderCancelled) -> None:
        row = self._sync(event.order)
        row.reason = event.reason
        self._audit(row, f"{_describe(event.order)} cancelled: {event.reason}")

    def _request_rejected(self, event: RequestRejected) -> None:
        row = self.rows.get(event.client_order_id)
        audit.record(
            AuditCategory.ORDER,
            f"{event.request} of {event.client_order_id} refused: {event.reason}",
            severity=Severity.WARNING,
            data={"client_order_id": event.client_order_id, "request": event.request},
            account_id=self.account_id,
            strategy_id=row.strategy_id if row is not None else None,
        )

    def _filled(self, event: OrderFilled) -> None:
        row = self._sync(event.order)
        fill = event.fill
        db.session.add(
            Fill(
                account_id=self.account_id,
                order_id=row.id,
                broker_fill_id=fill.fill_id,
                symbol=fill.symbol,
                side=fill.side,
                quantity=fill.qty,
                price=price(fill.price),
                commission=money(fill.commission),
                filled_at=fill.time,
            )
        )
        self.last_filled[fill.symbol] = row
        self._audit(
            row,
            f"{fill.symbol} {fill.side} {fill.qty} @ {shown(fill.price)} filled ({row.role})",
            data={"fill_id": fill.fill_id, "price": shown(fill.price), "qty": fill.qty},
        )

    # Positions and trades.

    def _position_changed(self, event: PositionChanged) -> None:
        position = event.position
        row = self._position_row(position.symbol)
        before = row.quantity or 0
        if before:
            self.round_trip_strategy[position.symbol] = row.strategy_id
        reopened = position.qty and (before == 0 or (before > 0) != (position.qty > 0))
        opener = self.last_filled.get(position.symbol)
        if reopened and opener is not None:
            row.strategy_id = opener.strategy_id
        row.quantity = position.qty
        row.avg_price = price(position.avg_price)
        row.realized_pnl = money(position.realized_pnl)
        row.opened_at = position.opened_at if position.qty else None

    def _trade_closed(self, event: TradeClosed) -> None:
        trade = event.trade
        closer = self.rows.get(trade.exit_order_id)
        strategy_id = self.round_trip_strategy.get(trade.symbol)
        ledger.record_trade(self.account_id, trade, closer, strategy_id)

    # Rows.

    def _sync(self, order: matching.Order) -> Order:
        """Bring the order's row to the engine's view of it."""
        row = self.rows.get(order.client_order_id) or self._missing_row(order)
        row.status = order.status
        row.quantity = order.qty
        row.limit_price = price(order.limit_price)
        row.stop_price = price(order.stop_price)
        row.filled_quantity = order.filled_qty
        row.avg_fill_price = price(order.avg_fill_price)
        if order.status is not OrderStatus.REJECTED:
            row.broker_order_id = paper_order_id(order.client_order_id)
        return row

    def _missing_row(self, order: matching.Order) -> Order:
        logger.warning(
            "paper account %s: no order row for %s; recording it as a manual order",
            self.account_id,
            order.client_order_id,
        )
        row = Order(
            account_id=self.account_id,
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.qty,
            order_type=order.order_type,
            role=OrderRole.MANUAL,
            group_id=order.oco_group,
            status=order.status,
            filled_quantity=0,
        )
        db.session.add(row)
        db.session.flush()  # its id is needed by the fill rows
        self.rows[order.client_order_id] = row
        return row

    def _position_row(self, symbol: str) -> Position:
        row = self.positions.get(symbol)
        if row is None:
            row = db.session.scalar(
                select(Position).where(
                    Position.account_id == self.account_id, Position.symbol == symbol
                )
            )
            if row is None:
                row = Position(account_id=self.account_id, symbol=symbol, quantity=0)
                db.session.add(row)
            self.positions[symbol] = row
        return row

    def _audit(
        self,
        row: Order,
        message: str,
        *,
        severity: Severity = Severity.INFO,
        data: dict | None = None,
    ) -> None:
        audit.record(
            AuditCategory.ORDER,
            message,
            severity=severity,
            data={"client_order_id": row.client_order_id, "role": row.role, **(data or {})},
            account_id=self.account_id,
            strategy_id=row.strategy_id,
        )


def _client_order_id(event: Event) -> str | None:
    if isinstance(event, RequestRejected):
        return event.client_order_id
    order = getattr(event, "order", None)
    return order.client_order_id if order is not None else None


def _describe(order: matching.Order) -> str:
    """What the order is, in a trader's words: "MESZ6 sell 2 limit 6010"."""
    prices = [shown(p) for p in (order.stop_price, order.limit_price) if p is not None]
    return " ".join([order.symbol, order.side, str(order.qty), order.order_type, *prices])


# Order rows the broker reads before acting.


def order_row(client_order_id: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.client_order_id == client_order_id))


def at_venue(row: Order | None) -> bool:
    """Whether the venue has seen this order (held it, filled it, or refused it)."""
    if row is None:
        return False
    return row.status != OrderStatus.PENDING or row.broker_order_id is not None


def broker_order_from_row(row: Order) -> BrokerOrder:
    return BrokerOrder(
        client_order_id=row.client_order_id,
        broker_order_id=row.broker_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.quantity,
        order_type=OrderType(row.order_type),
        status=OrderStatus(row.status),
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        filled_qty=row.filled_quantity or 0,
        avg_fill_price=row.avg_fill_price,
        reason=row.reason,
    )


def join_group(
    account_id: int, client_order_ids: Sequence[str], default: str, *, legs: Iterable[str]
) -> str:
    """The group the rows share: the first group id they carry, else `default`.

    Rows without a group get it (committed with the next `save`). A leg whose role is not
    take_profit/stop_loss is worked as an OCO leg now but restored as a plain order.
    """
    rows = {
        row.client_order_id: row
        for row in db.session.scalars(
            select(Order).where(
                Order.account_id == account_id, Order.client_order_id.in_(client_order_ids)
            )
        )
    }
    found = [rows[c].group_id for c in client_order_ids if c in rows and rows[c].group_id]
    group = found[0] if found else default
    for client_order_id in client_order_ids:
        row = rows.get(client_order_id)
        if row is None:
            continue
        if row.group_id is None:
            row.group_id = group
        elif row.group_id != group:
            logger.warning("order %s is in group %s, not %s", client_order_id, row.group_id, group)
    for client_order_id in legs:
        row = rows.get(client_order_id)
        if row is not None and row.role not in EXIT_ROLES:
            logger.warning(
                "OCO leg %s has role %s: it will not be restored as an OCO leg",
                client_order_id,
                row.role,
            )
    return group


def cancel_unsent(account_id: int, client_order_id: str, reason: str) -> None:
    """Close a row the venue never needed (a flatten of a flat symbol); commit."""
    row = order_row(client_order_id)
    if row is None or row.account_id != account_id or at_venue(row):
        return
    row.status = OrderStatus.CANCELLED
    row.reason = reason
    audit.record(
        AuditCategory.ORDER,
        f"{row.symbol} {row.role} order cancelled: {reason}",
        data={"client_order_id": client_order_id, "role": row.role},
        account_id=account_id,
        strategy_id=row.strategy_id,
    )
    db.session.commit()


def fills_since(account_id: int, since: datetime) -> list[BrokerFill]:
    """The account's fills at or after `since`, oldest first."""
    query = (
        select(Fill, Order.client_order_id, Order.broker_order_id)
        .outerjoin(Order, Fill.order_id == Order.id)
        .where(Fill.account_id == account_id, Fill.filled_at >= since)
        .order_by(Fill.filled_at, Fill.id)
    )
    return [
        BrokerFill(
            broker_fill_id=fill.broker_fill_id,
            client_order_id=client_order_id,
            broker_order_id=broker_order_id,
            symbol=fill.symbol,
            side=Side(fill.side),
            qty=fill.quantity,
            price=fill.price,
            commission=fill.commission,
            time=fill.filled_at,
        )
        for fill, client_order_id, broker_order_id in db.session.execute(query)
    ]


def last_fill_prices(account_id: int, symbols: Iterable[str]) -> dict[str, Decimal]:
    """The price of the account's latest fill per symbol, where there is one."""
    latest: dict[str, Decimal] = {}
    for symbol in symbols:
        value = db.session.scalar(
            select(Fill.price)
            .where(Fill.account_id == account_id, Fill.symbol == symbol)
            .order_by(Fill.id.desc())
            .limit(1)
        )
        if value is not None:
            latest[symbol] = value
    return latest


# Restoring an engine.


@dataclass(frozen=True)
class EngineState:
    cash: Decimal
    orders: tuple[matching.Order, ...]
    positions: tuple[matching.Position, ...]


def _live_order_filter():
    """Rows the venue holds: working, or pending with a paper id (a held bracket exit)."""
    return or_(
        Order.status == OrderStatus.WORKING,
        and_(Order.status == OrderStatus.PENDING, Order.broker_order_id.is_not(None)),
    )


def active_paper_account_ids() -> list[int]:
    """Paper accounts with orders at the venue or an open position: those a price can move."""
    paper = select(BrokerAccount.id).where(BrokerAccount.broker == BrokerKind.PAPER)
    with_orders = select(Order.account_id).where(Order.account_id.in_(paper), _live_order_filter())
    with_positions = select(Position.account_id).where(
        Position.account_id.in_(paper), Position.quantity != 0
    )
    return sorted(set(db.session.scalars(with_orders.union(with_positions))))


def load_state(account_id: int, terms: TermsLookup) -> EngineState:
    """A paper account's cash, working and held orders and positions, from its rows."""
    account = db.session.get(BrokerAccount, account_id)
    if account is None or account.broker != BrokerKind.PAPER:
        raise BrokerError(f"account {account_id} is not a paper account")
    cash = account.cash_balance
    if cash is None:
        cash = account.starting_balance or Decimal(0)
    return EngineState(cash, _live_orders(account_id), _positions(account_id, terms))


def _live_orders(account_id: int) -> tuple[matching.Order, ...]:
    rows = list(
        db.session.scalars(
            select(Order)
            .where(Order.account_id == account_id, _live_order_filter())
            .order_by(Order.id)
        )
    )
    parents = _group_parents(account_id, {row.group_id for row in rows if row.group_id})
    live = {row.client_order_id for row in rows}
    orders = []
    for row in rows:
        order = _engine_order(row, parents)
        if order.status is OrderStatus.PENDING and order.parent_id not in live:
            logger.error(
                "paper account %s: held exit %s waits for %s, which is not working; "
                "it is left out of the book",
                account_id,
                row.client_order_id,
                order.parent_id,
            )
            continue
        orders.append(order)
    return tuple(orders)


def _group_parents(account_id: int, groups: set[str]) -> dict[str, str]:
    """group id -> client order id of the group's parent (its row that is not an exit)."""
    if not groups:
        return {}
    query = select(Order.group_id, Order.client_order_id).where(
        Order.account_id == account_id,
        Order.group_id.in_(groups),
        Order.role.not_in(EXIT_ROLES),
    )
    parents: dict[str, str] = {}
    for group_id, client_order_id in db.session.execute(query.order_by(Order.id)):
        parents.setdefault(group_id, client_order_id)
    return parents


@dataclass(frozen=True)
class Links:
    """How a row ties into other orders at the venue."""

    oco_group: str | None
    reduce_only: bool


def links(row: Order | None) -> Links:
    """Take-profit and stop-loss rows are reduce-only, and OCO legs of their group."""
    if row is None or row.role not in EXIT_ROLES:
        return Links(None, False)
    return Links(row.group_id, True)


def _engine_order(row: Order, parents: dict[str, str]) -> matching.Order:
    linked = links(row)
    order_type = OrderType(row.order_type)
    reason = row.reason or ""
    return matching.Order(
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.quantity,
        order_type=order_type,
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        oco_group=linked.oco_group,
        reduce_only=linked.reduce_only,
        parent_id=parents.get(linked.oco_group) if linked.oco_group else None,
        status=OrderStatus(row.status),
        triggered=order_type is OrderType.STOP_LIMIT and reason.startswith(TRIGGERED_PREFIX),
    )


def _positions(account_id: int, terms: TermsLookup) -> tuple[matching.Position, ...]:
    rows = db.session.scalars(
        select(Position).where(Position.account_id == account_id).order_by(Position.id)
    )
    positions = []
    for row in rows:
        if not row.quantity:
            positions.append(
                matching.Position(row.symbol, realized_pnl=row.realized_pnl or Decimal(0))
            )
            continue
        spec = terms(row.symbol)
        if spec is None:
            raise BrokerError(f"paper account {account_id}: unknown contract {row.symbol}")
        position = matching.Position.replay(
            row.symbol, _fills(account_id, row.symbol), spec.point_value
        )
        if position.qty != row.quantity:
            logger.error(
                "paper account %s: %s fills add up to %s, the position row says %s; "
                "the fills are kept",
                account_id,
                row.symbol,
                position.qty,
                row.quantity,
            )
        positions.append(position)
    return tuple(positions)


def _fills(account_id: int, symbol: str) -> list[matching.Fill]:
    query = (
        select(Fill, Order.client_order_id)
        .outerjoin(Order, Fill.order_id == Order.id)
        .where(Fill.account_id == account_id, Fill.symbol == symbol)
        .order_by(Fill.id)
    )
    return [
        ledger.domain_fill(fill, client_order_id)
        for fill, client_order_id in db.session.execute(query)
    ]
