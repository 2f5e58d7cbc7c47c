"""The paper broker's matching engine: orders against last-trade prices, positions and P&L.

The engine is pure and holds plain data only: the working and held orders, one position
per symbol, the last price per symbol and the cash. Every change comes back as events from
the call that made it (`submit`, `submit_bracket`, `cancel`, `modify`, `modify_stops`,
`on_price`, `flatten`), so an adapter persists exactly those events and rebuilds an engine from its
rows by passing them to the constructor. No clock is read: callers pass `now`.

Fill rules (a print is one last-trade price for one symbol):

- Orders fill whole, unless the engine is given `max_fill_per_print`: then a *resting*
  limit order (a take profit, a working limit entry, a triggered stop-limit resting as a
  limit) that a print reaches fills at most that many contracts per print and keeps
  working for the rest — a last-trade stream carries no volume, so how much trades at
  the limit is the venue's assumption. Orders arriving marketable, market orders and
  stops fill whole. A fill's id is "<client order id>-<contracts filled before it + 1>":
  "-1" for an order's first (or only) fill.
- Market: fills on arrival at the last price moved `slippage_ticks` against the trader
  (buy higher, sell lower). With no price yet for the symbol it is rejected.
- Limit arriving marketable (buy limit at or above the last price, sell mirrors): fills at
  once like a market order capped at its limit, min(limit, last + slippage) for a buy —
  the price improvement a real book gives.
- Limit resting: fills when a print reaches it (buy: print <= limit) at the limit price.
  Between two samples the market may or may not have traded through the limit, so the
  engine gives the less favourable price the order allows: never better than the limit.
- Stop: triggers when a print reaches it (buy: print >= stop) and fills as a market order
  at that print + slippage; a gap through the stop fills at the gapped print, not the stop.
- Stop-limit: triggers like a stop, then is a limit arriving at the trigger print: filled
  at once if marketable (capped at its limit), otherwise it rests as a limit.
- A print off the tick grid (an alert's price) gives a fill rounded onto the grid against
  the trader: buys round up, sells down. Each fill pays `commission_per_contract` x qty.

Validation answers with `OrderRejected` (or `RequestRejected` for cancel/modify), never an
exception: quantity below 1, unknown contract, a price the type needs missing or one it
does not take given, limit/stop prices off the tick grid (rejected, not rounded: the
trader should see what will rest), a buy stop at or below the market or a sell stop at or
above it (CME rejects those: they would trigger at once), a buy stop-limit whose limit is
below its stop (sell mirrors), a reduce-only order that would not reduce the position.

OCO and brackets: when an order of an OCO group fills, every other order of the group is
cancelled; `submit_oco` places a group's orders all or none. A bracket is an entry plus a
take profit (limit) and/or a stop loss (stop) held until the entry fills; they then work as
an OCO pair (or a lone exit) sized to the entry's fill (a held
order's stop is not checked against the market: one at or through it triggers at once on
release rather than leaving the position unprotected). An entry filled in parts releases
its exits at its first fill, sized to what has filled, and grows them with each later part;
an OCO group is cancelled only once one of its orders has filled whole. Exits are
reduce-only: after every fill, a reduce-only order with more left to fill than the position
is cut down to it, and one facing a flat or same-side position is cancelled — closing 1 of
3 by hand leaves a 2-lot OCO pair, and a take profit filled 1 of 2 leaves a 1-lot stop.

Positions and P&L are domain/positions.py's average-cost accounting, shared with the ledger.
Cash = starting cash + realized P&L - commissions; equity = cash + unrealized P&L.
"""

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from app.domain.errors import DomainValidationError
from app.domain.positions import ClosedTrade, Fill, Position, apply_fill
from app.domain.vocabulary import OrderStatus, OrderType, Side

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
_STOP_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT)
MODIFIED_BY_REQUEST = "modified by request"  # the reason of an OrderModified a caller asked for
_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


class TermsLike(Protocol):
    """Anything with a tick size and a point value, such as a contract spec."""

    @property
    def tick_size(self) -> Decimal: ...

    @property
    def point_value(self) -> Decimal: ...


@dataclass(frozen=True)
class ContractTerms:
    """The two facts of a contract the engine needs: price grid and money per point."""

    tick_size: Decimal
    point_value: Decimal


TermsSource = Mapping[str, TermsLike] | Callable[[str], TermsLike | None]


@dataclass(frozen=True)
class Order:
    """An order as the engine knows it; a new one is submitted with the defaults below.

    `status` is PENDING for an order held until `parent_id` fills (a bracket exit) and
    WORKING once it can fill. `triggered` marks a stop-limit resting as a limit.
    """

    client_order_id: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    oco_group: str | None = None
    reduce_only: bool = False
    parent_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING
    triggered: bool = False
    filled_qty: int = 0
    avg_fill_price: Decimal | None = None


# Events: each carries the order's state after the change, for the adapter to upsert.


@dataclass(frozen=True)
class OrderAccepted:
    order: Order
    time: datetime


@dataclass(frozen=True)
class OrderRejected:
    order: Order
    reason: str
    time: datetime


@dataclass(frozen=True)
class OrderActivated:
    """A held bracket exit is released (now WORKING) because its entry filled."""

    order: Order
    time: datetime


@dataclass(frozen=True)
class OrderTriggered:
    order: Order
    price: Decimal
    time: datetime


@dataclass(frozen=True)
class OrderModified:
    order: Order
    reason: str
    time: datetime


@dataclass(frozen=True)
class OrderFilled:
    order: Order
    fill: Fill
    realized_pnl: Decimal


@dataclass(frozen=True)
class OrderCancelled:
    order: Order
    reason: str
    time: datetime


@dataclass(frozen=True)
class RequestRejected:
    """A cancel or modify that changed nothing; `request` is "cancel" or "modify".
    `order_unknown`: no working order has that id (unknown, filled or cancelled)."""

    client_order_id: str
    request: str
    reason: str
    time: datetime
    order_unknown: bool = False


@dataclass(frozen=True)
class PositionChanged:
    position: Position
    time: datetime


@dataclass(frozen=True)
class TradeClosed:
    trade: ClosedTrade


Event = (
    OrderAccepted
    | OrderRejected
    | OrderActivated
    | OrderTriggered
    | OrderModified
    | OrderFilled
    | OrderCancelled
    | RequestRejected
    | PositionChanged
    | TradeClosed
)


class MatchingEngine:
    """One paper account's order book; the constructor also restores persisted state.

    `orders` are the working (WORKING) and held (PENDING) orders in submission order,
    `positions` the positions (flat ones keep their realized P&L), `cash` the current cash.
    """

    def __init__(
        self,
        terms: TermsSource,
        *,
        slippage_ticks: int = 0,
        commission_per_contract: Decimal = ZERO,
        cash: Decimal = ZERO,
        orders: Iterable[Order] = (),
        positions: Iterable[Position] = (),
        last_prices: Mapping[str, Decimal] | None = None,
        max_fill_per_print: int | None = None,
    ) -> None:
        if max_fill_per_print is not None and (
            isinstance(max_fill_per_print, bool)
            or not isinstance(max_fill_per_print, int)
            or max_fill_per_print < 1
        ):
            raise DomainValidationError("max_fill_per_print", "must be a whole number >= 1")
        if isinstance(slippage_ticks, bool) or not isinstance(slippage_ticks, int):
            raise DomainValidationError("slippage_ticks", "must be a whole number of ticks")
        if slippage_ticks < 0:
            raise DomainValidationError("slippage_ticks", "must be 0 or more")
        if not isinstance(commission_per_contract, Decimal) or commission_per_contract < 0:
            raise DomainValidationError("commission_per_contract", "must be a Decimal >= 0")
        self._lookup = terms.get if isinstance(terms, Mapping) else terms
        self._slippage_ticks = slippage_ticks
        self._commission = commission_per_contract
        self._max_fill = max_fill_per_print
        self._cash = cash
        self._positions = {position.symbol: position for position in positions}
        self._last = dict(last_prices or {})
        self._orders: dict[str, Order] = {}
        for order in orders:
            self._restore(order)
        self._check_parents()

    # Queries.

    @property
    def cash(self) -> Decimal:
        return self._cash

    def working_orders(self) -> tuple[Order, ...]:
        """Working and held orders, oldest first."""
        return tuple(self._orders.values())

    def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def positions(self) -> tuple[Position, ...]:
        """Every symbol traded, flat ones included for their realized P&L."""
        return tuple(self._positions.values())

    def position(self, symbol: str) -> Position:
        return self._positions.get(symbol) or Position(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    def unrealized_pnl(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """Open P&L at `marks`, else at the last prices; a position with neither counts 0."""
        total = ZERO
        for position in self._positions.values():
            mark = (marks or {}).get(position.symbol, self._last.get(position.symbol))
            if position.qty and mark is not None:
                point_value = self._terms(position.symbol).point_value
                total += position.unrealized_pnl(mark, point_value)
        return total

    def equity(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        return self._cash + self.unrealized_pnl(marks)

    # Commands.

    def submit(self, order: Order, now: datetime) -> list[Event]:
        """Accept or reject a new order; a marketable one fills in the same call."""
        problem = self._submission_problem(order)
        if problem:
            return [_rejected(order, problem, now)]
        events: list[Event] = []
        self._accept(order, now, events)
        if order.parent_id is None:
            self._sweep(order.symbol, now, events, {order.client_order_id})
        return events

    def submit_bracket(
        self,
        entry: Order,
        take_profit_price: Decimal | None,
        stop_loss_price: Decimal | None,
        now: datetime,
        *,
        take_profit_id: str | None = None,
        stop_loss_id: str | None = None,
        oco_group: str | None = None,
    ) -> list[Event]:
        """Submit an entry with a take profit and/or a stop loss held until it fills.

        Either exit may be None (not both). Exit ids default to "<entry id>-tp" and
        "<entry id>-sl", their OCO group to the entry's id. Either every order is accepted
        or every one is rejected.
        """
        entry_id = entry.client_order_id
        held_exit = Order(
            take_profit_id or f"{entry_id}-tp",
            entry.symbol,
            _opposite(entry.side),
            entry.qty,
            OrderType.LIMIT,
            oco_group=oco_group or entry_id,
            reduce_only=True,
            parent_id=entry_id,
        )
        exits: list[Order] = []
        if take_profit_price is not None:
            exits.append(replace(held_exit, limit_price=take_profit_price))
        if stop_loss_price is not None:
            exits.append(
                replace(
                    held_exit,
                    client_order_id=stop_loss_id or f"{entry_id}-sl",
                    order_type=OrderType.STOP,
                    stop_price=stop_loss_price,
                )
            )
        problem = self._submission_problem(entry) or self._bracket_problem(entry, exits)
        if problem:
            exit_reason = f"bracket entry {entry_id} rejected: {problem}"
            return [_rejected(entry, problem, now)] + [
                _rejected(order, exit_reason, now) for order in exits
            ]
        events: list[Event] = []
        for order in (entry, *exits):
            self._accept(order, now, events)
        self._sweep(entry.symbol, now, events, {entry_id})
        return events

    def submit_oco(self, orders: Sequence[Order], oco_group: str, now: datetime) -> list[Event]:
        """Submit orders that cancel each other, all accepted or all rejected.

        Each order joins `oco_group` and is checked as `submit` would check it; they start
        working together, so a marketable one fills at once and cancels the rest.
        """
        grouped = [replace(order, oco_group=oco_group) for order in orders]
        problem = self._oco_problem(grouped, oco_group)
        if problem:
            return [_rejected(order, problem, now) for order in grouped]
        events: list[Event] = []
        for order in grouped:
            self._accept(order, now, events)
        arriving = {order.client_order_id for order in grouped}
        for symbol in dict.fromkeys(order.symbol for order in grouped):
            self._sweep(symbol, now, events, arriving)
        return events

    def cancel(self, client_order_id: str, now: datetime) -> list[Event]:
        """Cancel a working or held order; held exits of a cancelled entry go with it."""
        order = self._orders.get(client_order_id)
        if order is None:
            return [_not_working(client_order_id, "cancel", now)]
        events: list[Event] = []
        self._cancel(order, "cancelled by request", now, events)
        return events

    def modify(
        self,
        client_order_id: str,
        now: datetime,
        *,
        qty: int | None = None,
        limit_price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> list[Event]:
        """Change quantity or prices; the changed order is re-matched as if it just arrived."""
        return self._modify(client_order_id, now, qty, limit_price, stop_price, sweep=True)

    def _modify(
        self,
        client_order_id: str,
        now: datetime,
        qty: int | None,
        limit_price: Decimal | None,
        stop_price: Decimal | None,
        *,
        sweep: bool,
    ) -> list[Event]:
        order = self._orders.get(client_order_id)
        if order is None:
            return [_not_working(client_order_id, "modify", now)]
        problem = _modify_problem(order, qty, limit_price, stop_price)
        changed = replace(
            order,
            qty=order.qty if qty is None else qty,
            limit_price=order.limit_price if limit_price is None else limit_price,
            stop_price=order.stop_price if stop_price is None else stop_price,
        )
        problem = problem or self._order_problem(changed)
        if problem:
            return [RequestRejected(client_order_id, "modify", problem, now)]
        events: list[Event] = [OrderModified(self._put(changed), MODIFIED_BY_REQUEST, now)]
        if qty is not None:
            for child in self._held_children(client_order_id):
                resized = self._put(replace(child, qty=qty))
                events.append(OrderModified(resized, "follows its entry's quantity", now))
        if sweep and changed.status is OrderStatus.WORKING:
            self._sweep(changed.symbol, now, events, {client_order_id})
        return events

    def modify_stops(self, changes: Iterable[tuple[str, Decimal]], now: datetime) -> list[Event]:
        """Move many stops: the same events as `modify(id, now, stop_price=...)` for each
        change in turn, without a sweep per change.

        A book with nothing its last price reaches (what every sweep leaves) gains nothing
        matchable from a stop move the rules accept (a new stop may not touch the market),
        so a symbol is checked once and, while it stays quiet, moves skip the sweep. A
        symbol that is not quiet (a book just restored) gets `modify` as is, sweep included;
        and a sweep that did anything (a fill activating an entry's exits, which may be in
        another symbol) makes every symbol be checked again.
        """
        events: list[Event] = []
        quiet: set[str] = set()
        for client_order_id, stop_price in changes:
            order = self._orders.get(client_order_id)
            if order is not None and order.symbol not in quiet and self._quiet(order.symbol):
                quiet.add(order.symbol)
            sweep = order is None or order.symbol not in quiet
            done = self._modify(client_order_id, now, None, None, stop_price, sweep=sweep)
            if sweep and any(not isinstance(event, OrderModified) for event in done):
                quiet.clear()
            events += done
        return events

    def on_price(self, symbol: str, price: Decimal, now: datetime) -> list[Event]:
        """Record a print and fill, trigger or release whatever it reaches."""
        if not isinstance(price, Decimal) or not price.is_finite():
            raise DomainValidationError("price", f"must be a finite Decimal, got {price!r}")
        self._last[symbol] = price
        events: list[Event] = []
        self._sweep(symbol, now, events, set())
        return events

    def flatten(self, symbol: str, client_order_id: str, now: datetime) -> list[Event]:
        """Cancel the symbol's orders and close its position with a market order."""
        events: list[Event] = []
        for order in [o for o in self._orders.values() if o.symbol == symbol]:
            if order.client_order_id in self._orders:
                self._cancel(order, f"{symbol} flattened", now, events)
        qty = self.position(symbol).qty
        if qty:
            side = Side.SELL if qty > 0 else Side.BUY
            closing = Order(client_order_id, symbol, side, abs(qty), OrderType.MARKET)
            events.extend(self.submit(closing, now))
        return events

    # Validation.

    def _submission_problem(self, order: Order) -> str | None:
        if not order.client_order_id:
            return "client order id is empty"
        if order.client_order_id in self._orders:
            return f"client order id {order.client_order_id} is already in use"
        if order.parent_id is not None and order.parent_id not in self._orders:
            return f"parent order {order.parent_id} is not working"
        status = OrderStatus.PENDING if order.parent_id else OrderStatus.WORKING
        return self._order_problem(replace(order, status=status))

    def _order_problem(self, order: Order) -> str | None:
        """What is wrong with `order` as it would stand in the book, if anything."""
        terms = self._lookup(order.symbol)
        if terms is None:
            return f"unknown contract {order.symbol}"
        problem = _shape_problem(order, terms.tick_size)
        if problem or order.status is OrderStatus.PENDING:
            return problem
        return self._market_problem(order)

    def _market_problem(self, order: Order) -> str | None:
        last = self._last.get(order.symbol)
        if order.order_type is OrderType.MARKET and last is None:
            return f"no price for {order.symbol} yet"
        if order.order_type in _STOP_TYPES and not order.triggered and last is not None:
            if _touched_stop(order.side, last, order.stop_price):
                side = "at or below" if order.side is Side.BUY else "at or above"
                return (
                    f"{order.side} stop {order.stop_price} is {side} the market {last}; "
                    "it would trigger at once"
                )
        if order.reduce_only:
            return self._reduce_only_problem(order)
        return None

    def _reduce_only_problem(self, order: Order) -> str | None:
        held = self.position(order.symbol).qty
        if held == 0 or (held > 0) == (order.side is Side.BUY):
            wanted = "short" if order.side is Side.BUY else "long"
            return f"reduce-only {order.side} needs a {wanted} position in {order.symbol}"
        if order.qty > abs(held):
            return f"reduce-only quantity {order.qty} exceeds the {abs(held)}-lot position"
        return None

    def _bracket_problem(self, entry: Order, exits: Sequence[Order]) -> str | None:
        if not exits:
            return "a bracket needs a take profit or a stop loss"
        ids = {entry.client_order_id, *(order.client_order_id for order in exits)}
        if len(ids) < 1 + len(exits) or ids & self._orders.keys():
            return "bracket order ids must be distinct and unused"
        tick = self._terms(entry.symbol).tick_size
        for order in exits:
            name = "take profit" if order.order_type is OrderType.LIMIT else "stop loss"
            problem = _shape_problem(order, tick)
            if problem:
                return f"{name}: {problem}"
        reference = _reference_price(entry, self._last.get(entry.symbol))
        if reference is None:
            return None
        tp = next((o.limit_price for o in exits if o.order_type is OrderType.LIMIT), None)
        sl = next((o.stop_price for o in exits if o.order_type is OrderType.STOP), None)
        buy = entry.side is Side.BUY
        low, high = (sl, tp) if buy else (tp, sl)
        if (low is None or low < reference) and (high is None or reference < high):
            return None
        low_name, high_name = ("stop loss", "take profit") if buy else ("take profit", "stop loss")
        parts = [] if low is None else [f"{low_name} {low}"]
        parts.append(f"entry {reference}")
        parts += [] if high is None else [f"{high_name} {high}"]
        return f"a {entry.side} bracket needs {' < '.join(parts)}"

    def _oco_problem(self, orders: Sequence[Order], oco_group: str) -> str | None:
        if len(orders) < 2:
            return "an OCO group needs at least two orders"
        ids = {order.client_order_id for order in orders}
        if len(ids) < len(orders):
            return "OCO order ids must be distinct"
        if any(order.oco_group == oco_group for order in self._orders.values()):
            return f"OCO group {oco_group} is already in use"
        for order in orders:
            if order.parent_id is not None:
                return f"{order.client_order_id}: an OCO order cannot wait for a parent"
            problem = self._submission_problem(order)
            if problem:
                return f"{order.client_order_id}: {problem}"
        return None

    # The book.

    def _accept(self, order: Order, now: datetime, events: list[Event]) -> None:
        status = OrderStatus.PENDING if order.parent_id else OrderStatus.WORKING
        accepted = self._put(replace(order, status=status, triggered=False, filled_qty=0))
        events.append(OrderAccepted(accepted, now))

    def _sweep(self, symbol: str, now: datetime, events: list[Event], arriving: set[str]) -> None:
        """Match every working order of `symbol` against its last price, each at most once.

        `arriving` holds orders entering the book in this call (new, modified, released,
        just triggered): a marketable limit among them fills at the print, not its limit.
        Fills release exits and cancel siblings, so the pass repeats until nothing is new.
        """
        price = self._last.get(symbol)
        if price is None:
            return
        examined: set[str] = set()
        while batch := self._unexamined(symbol, examined):
            for client_order_id in batch:
                examined.add(client_order_id)
                order = self._orders.get(client_order_id)
                if order is not None and order.status is OrderStatus.WORKING:
                    self._match(order, price, now, events, arriving)

    def _quiet(self, symbol: str) -> bool:
        """Whether a sweep of `symbol` at its last price would find nothing to do."""
        price = self._last.get(symbol)
        return price is None or not any(
            _reached(order, price)
            for order in self._orders.values()
            if order.symbol == symbol and order.status is OrderStatus.WORKING
        )

    def _unexamined(self, symbol: str, examined: set[str]) -> list[str]:
        return [
            order.client_order_id
            for order in self._orders.values()
            if order.symbol == symbol
            and order.status is OrderStatus.WORKING
            and order.client_order_id not in examined
        ]

    def _match(
        self, order: Order, price: Decimal, now: datetime, events: list[Event], arriving: set[str]
    ) -> None:
        if order.order_type in _STOP_TYPES and not order.triggered:
            if not _touched_stop(order.side, price, order.stop_price):
                return
            order = self._put(replace(order, triggered=True))
            events.append(OrderTriggered(order, price, now))
            arriving.add(order.client_order_id)
        arrived = order.client_order_id in arriving
        fill_price = self._fill_price(order, price, arrived)
        if fill_price is not None:
            resting = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and not arrived
            qty = order.qty - order.filled_qty
            if resting and self._max_fill is not None:
                qty = min(qty, self._max_fill)
            self._execute(order, fill_price, qty, now, events, arriving)

    def _fill_price(self, order: Order, price: Decimal, arriving: bool) -> Decimal | None:
        tick = self._terms(order.symbol).tick_size
        slippage = _direction(order.side) * self._slippage_ticks * tick
        as_market = _round_against(order.side, price + slippage, tick)
        if order.order_type in (OrderType.MARKET, OrderType.STOP):
            return as_market
        limit = order.limit_price
        if limit is None or not _reached_limit(order.side, price, limit):
            return None
        return _capped(order.side, as_market, limit) if arriving else limit

    def _execute(
        self,
        order: Order,
        price: Decimal,
        qty: int,
        now: datetime,
        events: list[Event],
        arriving: set[str],
    ) -> None:
        """Fill `qty` contracts of `order` at `price`: the whole rest of it, or a part that
        leaves it working."""
        fill = Fill(
            fill_id=f"{order.client_order_id}-{order.filled_qty + 1}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=qty,
            price=price,
            commission=self._commission * qty,
            time=now,
        )
        point_value = self._terms(order.symbol).point_value
        effect = apply_fill(self.position(order.symbol), fill, point_value)
        self._positions[order.symbol] = effect.position
        self._cash += effect.realized_pnl - fill.commission
        filled_qty = order.filled_qty + qty
        average = price
        if order.filled_qty:
            average = (order.avg_fill_price * order.filled_qty + price * qty) / filled_qty
        whole = filled_qty == order.qty
        filled = replace(
            order,
            status=OrderStatus.FILLED if whole else OrderStatus.WORKING,
            filled_qty=filled_qty,
            avg_fill_price=average,
        )
        if whole:
            del self._orders[order.client_order_id]
        else:
            self._put(filled)
        events.append(OrderFilled(filled, fill, effect.realized_pnl))
        events.append(PositionChanged(effect.position, now))
        if effect.trade is not None:
            events.append(TradeClosed(effect.trade))
        if whole:
            self._cancel_siblings(filled, now, events)
        self._release_children(filled, now, events, arriving)
        self._fit_reduce_only(order.symbol, now, events)

    def _cancel_siblings(self, filled: Order, now: datetime, events: list[Event]) -> None:
        if filled.oco_group is None:
            return
        for order in list(self._orders.values()):
            if order.oco_group == filled.oco_group and order.client_order_id in self._orders:
                self._cancel(order, f"OCO: {filled.client_order_id} filled", now, events)

    def _release_children(
        self, parent: Order, now: datetime, events: list[Event], arriving: set[str]
    ) -> None:
        """Exits held for `parent` start working sized to what has filled of it; those
        already working (an entry filled in parts) grow to it."""
        for child in self._held_children(parent.client_order_id):
            released = replace(child, status=OrderStatus.WORKING, qty=parent.filled_qty)
            events.append(OrderActivated(self._put(released), now))
            arriving.add(child.client_order_id)
        for child in list(self._orders.values()):
            working = child.status is OrderStatus.WORKING and not child.filled_qty
            if child.parent_id == parent.client_order_id and working:
                if child.qty < parent.filled_qty:
                    grown = self._put(replace(child, qty=parent.filled_qty))
                    events.append(OrderModified(grown, "sized to the entry's fill", now))

    def _fit_reduce_only(self, symbol: str, now: datetime, events: list[Event]) -> None:
        held = self.position(symbol).qty
        for order in list(self._orders.values()):
            if order.symbol != symbol or not order.reduce_only:
                continue
            if order.status is not OrderStatus.WORKING:
                continue
            if held == 0 or (held > 0) == (order.side is Side.BUY):
                self._cancel(order, "reduce-only: no position left to reduce", now, events)
            elif order.qty - order.filled_qty > abs(held):  # what is left of it to fill
                fitted = self._put(replace(order, qty=order.filled_qty + abs(held)))
                reason = f"reduce-only: cut to the {abs(held)}-lot position"
                events.append(OrderModified(fitted, reason, now))

    def _cancel(self, order: Order, reason: str, now: datetime, events: list[Event]) -> None:
        del self._orders[order.client_order_id]
        events.append(OrderCancelled(replace(order, status=OrderStatus.CANCELLED), reason, now))
        for child in self._held_children(order.client_order_id):
            self._cancel(child, f"entry {order.client_order_id} was cancelled", now, events)

    def _held_children(self, parent_id: str) -> list[Order]:
        return [
            order
            for order in self._orders.values()
            if order.parent_id == parent_id and order.status is OrderStatus.PENDING
        ]

    def _put(self, order: Order) -> Order:
        self._orders[order.client_order_id] = order
        return order

    # Restoring and contract terms.

    def _restore(self, order: Order) -> None:
        if order.status not in (OrderStatus.WORKING, OrderStatus.PENDING):
            raise DomainValidationError("orders", f"{order.client_order_id} is {order.status}")
        if order.client_order_id in self._orders:
            raise DomainValidationError("orders", f"{order.client_order_id} appears twice")
        self._put(order)

    def _check_parents(self) -> None:
        for order in self._orders.values():
            held = order.status is OrderStatus.PENDING
            if held and (order.parent_id is None or order.parent_id not in self._orders):
                raise DomainValidationError(
                    "orders",
                    f"held order {order.client_order_id} waits for {order.parent_id}, "
                    "which is not working",
                )

    def _terms(self, symbol: str) -> TermsLike:
        terms = self._lookup(symbol)
        if terms is None:
            raise DomainValidationError("symbol", f"unknown contract {symbol}")
        return terms


def _shape_problem(order: Order, tick: Decimal) -> str | None:
    """Problems an order has whatever the market does."""
    if isinstance(order.qty, bool) or not isinstance(order.qty, int) or order.qty < 1:
        return "quantity must be a whole number of contracts, at least 1"
    needs_limit = order.order_type in _LIMIT_TYPES
    needs_stop = order.order_type in _STOP_TYPES
    for name, price, needed in (
        ("limit", order.limit_price, needs_limit),
        ("stop", order.stop_price, needs_stop),
    ):
        problem = _price_problem(order.order_type, name, price, needed, tick)
        if problem:
            return problem
    if order.order_type is OrderType.STOP_LIMIT:
        return _stop_limit_problem(order)
    return None


def _price_problem(
    order_type: OrderType, name: str, price: Decimal | None, needed: bool, tick: Decimal
) -> str | None:
    if price is None:
        return f"a {order_type} order needs a {name} price" if needed else None
    if not needed:
        return f"a {order_type} order takes no {name} price"
    if not isinstance(price, Decimal) or not price.is_finite():
        return f"{name} price must be a finite Decimal"
    if price % tick != 0:
        return f"{name} price {price} is not on the {tick} tick grid"
    return None


def _stop_limit_problem(order: Order) -> str | None:
    limit, stop = order.limit_price, order.stop_price
    if order.side is Side.BUY and limit is not None and stop is not None and limit < stop:
        return f"a buy stop-limit's limit {limit} is below its stop {stop}"
    if order.side is Side.SELL and limit is not None and stop is not None and limit > stop:
        return f"a sell stop-limit's limit {limit} is above its stop {stop}"
    return None


def _modify_problem(
    order: Order, qty: int | None, limit_price: Decimal | None, stop_price: Decimal | None
) -> str | None:
    if qty is None and limit_price is None and stop_price is None:
        return "nothing to modify"
    if qty is not None and order.status is OrderStatus.PENDING:
        return "a held exit's quantity follows its entry's fill"
    if stop_price is not None and order.triggered:
        return "the stop has already triggered"
    return None


def _reference_price(entry: Order, last: Decimal | None) -> Decimal | None:
    """The price a bracket's exits are checked against: where the entry should fill."""
    if entry.order_type in _LIMIT_TYPES:
        return entry.limit_price
    if entry.order_type is OrderType.STOP:
        return entry.stop_price
    return last


def _rejected(order: Order, reason: str, now: datetime) -> OrderRejected:
    return OrderRejected(replace(order, status=OrderStatus.REJECTED), reason, now)


def _not_working(client_order_id: str, request: str, now: datetime) -> RequestRejected:
    reason = f"no working order {client_order_id} (unknown, filled or cancelled)"
    return RequestRejected(client_order_id, request, reason, now, order_unknown=True)


def unknown_order(event: RequestRejected) -> bool:
    """Whether a refused cancel or modify named no working order (unknown, filled, cancelled)."""
    return event.order_unknown


def _direction(side: Side) -> int:
    return 1 if side is Side.BUY else -1


def _opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def _round_against(side: Side, price: Decimal, tick: Decimal) -> Decimal:
    """Snap onto the tick grid in the direction that costs the trader: buys up, sells down."""
    rounding = ROUND_CEILING if side is Side.BUY else ROUND_FLOOR
    return (price / tick).to_integral_value(rounding=rounding) * tick


def _reached(order: Order, price: Decimal) -> bool:
    """Whether `_match` would trigger or fill the working order at `price`."""
    if order.order_type in _STOP_TYPES and not order.triggered:
        return _touched_stop(order.side, price, order.stop_price)
    if order.order_type in (OrderType.MARKET, OrderType.STOP):
        return True
    limit = order.limit_price
    return limit is not None and _reached_limit(order.side, price, limit)


def _reached_limit(side: Side, price: Decimal, limit: Decimal) -> bool:
    return price <= limit if side is Side.BUY else price >= limit


def _touched_stop(side: Side, price: Decimal, stop: Decimal | None) -> bool:
    if stop is None:
        return False
    return price >= stop if side is Side.BUY else price <= stop


def _capped(side: Side, price: Decimal, limit: Decimal) -> Decimal:
    return min(price, limit) if side is Side.BUY else max(price, limit)
