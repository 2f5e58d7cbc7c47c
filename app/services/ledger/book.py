"""One batch of broker news into DeskPilot's ledger: orders' broker state, fills, positions,
trades — the only code that writes them.

Every broker report goes through a `LedgerBatch`, whoever sent it: the paper venue as it
trades, a broker's answer to a call, the position poller's reading of Tradovate. Rules:

- **Fills** are inserted once by broker fill id (a report seen twice changes nothing). A
  fill is ours when its client order id, or else its broker order id, names an order row
  of the account; a fill stored before its order was known is linked when seen again.
  Fees a broker had not posted yet (commission None) are completed when a later report
  carries them: the fill, and the trade it already closed, take them then.
- **Positions** move through the domain's exact average-cost accounting
  (`positions.apply_fill`) in time order with the contract's point value, from the open
  round trip rebuilt exactly from the stored fills, so partial exits and averages stay
  exact across batches. A round trip reaching zero writes a `trades` row, its exit reason
  from the role of the closing fill's order. The fill that opens a round trip gives the
  position its strategy; one of no order of ours makes it `manual`.
- **Orders**: a broker's statement of an order (`BrokerOrder`) is copied onto our row, but
  a settled row (filled, cancelled, rejected, failed) never moves back to open, and filled
  quantities only grow.
- Nothing is committed here; `finish` queues the `order`, `fill`, `position` and `trade`
  events, which are published once the caller's commit keeps them (ledger.events).
"""

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from app.brokers.base import BrokerFill, BrokerOrder
from app.domain import positions
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.vocabulary import (
    AuditCategory,
    OrderStatus,
    RejectCode,
    Severity,
    Side,
    SnapshotKind,
)
from app.extensions import db
from app.models import BrokerAccount, Fill, Order, Position, Trade, TradeExit
from app.services.ledger import equity, events
from app.services.ledger.trades import (
    domain_fill,
    exit_part,
    money,
    price,
    record_trade,
    shown,
    tie_exits,
)
from app.services.records import audit

logger = logging.getLogger(__name__)

# A round trip's opening fill may be stamped a little before the position row's opening
# time (clocks differ): rebuilding it looks this far back.
FILL_OVERLAP = timedelta(minutes=5)
OPEN = (OrderStatus.PENDING, OrderStatus.WORKING)
# What a broker's answer means when it settles an order this way.
BROKER_CODES = {
    OrderStatus.REJECTED: RejectCode.BROKER_REJECTED,
    OrderStatus.FAILED: RejectCode.BROKER_ERROR,
}
# Stored fills read per query when rebuilding a round trip: a round trip is most often a
# fill or two, so the first page is small and each next one four times larger.
_FIRST_PAGE, _LAST_PAGE = 4, 1024
_IN_CHUNK = 500  # ids per IN (...) clause


@dataclass
class Changes:
    fills: list[tuple[Fill, str | None]] = field(default_factory=list)
    orders: dict[int, Order] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    opened: set[str] = field(default_factory=set)  # symbols flat (or the other way) before
    trades: list[Trade] = field(default_factory=list)


class LedgerBatch:
    """Broker news about one account, applied inside the caller's transaction."""

    def __init__(self, account_id: int, now: datetime) -> None:
        self.account_id = account_id
        self.now = now
        self.by_client: dict[str, Order] = {}
        self.by_broker: dict[str, Order] = {}
        self.rows: dict[str, Position] | None = None
        self.changes = Changes()
        self.point_values: dict[str, Decimal | None] = {}
        self.fill_rows: dict[str, Fill] = {}  # this batch's new fills, by broker fill id
        self.open_parts: dict[str, list[TradeExit]] = {}  # its partial closes, by symbol

    # Orders of ours.

    def load_orders(
        self,
        items: Iterable[BrokerFill | BrokerOrder] = (),
        rows: Iterable[Order] = (),
    ) -> None:
        """Know our rows that `items` name (by client, else broker order id) and `rows`."""
        for row in rows:
            self._keep(row)
        items = list(items)
        client_ids = {x.client_order_id for x in items if x.client_order_id} - set(self.by_client)
        for chunk in in_chunks(sorted(client_ids)):
            self._remember(Order.client_order_id.in_(chunk))
        # Only what our client order id did not name is looked up by the broker's id.
        broker_ids = {
            x.broker_order_id for x in items if x.broker_order_id and self.ours(x) is None
        }
        for chunk in in_chunks(sorted(broker_ids)):
            self._remember(Order.broker_order_id.in_(chunk))

    def _remember(self, condition) -> None:
        query = select(Order).where(Order.account_id == self.account_id, condition)
        for row in db.session.scalars(query):
            self._keep(row)

    def _keep(self, row: Order) -> None:
        self.by_client[row.client_order_id] = row
        if row.broker_order_id:
            self.by_broker.setdefault(row.broker_order_id, row)

    def ours(self, item: BrokerFill | BrokerOrder) -> Order | None:
        row = self.by_client.get(item.client_order_id) if item.client_order_id else None
        if row is None and item.broker_order_id:
            row = self.by_broker.get(item.broker_order_id)
        return row

    def apply_orders(self, answers: Sequence[BrokerOrder]) -> None:
        """Copy each broker statement onto our row, never moving a settled row backwards;
        orders modified while working are audited together, one entry per strategy."""
        modified: dict[int | None, list[Order]] = {}
        written: list[Order] = []
        for answer in answers:
            row = self.ours(answer)
            if row is None:
                logger.debug("account %s: order %s is not ours", self.account_id, answer)
                continue
            before = snapshot(row)
            if self._state(row, answer):
                self.changes.orders[row.id] = row
                if row.id is not None:
                    written.append(row)
                if _terms(before) != _terms(snapshot(row)) and row.status in OPEN:
                    modified.setdefault(row.strategy_id, []).append(row)
        _write_states(written, self.now)
        for strategy_id, rows in modified.items():
            self._audit_modified(strategy_id, rows)

    def _audit_modified(self, strategy_id: int | None, rows: list[Order]) -> None:
        why = rows[0].reason or "modified"
        if len(rows) == 1:
            message = f"{describe(rows[0])} modified: {why}"
            data = {"client_order_id": rows[0].client_order_id, "role": rows[0].role}
        else:
            kind = "stops" if all(row.stop_price is not None for row in rows) else "orders"
            symbols = ", ".join(sorted({row.symbol for row in rows}))
            message = f"{len(rows)} {kind} modified: {why} ({symbols})"
            data = {"stops": {row.client_order_id: shown(row.stop_price) for row in rows}}
        audit.record(
            AuditCategory.ORDER,
            message,
            data=data,
            account_id=self.account_id,
            strategy_id=strategy_id,
        )

    def _state(self, row: Order, answer: BrokerOrder) -> bool:
        before = snapshot(row)
        after = merged(before, answer)
        if after == before:
            return False
        stored = row.id is not None  # else the session's flush inserts it whole
        assign = set_committed_value if stored else setattr  # stored: see _write_states
        for name, was, value in zip(STATE_COLUMNS, before, after, strict=True):
            if value != was:
                assign(row, name, value)
        if row.reject_code is None and row.status in BROKER_CODES:
            assign(row, "reject_code", BROKER_CODES[row.status])
        if row.status == OrderStatus.REJECTED and before[0] == OrderStatus.WORKING:
            # Rejected after the broker had taken it: protection.late_rejections acts on it.
            assign(row, "rejected_late_at", self.now)
        self.audit_settled(row, before[0])
        return True

    def audit_settled(self, row: Order, was: str) -> None:
        """Audit an order's step into cancelled or rejected (fills are audited as fills)."""
        if row.status == was or row.status not in (
            OrderStatus.CANCELLED.value,
            OrderStatus.REJECTED.value,
        ):
            return
        rejected = row.status == OrderStatus.REJECTED.value
        why = row.reason or "no reason given"
        audit.record(
            AuditCategory.ORDER,
            f"{describe(row)} rejected: {why}"
            if rejected
            else f"{row.symbol} {row.role} order cancelled: {why}",
            severity=Severity.WARNING if rejected else Severity.INFO,
            data={"client_order_id": row.client_order_id, "role": row.role},
            account_id=self.account_id,
            strategy_id=row.strategy_id,
        )

    # Fills.

    def apply_fills(self, fills: Sequence[BrokerFill]) -> list[Order]:
        """Insert the new fills and book them; the orders they touch (new or relinked)."""
        self.load_orders(fills)
        new, relinked = self._sort_fills(fills)
        if not new:
            return [order for _, order in relinked]
        symbols = dict.fromkeys(fill.symbol for fill, _ in new)  # in the order they traded
        trips = {symbol: self._open_round_trip(symbol) for symbol in symbols}
        for fill, order in new:
            self._insert_fill(fill, order)
        for symbol, trip in trips.items():
            self._book(symbol, trip, [(f, o) for f, o in new if f.symbol == symbol])
        return [order for _, order in [*new, *relinked] if order is not None]

    def _sort_fills(
        self, fills: Sequence[BrokerFill]
    ) -> tuple[list[tuple[BrokerFill, Order | None]], list[tuple[Fill, Order]]]:
        """New fills oldest first (the broker's order breaks ties), and stored fills of
        no order of ours that now turn out to be ours (linked here)."""
        unique = list({fill.broker_fill_id: fill for fill in fills}.values())
        stored: dict[str, Fill] = {}
        for chunk in in_chunks(sorted(fill.broker_fill_id for fill in unique)):
            query = select(Fill).where(
                Fill.account_id == self.account_id, Fill.broker_fill_id.in_(chunk)
            )
            stored.update({row.broker_fill_id: row for row in db.session.scalars(query)})
        new, relinked = [], []
        for fill in sorted(unique, key=lambda f: f.time):
            order = self.ours(fill)
            row = stored.get(fill.broker_fill_id)
            if row is None:
                new.append((fill, order))
                continue
            if row.commission is None and fill.commission is not None:
                self._complete_fees(row, money(fill.commission))
            if row.order_id is None and order is not None:
                row.order_id = order.id
                relinked.append((row, order))
                logger.info(
                    "account %s: fill %s linked to order %s once it became known",
                    self.account_id,
                    fill.broker_fill_id,
                    order.client_order_id,
                )
        return new, relinked

    def _complete_fees(self, row: Fill, commission: Decimal) -> None:
        """Fees posted after the fill: onto the fill, and onto the trade it already closed
        (a round trip still open takes them from the fill when it closes)."""
        row.commission = commission
        self.changes.fills.append((row, None))
        trade = db.session.scalar(
            select(Trade)
            .where(
                Trade.account_id == self.account_id,
                Trade.symbol == row.symbol,
                Trade.entry_time <= row.filled_at,
                Trade.exit_time >= row.filled_at,
            )
            .order_by(Trade.exit_time)
            .limit(1)
        )
        if trade is not None:
            trade.commission = money(trade.commission + commission)
            trade.pnl = money(trade.gross_pnl - trade.commission)
            self.changes.trades.append(trade)

    def _insert_fill(self, fill: BrokerFill, order: Order | None) -> None:
        if order is not None and order.broker_order_id is None and fill.broker_order_id:
            order.broker_order_id = fill.broker_order_id
        row = Fill(
            account_id=self.account_id,
            order_id=order.id if order is not None else None,
            broker_fill_id=fill.broker_fill_id,
            symbol=fill.symbol,
            side=fill.side.value,
            quantity=fill.qty,
            price=price(fill.price),
            commission=None if fill.commission is None else money(fill.commission),
            filled_at=fill.time,
        )
        db.session.add(row)
        self.fill_rows[fill.broker_fill_id] = row
        self.changes.fills.append((row, order.client_order_id if order is not None else None))
        whose = order.role if order is not None else "outside DeskPilot"
        audit.record(
            AuditCategory.ORDER,
            f"{fill.symbol} {fill.side} {fill.qty} @ {shown(fill.price)} filled ({whose})",
            data={
                "broker_fill_id": fill.broker_fill_id,
                "client_order_id": order.client_order_id if order is not None else None,
                "broker_order_id": fill.broker_order_id,
                "price": shown(fill.price),
                "qty": fill.qty,
            },
            account_id=self.account_id,
            strategy_id=order.strategy_id if order is not None else None,
        )

    # Positions and trades.

    def position_rows(self) -> dict[str, Position]:
        if self.rows is None:
            query = select(Position).where(Position.account_id == self.account_id)
            self.rows = {row.symbol: row for row in db.session.scalars(query)}
        return self.rows

    def position_row(self, symbol: str) -> Position:
        rows = self.position_rows()
        row = rows.get(symbol)
        if row is None:
            row = Position(
                account_id=self.account_id,
                symbol=symbol,
                quantity=0,
                realized_pnl=Decimal(0),
                manual=False,
            )
            db.session.add(row)
            rows[symbol] = row
        return row

    def _open_round_trip(self, symbol: str) -> positions.Position | None:
        """The symbol's position as the stored fills make it, exact; None for an unknown
        contract (its quantity is left to the check against the broker)."""
        point_value = self._point_value(symbol)
        if point_value is None:
            return None
        row = self.position_rows().get(symbol)
        if row is None or not row.quantity:
            realized = row.realized_pnl if row is not None else Decimal(0)
            return positions.Position(symbol, realized_pnl=realized or Decimal(0))
        stored = self._stored_fills_newest_first(symbol)
        return _round_trip(row, stored, point_value)

    def _point_value(self, symbol: str) -> Decimal | None:
        """Money per point of the contract, from the built-in table; None if unknown."""
        if symbol not in self.point_values:
            try:
                spec = resolve_symbol(symbol, self.now.date()).spec
                self.point_values[symbol] = spec.point_value
            except UnknownSymbol:
                self.point_values[symbol] = None
        return self.point_values[symbol]

    def _stored_fills_newest_first(self, symbol: str) -> Iterator[positions.Fill]:
        before: int | None = None
        page_size = _FIRST_PAGE
        while True:
            query = (
                select(Fill, Order.client_order_id)
                .outerjoin(Order, Fill.order_id == Order.id)
                .where(Fill.account_id == self.account_id, Fill.symbol == symbol)
                .order_by(Fill.id.desc())
                .limit(page_size)
            )
            if before is not None:
                query = query.where(Fill.id < before)
            page = db.session.execute(query).all()
            for row, client_order_id in page:
                yield domain_fill(row, client_order_id)
            if len(page) < page_size:
                return
            before = page[-1][0].id
            page_size = min(page_size * 4, _LAST_PAGE)

    def _book(
        self,
        symbol: str,
        trip: positions.Position | None,
        fills: list[tuple[BrokerFill, Order | None]],
    ) -> None:
        if trip is None:
            logger.warning(
                "account %s: %s is not a contract DeskPilot knows; its fills are kept and its "
                "position follows the broker",
                self.account_id,
                symbol,
            )
            return
        point_value = self._point_value(symbol)
        row = self.position_row(symbol)
        position = trip
        for fill, order in fills:
            before = position
            effect = positions.apply_fill(position, _domain_fill(fill, order), point_value)
            position = effect.position
            if effect.closed_qty:
                stored = self.fill_rows[fill.broker_fill_id]
                part = exit_part(
                    self.account_id, stored, order, effect.closed_qty, effect.realized_pnl
                )
                db.session.add(part)
                self.open_parts.setdefault(symbol, []).append(part)
            if effect.trade is not None:
                trade = record_trade(self.account_id, effect.trade, order, row.strategy_id)
                tie_exits(trade, self._untied_parts(symbol, effect.trade.entry_time))
                self.changes.trades.append(trade)
            if position.qty and (before.qty == 0 or (before.qty > 0) != (position.qty > 0)):
                self.changes.opened.add(symbol)
                row.strategy_id = order.strategy_id if order is not None else None
                row.manual = order is None
        row.quantity = position.qty
        row.avg_price = price(position.avg_price)
        row.realized_pnl = money(position.realized_pnl)
        row.opened_at = position.opened_at if position.qty else None
        if not position.qty:
            row.manual = False
        self.changes.positions[symbol] = row

    def _untied_parts(self, symbol: str, opened_at: datetime) -> list[TradeExit]:
        """The partial closes of the round trip opened at `opened_at`: stored by earlier
        batches, and this batch's."""
        query = select(TradeExit).where(
            TradeExit.account_id == self.account_id,
            TradeExit.symbol == symbol,
            TradeExit.trade_id.is_(None),
            TradeExit.exited_at >= opened_at - FILL_OVERLAP,
        )
        with db.session.no_autoflush:
            stored = list(db.session.scalars(query))
        fresh = [part for part in self.open_parts.pop(symbol, []) if part not in stored]
        return stored + fresh

    # The account and the end of the batch.

    def set_cash(self, cash: Decimal | None) -> None:
        if cash is None:
            return
        account = db.session.get(BrokerAccount, self.account_id)
        if account is not None and account.cash_balance != money(cash):
            account.cash_balance = money(cash)

    def finish(self) -> None:
        """Give new rows their ids and queue the batch's events for after the commit."""
        db.session.flush()
        session = db.session()
        for row, client_order_id in self.changes.fills:
            events.queue(session, "fill", events.fill_payload(row, client_order_id))
        for row in self.changes.orders.values():
            events.queue(session, "order", events.order_payload(row))
        for symbol, row in self.changes.positions.items():
            opened = symbol in self.changes.opened and row.quantity != 0
            events.queue(session, "position", events.position_payload(row, opened=opened))
        for row in self.changes.trades:
            events.queue(session, "trade", events.trade_payload(row))
        if self.changes.trades:  # the curve moves with each closed round trip
            last = max(self.changes.trades, key=lambda trade: (trade.exit_time, trade.id))
            equity.take(self.account_id, last.exit_time, SnapshotKind.TRADE, last.id)


STATE_COLUMNS = (
    "status",
    "filled_quantity",
    "avg_fill_price",
    "quantity",
    "limit_price",
    "stop_price",
    "broker_order_id",
    "reason",
)


_WRITE_STATE = (
    update(Order.__table__)
    .where(Order.__table__.c.id == bindparam("_id"))
    .values(
        {
            name: bindparam(name)
            for name in (*STATE_COLUMNS, "reject_code", "rejected_late_at", "updated_at")
        }
    )
)


def _write_states(rows: list[Order], now: datetime) -> None:
    """Write the broker state of many stored orders in one statement. The rows already hold
    it as their committed state (set_committed_value), so the session's flush, which
    costs ten times as much per row, has nothing left to write for them; a rollback
    expires them, as it would after a flush."""
    if not rows:
        return
    db.session.execute(
        _WRITE_STATE,
        [
            {
                "_id": row.id,
                **{name: getattr(row, name) for name in STATE_COLUMNS},
                "reject_code": row.reject_code,
                "rejected_late_at": row.rejected_late_at,
                "updated_at": now,
            }
            for row in rows
        ],
    )


def code_refusal(row: Order) -> None:
    """A row the broker refused or could not take says so in its code, once."""
    if row.reject_code is None:
        row.reject_code = BROKER_CODES.get(row.status)


def snapshot(row: Order) -> tuple:
    """An order's broker state (STATE_COLUMNS), to tell whether a batch changed it."""
    return tuple(getattr(row, name) for name in STATE_COLUMNS)


def merged(state: tuple, answer: BrokerOrder) -> tuple:
    """An order's `snapshot` after the broker's statement of it: a settled order never
    moves back to open (though a fill the broker reports beats our cancel), filled
    quantities only grow, and the broker's reason replaces ours only when it gives one."""
    status, filled, average, qty, limit, stop, broker_id, reason = state
    broker_id = answer.broker_order_id or broker_id
    if status in OPEN:
        status = answer.status.value
        qty = answer.qty
        limit = price(answer.limit_price)
        stop = price(answer.stop_price)
    elif answer.status is OrderStatus.FILLED and status == OrderStatus.CANCELLED.value:
        status = OrderStatus.FILLED.value
    if answer.filled_qty > (filled or 0):
        filled = answer.filled_qty
        average = price(answer.avg_fill_price) or average
    reason = answer.reason or reason
    return (status, filled, average, qty, limit, stop, broker_id, reason)


def _terms(state: tuple) -> tuple:
    """Quantity and prices out of a `snapshot`: what a modification changes."""
    return state[3:6]


def describe(row: Order) -> str:
    """What the order is, in a trader's words: "MESZ6 sell 2 limit 6010"."""
    levels = [shown(p) for p in (row.stop_price, row.limit_price) if p is not None]
    return " ".join([row.symbol, str(row.side), str(row.quantity), str(row.order_type), *levels])


def _round_trip(
    row: Position, newest_first: Iterator[positions.Fill], point_value: Decimal
) -> positions.Position:
    """The open round trip behind a position row, rebuilt exactly from its fills.

    Walking back from the row's quantity, the fill that opened the round trip is the one
    before which the position was flat or on the other side. A round trip that began with a
    correction to the broker's position has no such fill (the walk stops at fills older
    than the row's opening time): the row's average price stands in for its entry.
    """
    qty = row.quantity
    cutoff = row.opened_at - FILL_OVERLAP if row.opened_at is not None else None
    trip: list[positions.Fill] = []
    for fill in newest_first:
        if cutoff is not None and fill.time < cutoff:
            break
        trip.append(fill)
        before = qty - (fill.qty if fill.side is Side.BUY else -fill.qty)
        if before == 0 or (before > 0) != (qty > 0):
            # A flip's closing part only needs a position to close; its P&L is in the row.
            position = positions.Position.from_average(row.symbol, before, fill.price)
            for earlier in reversed(trip):
                position = positions.apply_fill(position, earlier, point_value).position
            return replace(position, realized_pnl=row.realized_pnl or Decimal(0))
        qty = before
    return positions.Position.from_average(
        row.symbol,
        row.quantity,
        row.avg_price,
        realized_pnl=row.realized_pnl or Decimal(0),
        opened_at=row.opened_at,
    )


def _domain_fill(fill: BrokerFill, order: Order | None) -> positions.Fill:
    """The fill as the domain books it: at the stored (column-scaled) price and commission."""
    return positions.Fill(
        fill_id=fill.broker_fill_id,
        client_order_id=order.client_order_id if order is not None else fill.broker_fill_id,
        symbol=fill.symbol,
        side=fill.side,
        qty=fill.qty,
        price=price(fill.price),
        commission=money(fill.commission or Decimal(0)),  # unposted fees: completed later
        time=fill.time,
    )


def in_chunks(values: list) -> Iterator[list]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]
