"""Mirror one real broker account into the database: fills, orders, positions and trades.

`reconcile_account(account, broker, now)` is the position poller's work for one account
(DESIGN §1.4 "the broker is the truth", §4 "Position poller"). Paper accounts are skipped:
the paper venue writes its rows exactly as it trades.

The rules:

- **Reads first, all of them.** Account state, positions, working orders, then fills since
  the cursor. A broker error on any read leaves the database untouched and the next run
  starts over; nothing is lost because the cursor lives in the database. Working orders are
  read before fills, so an order that fills between the two reads is still listed and its
  fill is seen: a filled order is never taken for a cancelled one.
- **Cursor.** The account's latest stored fill time minus `FILL_OVERLAP` (before any fill,
  the account's creation time minus it). Fills are inserted by broker fill id when new and
  a stored fill is never rewritten, so reading a fill again is harmless.
- **Orders.** A fill is ours when its client order id, or else its broker order id, names an
  order row of the account (a fill stored before its order became known is linked when it
  is read again). The row's filled quantity and average price are summed from its fills;
  it is `filled` once they cover its quantity. An order the broker lists takes the broker's
  status, quantity and prices. A row that was `working` before the reads and is no longer
  listed is `cancelled` — "no longer working at the broker" — when nothing of it filled;
  when part of it filled the rest is what was cancelled, and the reason says so (a later
  fill still makes it `filled`). A row not yet known as working (being placed while the
  broker was read) is never cancelled; if fills prove the broker took it, it becomes
  `working` and the next run settles it. Orders the broker lists that are not ours are
  counted, not stored.
- **Positions.** New fills go through `matching.apply_fill` in time order with the
  contract's point value, starting from the open round trip rebuilt exactly from the stored
  fills (walked back from the row's quantity to the fill that opened it), so partial exits
  and averages over several runs stay exact. A round trip reaching zero writes a `trades`
  row, its exit reason from the role of the closing fill's order. The fill that opens a
  round trip gives the position its strategy; one of no order of ours makes it `manual`.
- **Check against the broker's positions.** Where our quantity differs from the broker's,
  positions and fills are read once more (in that order): if new fills appeared meanwhile
  they explain the difference and the check waits for the next run; otherwise the row is
  set to the broker's quantity and average price and the correction is audited as a
  warning. A position we did not know of appears marked `manual`.
- The account's cash is mirrored from the broker's account state. Everything is committed
  once; `fill`, `order` and `position` events are published after the commit.

The session is committed as it is found: callers hold no half-done work in it.
"""

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.brokers.base import AccountState, Broker, BrokerFill, BrokerOrder, BrokerPosition
from app.domain import matching
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.vocabulary import AuditCategory, BrokerKind, OrderStatus, Severity, Side
from app.extensions import db
from app.models import BrokerAccount, Fill, Order, Position
from app.services.ledger import trades as ledger
from app.services.ledger.trades import money, price, shown
from app.services.records import audit, events

logger = logging.getLogger(__name__)

# Fills can reach the broker's list out of time order (and clocks differ): each run reads
# this far back from the latest fill it already holds.
FILL_OVERLAP = timedelta(minutes=5)
NO_LONGER_WORKING = "no longer working at the broker"
_LISTED_STATUSES = (OrderStatus.WORKING, OrderStatus.PENDING)
_PAGE = 200  # stored fills read per query when rebuilding a round trip
_IN_CHUNK = 500  # ids per IN (...) clause


@dataclass(frozen=True)
class ReconcileReport:
    """What one run changed; `deferred` says the position check waits for the next run."""

    account_id: int
    skipped: bool = False
    since: datetime | None = None
    new_fills: int = 0
    orders_changed: int = 0
    positions_changed: int = 0
    trades_closed: int = 0
    corrected: tuple[str, ...] = ()
    deferred: bool = False
    outside_orders: int = 0
    state: AccountState | None = None


def fill_cursor(account: BrokerAccount) -> datetime:
    """Where the next read of the account's fills starts: derived from the database."""
    latest = db.session.scalar(
        select(func.max(Fill.filled_at)).where(Fill.account_id == account.id)
    )
    return (latest if latest is not None else account.created_at) - FILL_OVERLAP


def reconcile_account(account: BrokerAccount, broker: Broker, now: datetime) -> ReconcileReport:
    """Bring the account's rows to what the broker says; see the module docstring."""
    if account.broker == BrokerKind.PAPER:
        return ReconcileReport(account.id, skipped=True)
    since = fill_cursor(account)
    was_working = set(
        db.session.scalars(
            select(Order.id).where(
                Order.account_id == account.id, Order.status == OrderStatus.WORKING
            )
        )
    )
    # End the read transaction: rows committed while the broker answers (an order placed
    # meanwhile) must be visible when its fills are linked.
    db.session.commit()
    state = broker.account_state()
    positions = broker.positions()
    listed = broker.working_orders()
    fills = broker.fills_since(since)
    run = _Run(account, broker, now, since, was_working)
    try:
        run.apply(state, positions, listed, fills)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    run.publish()
    return run.report()


@dataclass
class _Changes:
    fills: list[Fill] = field(default_factory=list)
    orders: dict[int, Order] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    trades: int = 0
    corrected: list[str] = field(default_factory=list)
    deferred: bool = False
    outside_orders: int = 0


class _Run:
    """One reconciliation of one account, inside one transaction."""

    def __init__(
        self,
        account: BrokerAccount,
        broker: Broker,
        now: datetime,
        since: datetime,
        was_working: set[int],
    ) -> None:
        self.account = account
        self.account_id = account.id
        self.broker = broker
        self.now = now
        self.since = since
        self.was_working = was_working
        self.by_client: dict[str, Order] = {}
        self.by_broker: dict[str, Order] = {}
        self.rows: dict[str, Position] = {}
        self.changes = _Changes()
        self.state: AccountState | None = None
        self.read_fill_ids: set[str] = set()
        self.point_values: dict[str, Decimal | None] = {}

    def apply(
        self,
        state: AccountState,
        positions: Sequence[BrokerPosition],
        listed: Sequence[BrokerOrder],
        fills: Sequence[BrokerFill],
    ) -> None:
        self.state = state
        self.read_fill_ids = {fill.broker_fill_id for fill in fills}
        self._load_orders(fills, listed)
        self.rows = {
            row.symbol: row
            for row in db.session.scalars(
                select(Position).where(Position.account_id == self.account_id)
            )
        }
        new, relinked = self._sort_fills(fills)
        symbols = dict.fromkeys(fill.symbol for fill, _ in new)  # in the order they traded
        trips = {symbol: self._open_round_trip(symbol) for symbol in symbols}
        for fill, order in new:
            self._insert_fill(fill, order)
        for symbol, trip in trips.items():
            self._book(
                symbol, trip, [(fill, order) for fill, order in new if fill.symbol == symbol]
            )
        touched = {order.id: order for _, order in [*new, *relinked] if order is not None}
        self._settle_orders(listed, touched)
        self._check_positions(positions)
        cash = money(state.cash)
        if self.account.cash_balance != cash:
            self.account.cash_balance = cash

    # Orders of ours.

    def _load_orders(self, fills: Sequence[BrokerFill], listed: Sequence[BrokerOrder]) -> None:
        client_ids = {x.client_order_id for x in [*fills, *listed] if x.client_order_id}
        broker_ids = {x.broker_order_id for x in [*fills, *listed] if x.broker_order_id}
        for chunk in _chunks(sorted(client_ids)):
            self._remember(Order.client_order_id.in_(chunk))
        for chunk in _chunks(sorted(broker_ids)):
            self._remember(Order.broker_order_id.in_(chunk))
        if self.was_working:
            for chunk in _chunks(sorted(self.was_working)):
                self._remember(Order.id.in_(chunk))

    def _remember(self, condition) -> None:
        query = select(Order).where(Order.account_id == self.account_id, condition)
        for row in db.session.scalars(query):
            self.by_client[row.client_order_id] = row
            if row.broker_order_id:
                self.by_broker.setdefault(row.broker_order_id, row)

    def _ours(self, item: BrokerFill | BrokerOrder) -> Order | None:
        row = self.by_client.get(item.client_order_id) if item.client_order_id else None
        if row is None and item.broker_order_id:
            row = self.by_broker.get(item.broker_order_id)
        return row

    # Fills.

    def _sort_fills(
        self, fills: Sequence[BrokerFill]
    ) -> tuple[list[tuple[BrokerFill, Order | None]], list[tuple[Fill, Order]]]:
        """New fills oldest first (the broker's order breaks ties), and stored fills of
        no order of ours that now turn out to be ours (linked here)."""
        unique = list({fill.broker_fill_id: fill for fill in fills}.values())
        stored: dict[str, Fill] = {}
        for chunk in _chunks(sorted(fill.broker_fill_id for fill in unique)):
            query = select(Fill).where(
                Fill.account_id == self.account_id, Fill.broker_fill_id.in_(chunk)
            )
            stored.update({row.broker_fill_id: row for row in db.session.scalars(query)})
        new, relinked = [], []
        for fill in sorted(unique, key=lambda f: f.time):
            order = self._ours(fill)
            row = stored.get(fill.broker_fill_id)
            if row is None:
                new.append((fill, order))
            elif row.order_id is None and order is not None:
                row.order_id = order.id
                relinked.append((row, order))
                logger.info(
                    "account %s: fill %s linked to order %s once it became known",
                    self.account_id,
                    fill.broker_fill_id,
                    order.client_order_id,
                )
        return new, relinked

    def _insert_fill(self, fill: BrokerFill, order: Order | None) -> None:
        if order is not None and order.broker_order_id is None and fill.broker_order_id:
            order.broker_order_id = fill.broker_order_id
        row = Fill(
            account_id=self.account_id,
            order_id=order.id if order is not None else None,
            broker_fill_id=fill.broker_fill_id,
            symbol=fill.symbol,
            side=fill.side,
            quantity=fill.qty,
            price=price(fill.price),
            commission=money(fill.commission),
            filled_at=fill.time,
        )
        db.session.add(row)
        self.changes.fills.append(row)
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

    def _position_row(self, symbol: str) -> Position:
        row = self.rows.get(symbol)
        if row is None:
            row = Position(
                account_id=self.account_id,
                symbol=symbol,
                quantity=0,
                realized_pnl=Decimal(0),
                manual=False,
            )
            db.session.add(row)
            self.rows[symbol] = row
        return row

    def _open_round_trip(self, symbol: str) -> matching.Position | None:
        """The symbol's position as the stored fills make it, exact; None for an unknown
        contract (its quantity is left to the check against the broker)."""
        point_value = self._point_value(symbol)
        if point_value is None:
            return None
        row = self.rows.get(symbol)
        if row is None or not row.quantity:
            realized = row.realized_pnl if row is not None else Decimal(0)
            return matching.Position(symbol, realized_pnl=realized or Decimal(0))
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

    def _stored_fills_newest_first(self, symbol: str) -> Iterator[matching.Fill]:
        before: int | None = None
        while True:
            query = (
                select(Fill, Order.client_order_id)
                .outerjoin(Order, Fill.order_id == Order.id)
                .where(Fill.account_id == self.account_id, Fill.symbol == symbol)
                .order_by(Fill.id.desc())
                .limit(_PAGE)
            )
            if before is not None:
                query = query.where(Fill.id < before)
            page = db.session.execute(query).all()
            for row, client_order_id in page:
                yield ledger.domain_fill(row, client_order_id)
            if len(page) < _PAGE:
                return
            before = page[-1][0].id

    def _book(
        self,
        symbol: str,
        trip: matching.Position | None,
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
        row = self._position_row(symbol)
        position = trip
        for fill, order in fills:
            before = position
            effect = matching.apply_fill(position, _broker_fill(fill, order), point_value)
            position = effect.position
            if effect.trade is not None:
                ledger.record_trade(self.account_id, effect.trade, order, row.strategy_id)
                self.changes.trades += 1
            if position.qty and (before.qty == 0 or (before.qty > 0) != (position.qty > 0)):
                row.strategy_id = order.strategy_id if order is not None else None
                row.manual = order is None
        row.quantity = position.qty
        row.avg_price = price(position.avg_price)
        row.realized_pnl = money(position.realized_pnl)
        row.opened_at = position.opened_at if position.qty else None
        if not position.qty:
            row.manual = False
        self.changes.positions[symbol] = row

    # Orders against the broker's working list.

    def _settle_orders(self, listed: Sequence[BrokerOrder], touched: dict[int, Order]) -> None:
        at_broker: dict[int, BrokerOrder] = {}
        candidates = {row.id: row for row in self.by_client.values() if row.id in self.was_working}
        candidates.update(touched)
        for order in listed:
            if order.status not in _LISTED_STATUSES:
                continue
            row = self._ours(order)
            if row is None:
                self.changes.outside_orders += 1
                continue
            at_broker[row.id] = order
            candidates[row.id] = row
        filled = self._filled(list(candidates))
        for row in sorted(candidates.values(), key=lambda row: row.id):
            quantity, average = filled.get(row.id, (0, None))
            if self._settle(row, quantity, average, at_broker.get(row.id)):
                self.changes.orders[row.id] = row

    def _filled(self, order_ids: list[int]) -> dict[int, tuple[int, Decimal | None]]:
        """Each order's filled quantity and exact average fill price, from its fill rows."""
        sums: dict[int, tuple[int, Decimal]] = {}
        for chunk in _chunks(sorted(order_ids)):
            query = select(Fill.order_id, Fill.quantity, Fill.price).where(Fill.order_id.in_(chunk))
            for order_id, quantity, fill_price in db.session.execute(query):
                qty, value = sums.get(order_id, (0, Decimal(0)))
                sums[order_id] = (qty + quantity, value + fill_price * quantity)
        return {
            order_id: (qty, value / qty if qty else None) for order_id, (qty, value) in sums.items()
        }

    def _settle(
        self, row: Order, quantity: int, average: Decimal | None, listed: BrokerOrder | None
    ) -> bool:
        before = (
            row.status,
            row.filled_quantity,
            row.avg_fill_price,
            row.quantity,
            row.limit_price,
            row.stop_price,
            row.broker_order_id,
            row.reason,
        )
        if listed is not None:
            row.broker_order_id = row.broker_order_id or listed.broker_order_id
            row.quantity = listed.qty
            row.limit_price = price(listed.limit_price)
            row.stop_price = price(listed.stop_price)
        row.filled_quantity = quantity
        row.avg_fill_price = price(average)
        if quantity and quantity >= row.quantity:
            row.status = OrderStatus.FILLED
        elif listed is not None:
            row.status = listed.status
        elif row.id in self.was_working or (quantity and row.status == OrderStatus.CANCELLED):
            # Working before the reads and not listed after them: done at the broker.
            row.status = OrderStatus.CANCELLED
            row.reason = (
                f"{NO_LONGER_WORKING}; {quantity} of {row.quantity} filled"
                if quantity
                else NO_LONGER_WORKING
            )
        elif quantity:
            # Its fills prove the broker took it; the next run's working list settles it.
            row.status = OrderStatus.WORKING
        after = (
            row.status,
            row.filled_quantity,
            row.avg_fill_price,
            row.quantity,
            row.limit_price,
            row.stop_price,
            row.broker_order_id,
            row.reason,
        )
        if after == before:
            return False
        if row.status == OrderStatus.CANCELLED and before[0] != row.status:
            audit.record(
                AuditCategory.ORDER,
                f"{row.symbol} {row.role} order cancelled: {row.reason}",
                data={"client_order_id": row.client_order_id, "role": row.role},
                account_id=self.account_id,
                strategy_id=row.strategy_id,
            )
        return True

    # The check against the broker's positions.

    def _check_positions(self, positions: Sequence[BrokerPosition]) -> None:
        if not self._mismatched(_by_symbol(positions)):
            return
        # Positions first, then fills: if no fill appeared since our read, these positions
        # include exactly the fills we booked.
        confirmed = _by_symbol(self.broker.positions())
        again = self.broker.fills_since(self.since)
        if {fill.broker_fill_id for fill in again} - self.read_fill_ids:
            logger.info(
                "account %s: fills arrived while reading; the position check waits a run",
                self.account_id,
            )
            self.changes.deferred = True
            return
        for symbol in self._mismatched(confirmed):
            self._correct(symbol, confirmed.get(symbol))

    def _mismatched(self, broker: dict[str, BrokerPosition]) -> list[str]:
        ours = {symbol: row.quantity or 0 for symbol, row in self.rows.items()}
        symbols = sorted(set(broker) | {s for s, qty in ours.items() if qty})
        return [s for s in symbols if (broker[s].qty if s in broker else 0) != ours.get(s, 0)]

    def _correct(self, symbol: str, truth: BrokerPosition | None) -> None:
        row = self._position_row(symbol)
        counted, counted_avg = row.quantity or 0, row.avg_price
        held = truth.qty if truth is not None else 0
        held_avg = price(truth.avg_price) if truth is not None else None
        if held == 0:
            row.avg_price = None
            row.opened_at = None
            row.manual = False
        else:
            if held_avg is not None:
                row.avg_price = held_avg
            if counted == 0 or (counted > 0) != (held > 0):
                row.manual = True
                row.strategy_id = None
                row.opened_at = self.now
        row.quantity = held
        self.changes.positions[symbol] = row
        self.changes.corrected.append(symbol)
        if counted == 0:
            message = (
                f"{symbol}: the broker holds {held} @ {shown(held_avg)} that DeskPilot has no "
                "fills for (opened outside DeskPilot or before its fills); shown as manual"
            )
        else:
            message = (
                f"{symbol}: DeskPilot counted {counted} @ {shown(counted_avg)}, the broker "
                f"holds {held} @ {shown(held_avg)}; corrected to the broker's"
            )
        audit.record(
            AuditCategory.ORDER,
            message,
            severity=Severity.WARNING,
            data={
                "symbol": symbol,
                "counted": counted,
                "held": held,
                "counted_avg_price": shown(counted_avg),
                "held_avg_price": shown(held_avg),
            },
            account_id=self.account_id,
            strategy_id=row.strategy_id,
        )
        logger.warning("account %s: %s", self.account_id, message)

    # After the commit.

    def publish(self) -> None:
        for row in self.changes.fills:
            events.publish("fill", _fill_event(row))
        for row in self.changes.orders.values():
            events.publish("order", _order_event(row))
        for row in self.changes.positions.values():
            events.publish("position", _position_event(row))

    def report(self) -> ReconcileReport:
        changes = self.changes
        return ReconcileReport(
            account_id=self.account_id,
            since=self.since,
            new_fills=len(changes.fills),
            orders_changed=len(changes.orders),
            positions_changed=len(changes.positions),
            trades_closed=changes.trades,
            corrected=tuple(changes.corrected),
            deferred=changes.deferred,
            outside_orders=changes.outside_orders,
            state=self.state,
        )


def _round_trip(
    row: Position, newest_first: Iterator[matching.Fill], point_value: Decimal
) -> matching.Position:
    """The open round trip behind a position row, rebuilt exactly from its fills.

    Walking back from the row's quantity, the fill that opened the round trip is the one
    before which the position was flat or on the other side. A round trip that began with a
    correction to the broker's position has no such fill (the walk stops at fills older
    than the row's opening time): the row's average price stands in for its entry.
    """
    qty = row.quantity
    cutoff = row.opened_at - FILL_OVERLAP if row.opened_at is not None else None
    trip: list[matching.Fill] = []
    for fill in newest_first:
        if cutoff is not None and fill.time < cutoff:
            break
        trip.append(fill)
        before = qty - (fill.qty if fill.side is Side.BUY else -fill.qty)
        if before == 0 or (before > 0) != (qty > 0):
            # A flip's closing part only needs a position to close; its P&L is in the row.
            position = matching.Position.from_average(row.symbol, before, fill.price)
            for earlier in reversed(trip):
                position = matching.apply_fill(position, earlier, point_value).position
            return replace(position, realized_pnl=row.realized_pnl or Decimal(0))
        qty = before
    return matching.Position.from_average(
        row.symbol,
        row.quantity,
        row.avg_price,
        realized_pnl=row.realized_pnl or Decimal(0),
        opened_at=row.opened_at,
    )


def _broker_fill(fill: BrokerFill, order: Order | None) -> matching.Fill:
    """The fill as the domain books it: at the stored (column-scaled) price and commission."""
    return matching.Fill(
        fill_id=fill.broker_fill_id,
        client_order_id=order.client_order_id if order is not None else fill.broker_fill_id,
        symbol=fill.symbol,
        side=fill.side,
        qty=fill.qty,
        price=price(fill.price),
        commission=money(fill.commission),
        time=fill.time,
    )


def _by_symbol(positions: Sequence[BrokerPosition]) -> dict[str, BrokerPosition]:
    """Open positions per symbol (a symbol listed twice is summed)."""
    merged: dict[str, BrokerPosition] = {}
    for position in positions:
        seen = merged.get(position.symbol)
        if seen is not None:
            position = BrokerPosition(position.symbol, seen.qty + position.qty, seen.avg_price)
        merged[position.symbol] = position
    return {symbol: position for symbol, position in merged.items() if position.qty}


def _chunks(values: list) -> Iterator[list]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _fill_event(row: Fill) -> dict:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "order_id": row.order_id,
        "broker_fill_id": row.broker_fill_id,
        "symbol": row.symbol,
        "side": row.side,
        "qty": row.quantity,
        "price": shown(row.price),
        "commission": shown(row.commission),
        "time": row.filled_at.isoformat(),
    }


def _order_event(row: Order) -> dict:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "symbol": row.symbol,
        "side": row.side,
        "qty": row.quantity,
        "role": row.role,
        "status": row.status,
        "reason": row.reason,
        "filled_qty": row.filled_quantity,
        "avg_fill_price": shown(row.avg_fill_price) if row.avg_fill_price is not None else None,
    }


def _position_event(row: Position) -> dict:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "symbol": row.symbol,
        "qty": row.quantity,
        "avg_price": shown(row.avg_price) if row.avg_price is not None else None,
        "realized_pnl": shown(row.realized_pnl),
        "manual": row.manual,
        "strategy_id": row.strategy_id,
    }
