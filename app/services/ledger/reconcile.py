"""Mirror one real broker account into the database: fills, orders, positions and trades.

`reconcile_account(account, broker, now)` is the position poller's work for one account
(DESIGN §1.4 "the broker is the truth", §4 "Position poller"), paper and Tradovate alike:
what it reads goes through the ledger's `LedgerBatch` (book.py), like every broker
report. For a paper account it finds nothing new — the venue reported as it traded — and
its check against the venue's positions proves the two agree.

The rules:

- **Reads first, all of them.** Account state, positions, working orders, then fills since
  the cursor. A broker error on any read leaves the database untouched and the next run
  starts over; nothing is lost because the cursor lives in the database. Working orders are
  read before fills, so an order that fills between the two reads is still listed and its
  fill is seen: a filled order is never taken for a cancelled one.
- **Cursor.** The account's latest stored fill time minus `FILL_OVERLAP` (before any fill,
  the account's creation time minus it). Reading a fill again is harmless (book.py).
- **Orders.** The row's filled quantity and average price are summed from its fills;
  it is `filled` once they cover its quantity. An order the broker lists takes the broker's
  status, quantity and prices. A row that was `working` before the reads and is no longer
  listed is `cancelled` — "no longer working at the broker" — when nothing of it filled;
  when part of it filled the rest is what was cancelled, and the reason says so (a later
  fill still makes it `filled`). A row not yet known as working (being placed while the
  broker was read) is never cancelled; if fills prove the broker took it, it becomes
  `working` and the next run settles it. Orders the broker lists that are not ours are
  counted, not stored.
- **Positions and trades**: book.py.
- **Check against the broker's positions.** Where our quantity differs from the broker's,
  positions and fills are read once more (in that order): if new fills appeared meanwhile
  they explain the difference and the check waits for the next run; otherwise the row is
  set to the broker's quantity and average price and the correction is audited as a
  warning. A position we did not know of appears marked `manual`.
- The account's cash is mirrored from the broker's account state. Everything is committed
  once; the ledger's events are published after the commit.

The session is committed as it is found: callers hold no half-done work in it.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from app.brokers.base import AccountState, Broker, BrokerFill, BrokerOrder, BrokerPosition
from app.brokers.errors import BrokerError
from app.domain.vocabulary import AuditCategory, OrderStatus, RejectCode, Severity
from app.extensions import db
from app.models import BrokerAccount, Fill, Order
from app.services.ledger.book import FILL_OVERLAP, LedgerBatch, in_chunks, snapshot
from app.services.ledger.trades import price, shown
from app.services.records import audit

logger = logging.getLogger(__name__)

NO_LONGER_WORKING = "no longer working at the broker"
LATE_REJECTION = "rejected by the broker after it had accepted it"
_LISTED_STATUSES = (OrderStatus.WORKING, OrderStatus.PENDING)


@dataclass(frozen=True)
class ReconcileReport:
    """What one run changed; `deferred` says the position check waits for the next run."""

    account_id: int
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
    """Where the next read of the account's fills starts: derived from the database, and
    far enough back to read again the fills whose fees the broker had not yet posted."""
    latest = db.session.scalar(
        select(func.max(Fill.filled_at)).where(Fill.account_id == account.id)
    )
    unposted = db.session.scalar(
        select(func.min(Fill.filled_at)).where(
            Fill.account_id == account.id, Fill.commission.is_(None)
        )
    )
    start = latest if latest is not None else account.created_at
    if unposted is not None:
        start = min(start, unposted)
    return start - FILL_OVERLAP


def reconcile_account(account: BrokerAccount, broker: Broker, now: datetime) -> ReconcileReport:
    """Bring the account's rows to what the broker says; see the module docstring."""
    since = fill_cursor(account)
    working = dict(
        db.session.execute(
            select(Order.id, Order.client_order_id).where(
                Order.account_id == account.id, Order.status == OrderStatus.WORKING.value
            )
        ).all()
    )
    # End the read transaction: rows committed while the broker answers (an order placed
    # meanwhile) must be visible when its fills are linked.
    db.session.commit()
    state = broker.account_state()
    positions = broker.positions()
    listed = broker.working_orders()
    fills = broker.fills_since(since)
    rejected = _rejected_since(broker, working.values(), listed)
    run = _Run(account, broker, now, since, set(working))
    run.rejected = rejected
    try:
        run.apply(state, positions, listed, fills)
        run.finish()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return run.report()


class _Run(LedgerBatch):
    """One reconciliation of one account, inside one transaction."""

    def __init__(
        self,
        account: BrokerAccount,
        broker: Broker,
        now: datetime,
        since: datetime,
        was_working: set[int],
    ) -> None:
        super().__init__(account.id, now)
        self.broker = broker
        self.since = since
        self.was_working = was_working
        self.state: AccountState | None = None
        self.read_fill_ids: set[str] = set()
        self.corrected: list[str] = []
        self.deferred = False
        self.outside_orders = 0
        self.rejected: dict[str, str | None] = {}  # client order id → the broker's words

    def apply(
        self,
        state: AccountState,
        positions: Sequence[BrokerPosition],
        listed: Sequence[BrokerOrder],
        fills: Sequence[BrokerFill],
    ) -> None:
        self.state = state
        self.read_fill_ids = {fill.broker_fill_id for fill in fills}
        self.load_orders([*fills, *listed])
        for chunk in in_chunks(sorted(self.was_working)):
            self._remember(Order.id.in_(chunk))
        touched = {order.id: order for order in self.apply_fills(fills)}
        self._settle_orders(listed, touched)
        self._check_positions(positions)
        self.set_cash(state.cash)

    # Orders against the broker's working list.

    def _settle_orders(self, listed: Sequence[BrokerOrder], touched: dict[int, Order]) -> None:
        at_broker: dict[int, BrokerOrder] = {}
        candidates = {row.id: row for row in self.by_client.values() if row.id in self.was_working}
        candidates.update(touched)
        for order in listed:
            if order.status not in _LISTED_STATUSES:
                continue
            row = self.ours(order)
            if row is None:
                self.outside_orders += 1
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
        for chunk in in_chunks(sorted(order_ids)):
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
        before = snapshot(row)
        if listed is not None:
            row.broker_order_id = row.broker_order_id or listed.broker_order_id
            row.quantity = listed.qty
            row.limit_price = price(listed.limit_price)
            row.stop_price = price(listed.stop_price)
        row.filled_quantity = quantity
        row.avg_fill_price = price(average)
        if quantity and quantity >= row.quantity:
            row.status = OrderStatus.FILLED.value
        elif listed is not None:
            row.status = listed.status.value
        elif row.id in self.was_working and row.client_order_id in self.rejected:
            # Taken, then rejected: the broker's word, stamped for protection to act on.
            row.status = OrderStatus.REJECTED.value
            row.reason = self.rejected[row.client_order_id] or LATE_REJECTION
            row.reject_code = RejectCode.BROKER_REJECTED
            row.rejected_late_at = self.now
        elif row.id in self.was_working or (quantity and row.status == OrderStatus.CANCELLED.value):
            # Working before the reads and not listed after them: done at the broker.
            row.status = OrderStatus.CANCELLED.value
            row.reason = (
                f"{NO_LONGER_WORKING}; {quantity} of {row.quantity} filled"
                if quantity
                else NO_LONGER_WORKING
            )
        elif quantity:
            # Its fills prove the broker took it; the next run's working list settles it.
            row.status = OrderStatus.WORKING.value
        after = snapshot(row)
        if after == before:
            return False
        self.audit_settled(row, before[0])
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
            self.deferred = True
            return
        for symbol in self._mismatched(confirmed):
            self._correct(symbol, confirmed.get(symbol))

    def _mismatched(self, broker: dict[str, BrokerPosition]) -> list[str]:
        ours = {symbol: row.quantity or 0 for symbol, row in self.position_rows().items()}
        symbols = sorted(set(broker) | {s for s, qty in ours.items() if qty})
        return [s for s in symbols if (broker[s].qty if s in broker else 0) != ours.get(s, 0)]

    def _correct(self, symbol: str, truth: BrokerPosition | None) -> None:
        row = self.position_row(symbol)
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
        self.corrected.append(symbol)
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

    def report(self) -> ReconcileReport:
        changes = self.changes
        return ReconcileReport(
            account_id=self.account_id,
            since=self.since,
            new_fills=len(changes.fills),
            orders_changed=len(changes.orders),
            positions_changed=len(changes.positions),
            trades_closed=len(changes.trades),
            corrected=tuple(self.corrected),
            deferred=self.deferred,
            outside_orders=self.outside_orders,
            state=self.state,
        )


def _rejected_since(
    broker: Broker, working: Iterable[str], listed: Sequence[BrokerOrder]
) -> dict[str, str | None]:
    """Of our orders working before the reads and no longer listed, those the broker says
    it rejected, with its words: asked before the transaction, one order at a time (an
    order it cannot tell about settles as no longer working)."""
    still = {order.client_order_id for order in listed}
    rejected: dict[str, str | None] = {}
    for client_order_id in working:
        if client_order_id in still:
            continue
        try:
            found = broker.find_order(client_order_id)
        except BrokerError as exc:
            logger.info("order %s: final state not read: %s", client_order_id, exc.message)
            continue
        if found is not None and found.status is OrderStatus.REJECTED:
            rejected[client_order_id] = found.reason
    return rejected


def _by_symbol(positions: Sequence[BrokerPosition]) -> dict[str, BrokerPosition]:
    """Open positions per symbol (a symbol listed twice is summed)."""
    merged: dict[str, BrokerPosition] = {}
    for position in positions:
        seen = merged.get(position.symbol)
        if seen is not None:
            position = BrokerPosition(position.symbol, seen.qty + position.qty, seen.avg_price)
        merged[position.symbol] = position
    return {symbol: position for symbol, position in merged.items() if position.qty}
