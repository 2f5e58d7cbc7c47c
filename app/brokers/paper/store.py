"""The paper venue's books in its own tables: engine events into rows, rows back into an engine.

Only the paper adapter calls this module, and it touches only the `paper_*` tables
(tables.py). What the venue did reaches DeskPilot's orders, fills, positions and trades as
a `BrokerReport` through the ledger, exactly as Tradovate's fills do.

`save` writes one batch of matching-engine events into the current session without
committing: the adapter commits once, after the ledger has applied the same batch, so the
venue's books and DeskPilot's ledger change together or not at all. Each save raises the
account's `version` from the one its engine was loaded at; a save from a copy that another
process has changed since is refused with `StaleBook` (nothing written) and the adapter
reloads and redoes the call.

Restoring (`load_book`): the working and held orders in the order they arrived; positions
replayed exactly from the venue's fills for every symbol that is open (a flat one keeps
its realized P&L); the cash.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import bindparam, insert, select, union, update
from sqlalchemy.dialects import postgresql, sqlite

from app.brokers.base import BrokerFill, BrokerOrder
from app.brokers.errors import TemporaryBrokerError
from app.brokers.paper.tables import PaperAccount, PaperFill, PaperOrder, PaperPosition, PaperQuote
from app.domain import matching
from app.domain.matching import (
    Event,
    OrderFilled,
    OrderTriggered,
    PositionChanged,
    RequestRejected,
    TradeClosed,
)
from app.domain.positions import Fill, Position
from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.extensions import db
from app.models.base import utcnow

logger = logging.getLogger(__name__)

PAPER_ID_PREFIX = "paper-"
PRICE_QUANTUM = Decimal("1e-9")  # the Price columns' scale
MONEY_QUANTUM = Decimal("1e-4")  # the Money columns' scale
LIVE = (OrderStatus.WORKING.value, OrderStatus.PENDING.value)
# The venue's rows are read and written as plain rows through the tables, never as
# session objects that a later read in the same session could return stale.
ORDERS, FILLS, POSITIONS = PaperOrder.__table__, PaperFill.__table__, PaperPosition.__table__
REASON_LENGTH = ORDERS.c.reason.type.length
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}  # the databases we run on

TermsLookup = Callable[[str], matching.TermsLike | None]


class StaleBook(TemporaryBrokerError):
    """Another process changed this paper account since its book was loaded here."""


def paper_order_id(client_order_id: str) -> str:
    return f"{PAPER_ID_PREFIX}{client_order_id}"


def price(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


# Accounts and versions.


@dataclass(frozen=True)
class Book:
    """A paper account's book as stored: what an engine is built from."""

    version: int
    cash: Decimal
    orders: tuple[matching.Order, ...]
    positions: tuple[Position, ...]


def version_of(account_id: int) -> int | None:
    """The stored version of the account's book (None: the venue has not seen it yet)."""
    return db.session.scalar(
        select(PaperAccount.version).where(PaperAccount.account_id == account_id)
    )


def open_account(account_id: int, starting_cash: Decimal) -> None:
    """Create the account's book with its starting cash unless it exists (committed by the
    caller). Two processes may open it at the same moment (a web process's first alert, the
    worker's poll): the later insert waits for the first and then finds its row, where a
    plain insert would fail on the key and fail the alert with it."""
    db.session.execute(
        _insert(PaperAccount)
        .values(account_id=account_id, cash=money(starting_cash), version=0)
        .on_conflict_do_nothing(index_elements=[PaperAccount.account_id])
    )


def load_book(account_id: int, terms: TermsLookup) -> Book:
    """The account's book, read in one go."""
    account = db.session.get(PaperAccount, account_id, populate_existing=True)
    if account is None:
        raise TemporaryBrokerError(f"paper account {account_id} has no book yet")
    rows = db.session.execute(
        select(ORDERS)
        .where(ORDERS.c.account_id == account_id, ORDERS.c.status.in_(LIVE))
        .order_by(ORDERS.c.id)
    )
    return Book(
        version=account.version,
        cash=account.cash,
        orders=tuple(_engine_order(row) for row in rows),
        positions=_positions(account_id, terms),
    )


def _engine_order(row) -> matching.Order:
    """An engine order from a paper_orders row."""
    return matching.Order(
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.quantity,
        order_type=OrderType(row.order_type),
        limit_price=row.limit_price,
        stop_price=row.stop_price,
        oco_group=row.oco_group,
        reduce_only=row.reduce_only,
        parent_id=row.parent_id,
        status=OrderStatus(row.status),
        triggered=row.triggered,
        filled_qty=row.filled_quantity,
        avg_fill_price=row.avg_fill_price,
    )


def _positions(account_id: int, terms: TermsLookup) -> tuple[Position, ...]:
    positions = []
    rows = db.session.execute(
        select(POSITIONS).where(POSITIONS.c.account_id == account_id).order_by(POSITIONS.c.id)
    )
    for row in rows:
        if not row.quantity:
            positions.append(Position(row.symbol, realized_pnl=row.realized_pnl))
            continue
        spec = terms(row.symbol)
        if spec is None:
            raise TemporaryBrokerError(f"paper account {account_id}: unknown contract {row.symbol}")
        replayed = Position.replay(row.symbol, _fills(account_id, row.symbol), spec.point_value)
        if replayed.qty != row.quantity:
            logger.error(
                "paper account %s: %s fills add up to %s, the book says %s; the fills are kept",
                account_id,
                row.symbol,
                replayed.qty,
                row.quantity,
            )
        positions.append(replayed)
    return tuple(positions)


def _fills(account_id: int, symbol: str) -> list[Fill]:
    rows = db.session.execute(
        select(FILLS)
        .where(FILLS.c.account_id == account_id, FILLS.c.symbol == symbol)
        .order_by(FILLS.c.id)
    )
    return [_fill_of(row) for row in rows]


def _fill_of(row) -> Fill:
    """A domain fill from a paper_fills row."""
    return Fill(
        fill_id=row.fill_id,
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.quantity,
        price=row.price,
        commission=row.commission,
        time=row.filled_at,
    )


# Writing a batch.


def save(account_id: int, loaded_version: int, events: Sequence[Event], cash: Decimal) -> int:
    """Write one batch of engine events; the new version. StaleBook when another process
    saved since `loaded_version` (nothing of this batch is kept then)."""
    new_version = loaded_version + 1
    claimed = db.session.execute(
        update(PaperAccount)
        .where(PaperAccount.account_id == account_id, PaperAccount.version == loaded_version)
        .values(version=new_version, cash=money(cash))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise StaleBook(f"paper account {account_id} changed in another process; reloading")
    _Batch(account_id, events).write()
    return new_version


class _Batch:
    """One batch of events for one account, written as a few statements: each order's last
    state in the batch (an UPDATE per known order, an INSERT per new one), the fills, and
    each symbol's last position. Core statements on the tables, so no row of the venue
    ever sits in the session's identity map to be read stale by another call."""

    def __init__(self, account_id: int, events: Sequence[Event]) -> None:
        self.account_id = account_id
        self.events = events

    def write(self) -> None:
        orders: dict[str, dict] = {}
        reasons: dict[str, str] = {}
        fills: list[dict] = []
        positions: dict[str, Position] = {}
        for event in self.events:
            if isinstance(event, (RequestRejected, TradeClosed)):
                continue  # a refused request changes nothing; a trade is the ledger's
            if isinstance(event, PositionChanged):
                positions[event.position.symbol] = event.position
                continue
            orders[event.order.client_order_id] = self._order(event.order)
            reason = event_reason(event)
            if reason:
                reasons[event.order.client_order_id] = reason[:REASON_LENGTH]
            if isinstance(event, OrderFilled):
                fills.append(self._fill(event.fill))
        self._write_orders(orders, reasons)
        if fills:
            db.session.execute(insert(FILLS), fills)
        for position in positions.values():
            self._write_position(position)

    def _write_orders(self, orders: dict[str, dict], reasons: dict[str, str]) -> None:
        if not orders:
            return
        known = dict(
            db.session.execute(
                select(ORDERS.c.client_order_id, ORDERS.c.id).where(
                    ORDERS.c.client_order_id.in_(list(orders))
                )
            ).all()
        )
        new = [
            {**values, "reason": reasons.get(client_id)}
            for client_id, values in orders.items()
            if client_id not in known
        ]
        if new:
            db.session.execute(insert(ORDERS), new)
        changed = [
            (client_id, values) for client_id, values in orders.items() if client_id in known
        ]
        for with_reason in (True, False):  # an order without news keeps its reason
            rows = [
                {
                    **values,
                    "_id": known[client_id],
                    **({"reason": reasons[client_id]} if with_reason else {}),
                }
                for client_id, values in changed
                if (client_id in reasons) is with_reason
            ]
            if rows:
                columns = [name for name in rows[0] if name != "_id"]
                statement = (
                    update(ORDERS)
                    .where(ORDERS.c.id == bindparam("_id"))
                    .values({name: bindparam(name) for name in columns})
                )
                db.session.execute(statement, rows)

    def _order(self, order: matching.Order) -> dict:
        return {
            "account_id": self.account_id,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": order.qty,
            "order_type": order.order_type.value,
            "limit_price": price(order.limit_price),
            "stop_price": price(order.stop_price),
            "oco_group": order.oco_group,
            "reduce_only": order.reduce_only,
            "parent_id": order.parent_id,
            "status": order.status.value,
            "triggered": order.triggered,
            "filled_quantity": order.filled_qty,
            "avg_fill_price": price(order.avg_fill_price),
            "updated_at": utcnow(),
        }

    def _fill(self, fill: Fill) -> dict:
        return {
            "account_id": self.account_id,
            "fill_id": fill.fill_id,
            "client_order_id": fill.client_order_id,
            "symbol": fill.symbol,
            "side": fill.side.value,
            "quantity": fill.qty,
            "price": price(fill.price),
            "commission": money(fill.commission),
            "filled_at": fill.time,
        }

    def _write_position(self, position: Position) -> None:
        values = {"quantity": position.qty, "realized_pnl": money(position.realized_pnl)}
        updated = db.session.execute(
            update(POSITIONS)
            .where(
                POSITIONS.c.account_id == self.account_id,
                POSITIONS.c.symbol == position.symbol,
            )
            .values(values)
        )
        if updated.rowcount == 0:
            db.session.execute(
                insert(POSITIONS).values(
                    account_id=self.account_id, symbol=position.symbol, **values
                )
            )


def _orders_in(events: Iterable[Event]) -> Iterable[matching.Order]:
    for event in events:
        order = getattr(event, "order", None)
        if order is not None:
            yield order


# What the venue reports.


def broker_order(order: matching.Order, reason: str | None = None) -> BrokerOrder:
    placed = order.status is not OrderStatus.REJECTED
    return BrokerOrder(
        client_order_id=order.client_order_id,
        broker_order_id=paper_order_id(order.client_order_id) if placed else None,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_type=order.order_type,
        status=order.status,
        limit_price=order.limit_price,
        stop_price=order.stop_price,
        filled_qty=order.filled_qty,
        avg_fill_price=order.avg_fill_price,
        reason=reason,
    )


def event_reason(event: Event) -> str | None:
    """What a person reads on the order after this event."""
    if isinstance(event, OrderTriggered):
        return f"stop triggered at {format(event.price.normalize(), 'f')}"
    return getattr(event, "reason", None)


def broker_fill(fill: Fill) -> BrokerFill:
    return BrokerFill(
        broker_fill_id=fill.fill_id,
        client_order_id=fill.client_order_id,
        broker_order_id=paper_order_id(fill.client_order_id),
        symbol=fill.symbol,
        side=fill.side,
        qty=fill.qty,
        price=price(fill.price),
        commission=money(fill.commission),
        time=fill.time,
    )


def reported_orders(events: Sequence[Event]) -> tuple[BrokerOrder, ...]:
    """Each order the batch touched, as the last event about it left it, with the last
    reason given for it (a stop-limit triggered and filled in one batch says so)."""
    last: dict[str, BrokerOrder] = {}
    for event in events:
        order = getattr(event, "order", None)
        if order is not None:
            earlier = last.get(order.client_order_id)
            reason = event_reason(event) or (earlier.reason if earlier else None)
            last[order.client_order_id] = broker_order(order, reason)
    return tuple(last.values())


def reported_fills(events: Sequence[Event]) -> tuple[BrokerFill, ...]:
    return tuple(broker_fill(e.fill) for e in events if isinstance(e, OrderFilled))


# Reads for the port.


def find_order(account_id: int, client_order_id: str) -> BrokerOrder | None:
    """The venue's view of one of our orders; None when it never reached the venue."""
    row = db.session.execute(
        select(ORDERS).where(
            ORDERS.c.account_id == account_id, ORDERS.c.client_order_id == client_order_id
        )
    ).first()
    return None if row is None else broker_order(_engine_order(row), row.reason)


def fills_since(account_id: int, since: datetime) -> list[BrokerFill]:
    """The account's fills at or after `since`, oldest first."""
    rows = db.session.execute(
        select(FILLS)
        .where(FILLS.c.account_id == account_id, FILLS.c.filled_at >= since)
        .order_by(FILLS.c.filled_at, FILLS.c.id)
    )
    return [broker_fill(_fill_of(row)) for row in rows]


def active_account_ids() -> list[int]:
    """Paper accounts with live orders or an open position: those a price can move."""
    with_orders = select(PaperOrder.account_id).where(PaperOrder.status.in_(LIVE))
    with_positions = select(PaperPosition.account_id).where(PaperPosition.quantity != 0)
    return sorted(set(db.session.scalars(union(with_orders, with_positions))))


def live_symbols() -> set[str]:
    """Symbols that some paper order or open position still needs quoted."""
    with_orders = select(PaperOrder.symbol).where(PaperOrder.status.in_(LIVE))
    with_positions = select(PaperPosition.symbol).where(PaperPosition.quantity != 0)
    return set(db.session.scalars(union(with_orders, with_positions)))


# Quotes.


def quotes(symbols: Iterable[str]) -> dict[str, tuple[Decimal, datetime]]:
    """The venue's last price and its time per symbol, where it has one."""
    wanted = sorted(set(symbols))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(PaperQuote.symbol, PaperQuote.price, PaperQuote.quoted_at).where(
            PaperQuote.symbol.in_(wanted)
        )
    )
    return {symbol: (value, time) for symbol, value, time in rows}


def write_quote(symbol: str, value: Decimal, time: datetime) -> None:
    """Keep the last price of `symbol` (not committed here), inserted or replaced in one
    statement: two processes' first prints of a symbol (two web processes' first alerts)
    arrive at once, and the loser of a plain insert would leave its alert's session broken."""
    statement = _insert(PaperQuote).values(symbol=symbol, price=price(value), quoted_at=time)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=[PaperQuote.symbol],
            set_={"price": statement.excluded.price, "quoted_at": statement.excluded.quoted_at},
        )
    )


def _insert(table):
    """The database's own INSERT, which can say what a conflict on the key does."""
    return _INSERTS[db.session.get_bind().dialect.name](table)
