"""Trailing stops and OCO pairs: create, cancel and list them, and drive their broker orders.

An advanced order protects a position with real orders at the broker (DESIGN §1.4): a
trailing stop is a stop order the monitor moves as the price runs, created as soon as
the trail is active (at once, or when the activation price is reached); an OCO pair is a
take profit and a stop loss placed with `place_oco`, so the broker cancels one when the
other fills. If DeskPilot dies, the position stays protected; on restart the monitor
resumes from the row (best price, current stop) exactly.

Rules where the design leaves room:

- A trail covers the position as the broker reports it when created (API), or the
  contracts its entry filled (alerts, manual orders) — the same size a bracket's exits
  get. A trail asked for with a working (unfilled) entry waits for the fill; offsets
  (the activation) count from the fill price.
- Before any order that closes contracts (a stop placed on activation, a market exit)
  the broker's position is read: nothing is sent for a position already flat or
  reversed, so a stop can never open a position (Tradovate has no reduce-only orders).
- The stop order is modified in place, never cancelled and re-placed; the broker's
  stop only moves when the trail tightens (every move is at least one tick).
- A print at or through the trail's stop when the broker's stop is not there (a modify
  the broker refused, a stop that could not be placed) is an exit at the market: the
  broker's stop is cancelled first, and the market order sent only if it had not filled.
- A broker whose `native_oco` is False gets only the stop-loss leg at the broker; the
  monitor watches the take profit and, when the price touches it, cancels the stop and
  exits at the market.
- A trailing stop's orders carry the group `trail-<id>`, an OCO pair's `oco-<id>`, so a
  trade closed by a trailing stop reads `trailing_stop` as its exit reason.
- A price from a delayed feed (Tradovate without a real-time subscription, ~10 minutes
  late) never places, moves or triggers a stop. A new trailing stop asked for through the
  API on such a symbol is refused (422 `market_data_delayed`): the position keeps the
  fixed stop it has. The broker's own trailing stop is no way out: the adapter places
  no `TrailingStop` orders, how Tradovate measures their trail is not documented, and
  accounts may refuse them (`AdvancedTrailingStopUnsupported`). A trail an entry asked
  for starts from the fill (a real price) and its stop then stays fixed until quotes are
  live; the audit log says so.

One writer at a time in this process: the monitor's tick, creating and cancelling hold
`LOCK`. It is always taken last (inside an account lock, never around one), so it cannot
deadlock with the alert pipeline or the kill switch.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain import break_even
from app.domain.break_even import BreakEvenAction, BreakEvenSpec
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit, TrailingSpec
from app.domain.numbers import shown
from app.domain.oco import MAX_EXIT_DISTANCE, check_pair
from app.domain.trailing import Trail, TrailAction, TrailState, crossed, distance, start, step
from app.domain.trailing import activation_price as activation_from_entry
from app.domain.vocabulary import (
    AdvancedKind,
    AdvancedStatus,
    AuditCategory,
    ExitReason,
    OrderRole,
    OrderStatus,
    OrderType,
    PositionSide,
    Severity,
    Side,
)
from app.errors import Conflict, InvalidInput, NotFound, Unprocessable
from app.extensions import db
from app.models import AdvancedOrder, BrokerAccount, Order, Position
from app.models.base import utcnow
from app.services.market import prices
from app.services.records import audit, events
from app.services.setup.access import broker_for
from app.services.trading import orders

logger = logging.getLogger(__name__)

LOCK = threading.RLock()
TRAIL_GROUP = "trail-"  # group ids of the orders a row drives: "trail-<id>", "oco-<id>"
OCO_GROUP = "oco-"
WATCHED = (AdvancedStatus.ACTIVE, AdvancedStatus.TRIGGERED)
OPEN = orders.OPEN_STATUSES
DEAD = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FAILED)

BrokerOf = Callable[[int], Broker]


# --- reading a row --------------------------------------------------------------------------


def position_side(row: AdvancedOrder) -> PositionSide:
    return row.side


def closing_side(side: PositionSide) -> Side:
    return Side.SELL if side is PositionSide.LONG else Side.BUY


def trail_of(row: AdvancedOrder) -> Trail:
    return Trail(
        position_side(row),
        row.trail_unit,
        row.trail_amount,
        row.tick_size,
        row.activation_price,
    )


def state_of(row: AdvancedOrder) -> TrailState:
    return TrailState(trail_of(row), bool(row.activated), row.best_price, row.stop_price)


def waits_for_entry(row: AdvancedOrder) -> bool:
    """A trail asked for with an entry that has not filled yet."""
    return (
        row.entry_order_id is not None
        and not row.activated
        and row.activation_price is None
        and row.best_price is None
    )


def group_of(row: AdvancedOrder) -> str:
    prefix = TRAIL_GROUP if row.kind == AdvancedKind.TRAILING else OCO_GROUP
    return f"{prefix}{row.id}"


# --- creating --------------------------------------------------------------------------------


def create_trailing_stop(
    position_id: int,
    unit: OffsetUnit,
    amount: Decimal,
    activation_price: Decimal | None,
    now: datetime,
    break_even_spec: object = None,
    replace: bool = False,
) -> AdvancedOrder:
    """Trail the whole position (as the broker holds it) from the current price; with
    `break_even_spec` (DESIGN §5.2 `break_even`), the stop also moves to break-even once
    the price reaches its trigger, whichever of the two is tighter. `replace`: the
    position's exits go first (`make_room`)."""
    position, broker, held = position_at_broker(position_id)
    _refuse_delayed_trail(position)
    side = PositionSide.LONG if held > 0 else PositionSide.SHORT
    tick = tick_of(position.symbol, now)
    try:
        trail = Trail(side, unit, amount, tick, activation_price)
    except DomainValidationError as exc:
        raise InvalidInput(exc.message, {unit.value: exc.message}) from None
    market = market_price(broker, position.symbol)
    _check_width(trail, market, unit.value)
    if break_even_spec is not None and activation_price is not None:
        message = "a trail with an activation price has no stop to move until it starts"
        raise InvalidInput(f"break_even: {message}.", {"break_even": message})
    levels = break_even_levels(break_even_spec, position, side, tick)
    make_room(broker, position, held, stops=abs(held), takes=0, replace=replace)
    with LOCK:
        row = AdvancedOrder(
            kind=AdvancedKind.TRAILING,
            account_id=position.account_id,
            position_id=position.id,
            strategy_id=position.strategy_id,
            symbol=position.symbol,
            side=side,
            quantity=abs(held),
            tick_size=tick,
            trail_unit=unit,
            trail_amount=amount,
            activation_price=activation_price,
            activated=False,
            break_even_trigger=levels[0] if levels else None,
            break_even_stop=levels[1] if levels else None,
            status=AdvancedStatus.ACTIVE,
        )
        db.session.add(row)
        db.session.flush()
        _record(row, f"trailing stop {_describe_trail(row)} on {_what(row)} created")
        state, action = step(start(trail), market)
        drive(broker, row, state, action, market, now)
        if row.status in WATCHED:
            _published(row)
    return row


def create_oco(
    position_id: int,
    take_profit_price: Decimal,
    stop_loss_price: Decimal,
    qty: int | None,
    now: datetime,
    break_even_spec: object = None,
    replace: bool = False,
) -> AdvancedOrder:
    """A take profit and a stop loss for the position (or `qty` of it), native at the
    broker; with `break_even_spec`, the stop moves to break-even once the price reaches
    its trigger (before the take profit). `replace`: the position's exits go first."""
    position, broker, held = position_at_broker(position_id)
    side = PositionSide.LONG if held > 0 else PositionSide.SHORT
    quantity = abs(held) if qty is None else qty
    if quantity > abs(held):
        message = f"must be at most the {abs(held)}-lot position"
        raise InvalidInput(f"qty {message}.", {"qty": message})
    tick = tick_of(position.symbol, now)
    market = market_price(broker, position.symbol, fallback=position.avg_price)
    opened_by = Side.BUY if side is PositionSide.LONG else Side.SELL
    try:
        check_pair(opened_by, market, tick, take_profit_price, stop_loss_price)
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", {exc.field: exc.message}) from None
    levels = break_even_levels(break_even_spec, position, side, tick)
    if levels is not None:
        check_break_even_before(side, levels, take_profit_price)
    make_room(broker, position, held, stops=quantity, takes=quantity, replace=replace)
    with LOCK:
        row = AdvancedOrder(
            kind=AdvancedKind.OCO,
            account_id=position.account_id,
            position_id=position.id,
            strategy_id=position.strategy_id,
            symbol=position.symbol,
            side=side,
            quantity=quantity,
            tick_size=tick,
            take_profit_price=take_profit_price,
            stop_loss_price=stop_loss_price,
            native=bool(getattr(broker, "native_oco", True)),
            activated=True,
            break_even_trigger=levels[0] if levels else None,
            break_even_stop=levels[1] if levels else None,
            status=AdvancedStatus.ACTIVE,
        )
        db.session.add(row)
        db.session.flush()
        stop = _exit_row(row, OrderType.STOP, OrderRole.STOP_LOSS, stop_price=stop_loss_price)
        legs = [stop]
        if row.native:
            take = _exit_row(
                row, OrderType.LIMIT, OrderRole.TAKE_PROFIT, limit_price=take_profit_price
            )
            legs.insert(0, take)
        db.session.add_all(legs)
        db.session.flush()
        row.stop_order_id = stop.id
        row.take_profit_order_id = legs[0].id if row.native else None
        _record(row, f"OCO {_describe_oco(row)} on {_what(row)} created")
        if row.native:
            orders.place_oco_rows(broker, legs[0], stop)
        else:
            orders.place_row(broker, stop)
        refused = [leg for leg in legs if leg.status in DEAD]
        if refused:
            for leg in legs:
                if leg.status in OPEN:
                    _cancel_quietly(broker, leg, "its OCO partner was refused")
            close(row, AdvancedStatus.FAILED, f"the broker refused the pair: {refused[0].reason}")
        else:
            db.session.commit()
            _published(row)
    return row


def trail_entry(
    broker: Broker,
    entry: Order,
    spec: TrailingSpec,
    now: datetime,
    break_even_spec: BreakEvenSpec | None = None,
) -> list[Order]:
    """The trailing stop an entry asked for; returns its stop order once one is placed.

    A filled entry starts the trail from its fill price; a working one leaves a trail that
    waits for the fill (the monitor starts it); a refused entry has nothing to protect.
    Break-even, when asked, is set from a filled entry's price (alerts ask it of market
    entries only).
    """
    if entry.status not in (OrderStatus.FILLED, *OPEN):
        return []
    side = PositionSide.LONG if entry.side == Side.BUY else PositionSide.SHORT
    try:
        tick = tick_of(entry.symbol, entry.created_at or now)
    except Unprocessable:
        return []
    with LOCK:
        row = AdvancedOrder(
            kind=AdvancedKind.TRAILING,
            account_id=entry.account_id,
            strategy_id=entry.strategy_id,
            symbol=entry.symbol,
            side=side,
            quantity=entry.quantity,
            tick_size=tick,
            trail_unit=spec.trail.unit,
            trail_amount=spec.trail.amount,
            activation_offset=spec.activation.to_json() if spec.activation else None,
            activated=False,
            entry_order_id=entry.id,
            status=AdvancedStatus.ACTIVE,
        )
        if break_even_spec is not None and entry.status == OrderStatus.FILLED:
            levels = _break_even_prices(break_even_spec, side, entry.avg_fill_price, tick)
            if levels is not None:
                row.break_even_trigger, row.break_even_stop = levels
        db.session.add(row)
        db.session.flush()
        _record(row, f"trailing stop {_describe_trail(row)} for order {entry.id} created")
        if entry.status == OrderStatus.FILLED:
            start_from_entry(broker, row, entry, now)
        if row.status in WATCHED and _delayed(row.symbol):
            _record(
                row,
                f"{delayed_reason(row.symbol)}: trailing stop {row.id} keeps its stop where it "
                "is placed until prices are live",
                severity=Severity.WARNING,
            )
        db.session.commit()
        if row.status in WATCHED:
            _published(row)
        stop = db.session.get(Order, row.stop_order_id) if row.stop_order_id else None
    return [stop] if stop is not None else []


def start_from_entry(broker: Broker, row: AdvancedOrder, entry: Order, now: datetime) -> None:
    """Start a trail from its entry's fill: size, activation, first stop."""
    side = position_side(row)
    held = _held_for(broker, row)
    if held is None:
        return
    qty = min(entry.filled_quantity or entry.quantity, held)
    if qty <= 0:
        close(row, AdvancedStatus.CANCELLED, f"no {side.value} {row.symbol} position to protect")
        return
    row.quantity = qty
    row.position_id = _position_id(row)
    fill = entry.avg_fill_price or _last(row.symbol)
    if fill is None:
        db.session.commit()
        return  # no price at all yet: the next tick tries again
    offset = row.activation_offset
    if offset:
        spec = ExitSpec(OffsetUnit(next(iter(offset))), Decimal(next(iter(offset.values()))))
        row.activation_price = activation_from_entry(side, fill, spec, row.tick_size)
    state, action = step(start(trail_of(row)), fill)
    market = _live_last(row.symbol)
    if market is not None and market != fill:
        state, later = step(state, market)
        action = _combined(action, later)
    drive(broker, row, state, action, market or fill, now)


def _combined(first: TrailAction, then: TrailAction) -> TrailAction:
    """Two steps' actions as one: the stop placed once, at the later level."""
    if then in (TrailAction.EXIT, TrailAction.ACTIVATE):
        return then
    if first is TrailAction.ACTIVATE:
        return first
    return then if then is not TrailAction.HOLD else first


# --- driving a trailing stop -----------------------------------------------------------------


def store_state(row: AdvancedOrder, state: TrailState, now: datetime) -> None:
    if state.activated and not row.activated:
        row.activated_at = now
    row.activated = state.activated
    row.best_price = state.best
    row.stop_price = state.stop


def drive(
    broker: Broker,
    row: AdvancedOrder,
    state: TrailState,
    action: TrailAction,
    price: Decimal,
    now: datetime,
) -> None:
    """Persist a trail's new state and do what its action asks of the broker; commits."""
    store_state(row, state, now)
    if action is TrailAction.EXIT:
        exit_trail(broker, row, price, now)
    elif state.activated and row.stop_order_id is None:
        _place_trail_stop(broker, row, now)
    elif action is TrailAction.TIGHTEN:
        stop = db.session.get(Order, row.stop_order_id)
        if stop is not None and stop.status in OPEN and stop.stop_price != state.stop:
            row.stop_modified_at = now
            orders.modify(broker, stop, stop_price=state.stop)
        db.session.commit()
    else:
        db.session.commit()


def _place_trail_stop(broker: Broker, row: AdvancedOrder, now: datetime) -> None:
    held = _held_for(broker, row)
    if held is None:
        return
    if held == 0:
        close(row, AdvancedStatus.CANCELLED, "the position is already flat")
        return
    market = _live_last(row.symbol)
    if market is not None and crossed(position_side(row), market, row.stop_price):
        exit_trail(broker, row, market, now)  # already through: a stop there would be refused
        return
    stop = _exit_row(
        row,
        OrderType.STOP,
        OrderRole.STOP_LOSS,
        stop_price=row.stop_price,
        qty=min(held, row.quantity),
    )
    db.session.add(stop)
    db.session.flush()
    row.stop_order_id = stop.id
    orders.place_row(broker, stop)
    if stop.status in DEAD:
        close(
            row,
            AdvancedStatus.FAILED,
            f"the broker refused the stop at {stop.stop_price}: {stop.reason}",
            severity=Severity.ERROR,
        )
    elif stop.status == OrderStatus.FILLED:
        close(row, AdvancedStatus.DONE, f"stop filled at {shown(stop.avg_fill_price)}")
    else:
        _record(row, f"trailing stop {row.id}: stop placed at {shown(row.stop_price)}")
        db.session.commit()


def exit_trail(broker: Broker, row: AdvancedOrder, price: Decimal, now: datetime) -> None:
    """The price is at or through the trail's stop: let the broker's stop work, or exit."""
    stop = db.session.get(Order, row.stop_order_id) if row.stop_order_id else None
    if stop is not None and stop.status in OPEN:
        if stop.stop_price is not None and not _looser(row, stop.stop_price, row.stop_price):
            db.session.commit()  # the broker holds our stop: it fills there
            return
        try:
            orders.cancel(broker, stop, "trailing stop: replaced by a market exit")
        except BrokerError:
            db.session.commit()
            return  # the next tick tries again
    if stop is not None and stop.status == OrderStatus.FILLED:
        close(row, AdvancedStatus.DONE, f"stop filled at {shown(stop.avg_fill_price)}")
        return
    _market_exit(broker, row, OrderRole.STOP_LOSS, f"price {shown(price)} reached the trail's stop")


def _looser(row: AdvancedOrder, broker_stop: Decimal, wanted: Decimal) -> bool:
    """Whether the broker's stop is farther from the market than the trail's."""
    if position_side(row) is PositionSide.LONG:
        return broker_stop < wanted
    return broker_stop > wanted


def _market_exit(
    broker: Broker,
    row: AdvancedOrder,
    role: OrderRole,
    why: str,
    exit_reason: ExitReason | None = None,
) -> None:
    """Close what is left of the protected contracts at the market."""
    held = _held_for(broker, row)
    if held is None:
        return
    if held == 0:
        close(row, AdvancedStatus.CANCELLED, f"{why}; the position was already flat")
        return
    exit_row = _exit_row(
        row, OrderType.MARKET, role, qty=min(held, row.quantity), exit_reason=exit_reason
    )
    db.session.add(exit_row)
    db.session.flush()
    row.exit_order_id = exit_row.id
    row.status = AdvancedStatus.TRIGGERED
    row.reason = why
    _record(row, f"{_kind_name(row)} {row.id} triggered: {why}; exiting at the market")
    orders.place_row(broker, exit_row)
    settle_exit(row, exit_row)


def settle_exit(row: AdvancedOrder, exit_row: Order) -> None:
    over = exit_outcome(row.reason, exit_row)
    if over is None:
        db.session.commit()
        return
    status, reason = over
    severity = Severity.ERROR if status is AdvancedStatus.FAILED else Severity.INFO
    close(row, status, reason, severity=severity)


# --- break-even ------------------------------------------------------------------------------


def break_even_levels(
    spec_value: object, position: Position, side: PositionSide, tick: Decimal
) -> tuple[Decimal, Decimal] | None:
    """The trigger price and the break-even stop, both from the position's entry."""
    if spec_value is None:
        return None
    spec = parse_break_even_value(spec_value)
    if spec.on_first_target:
        message = '"first_target" needs scale-out targets; give an offset from the entry'
        raise InvalidInput(f"break_even.trigger: {message}.", {"break_even.trigger": message})
    return _break_even_prices(spec, side, entry_price(position), tick)


def entry_price(position: Position) -> Decimal:
    """The position's average entry, which offsets from the entry need. A position the
    broker shows before DeskPilot has booked it has none yet: 409, try again."""
    if position.avg_price is None:
        raise Conflict(
            f"No entry price is known for the {position.symbol} position yet; try again once "
            "DeskPilot has read it from the broker.",
            code="no_entry_price",
        )
    return position.avg_price


def parse_break_even_value(spec_value: object) -> BreakEvenSpec:
    """A break-even from an API body; a fault is a 400 naming the field."""
    try:
        return break_even.parse_break_even(spec_value)
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", {exc.field: exc.message}) from None


def _break_even_prices(
    spec: BreakEvenSpec,
    side: PositionSide,
    entry: Decimal,
    tick: Decimal,
    targets: Sequence[Order] = (),
) -> tuple[Decimal, Decimal] | None:
    """Trigger and stop from the entry. `"first_target"` arms at the nearest scale-out
    target's price: a resting limit fills on the first print that reaches it (the paper
    venue's and the fake exchange's rule), so that print is its fill. None when there is no
    target to arm it."""
    trigger = break_even.trigger_price(side, entry, spec, tick)
    if spec.on_first_target:
        if not targets:
            return None
        trigger = targets[0].limit_price
    return trigger, break_even.level(side, entry, spec, tick)


def watch_bracket_break_even(
    broker: Broker, rows: Sequence[Order], spec: BreakEvenSpec, now: datetime
) -> None:
    """An alert's filled bracket (entry, then its take profits and stops at the broker)
    watched by the monitor to move its stops to break-even; nothing without a working
    stop. Break-even that would act at or beyond the take profit is not followed, and the
    audit log says why (the alert itself has already traded)."""
    entry = rows[0]
    if entry.status != OrderStatus.FILLED:
        return
    side = PositionSide.LONG if entry.side == Side.BUY else PositionSide.SHORT
    tick = tick_of(entry.symbol, now)
    takes = [r for r in rows[1:] if r.role == OrderRole.TAKE_PROFIT and r.status not in DEAD]
    levels = _break_even_prices(spec, side, entry.avg_fill_price, tick, takes)
    if levels is None:
        return  # "first_target" with no target placed: nothing arms it
    try:
        watch_exits_break_even(rows[1:], side, tick, levels, f"order {entry.id}")
    except InvalidInput as exc:
        orders.record_problem(entry, f"break-even for order {entry.id} not followed: {exc.message}")


def watch_exits_break_even(
    exits: Sequence[Order],
    side: PositionSide,
    tick: Decimal,
    levels: tuple[Decimal, Decimal],
    what: str,
) -> list[AdvancedOrder]:
    """Watch each working stop among a position's exits to move it to break-even at
    `levels` (trigger, stop), with the take profit linked to it — the only one in its OCO
    group: a bracket's, or a scale-out target's own pair (several in one group are targets
    the venue cuts the stop for). A target that fills at or before the trigger ends its
    pair first, so that pair is not watched; when no stop could ever reach break-even that
    way, or a lone take profit comes first, InvalidInput says why."""
    stops = [r for r in exits if r.role == OrderRole.STOP_LOSS and r.status in OPEN]
    takes = [r for r in exits if r.role == OrderRole.TAKE_PROFIT and r.status in OPEN]
    watched: list[AdvancedOrder] = []
    problem: InvalidInput | None = None
    for stop in stops:
        linked = [t for t in takes if t.group_id == stop.group_id]
        take = linked[0] if len(linked) == 1 else None
        if take is not None:
            try:
                check_break_even_before(side, levels, take.limit_price)
            except InvalidInput as exc:
                problem = exc
                continue
        watched.append(watch_stop_break_even(stop, take, side, tick, levels, what))
    if problem is not None and not watched:
        raise problem
    return watched


def watch_stop_break_even(
    stop: Order,
    take: Order | None,
    side: PositionSide,
    tick: Decimal,
    levels: tuple[Decimal, Decimal],
    what: str,
) -> AdvancedOrder:
    """A working stop (and its take profit, if one is linked to it) watched by the monitor
    as an OCO pair that moves the stop to break-even at `levels` (trigger, stop)."""
    with LOCK:
        row = AdvancedOrder(
            kind=AdvancedKind.OCO,
            account_id=stop.account_id,
            strategy_id=stop.strategy_id,
            symbol=stop.symbol,
            side=side,
            quantity=stop.quantity,
            tick_size=tick,
            take_profit_price=take.limit_price if take is not None else None,
            stop_loss_price=stop.stop_price,
            take_profit_order_id=take.id if take is not None else None,
            stop_order_id=stop.id,
            native=True,
            activated=True,
            break_even_trigger=levels[0],
            break_even_stop=levels[1],
            status=AdvancedStatus.ACTIVE,
        )
        row.position_id = _position_id(row)
        db.session.add(row)
        db.session.flush()
        _record(row, f"break-even for {what}: {_describe_oco(row)} watched")
        db.session.commit()
        _published(row)
    return row


def check_break_even_before(
    side: PositionSide, levels: tuple[Decimal, Decimal], take_profit: Decimal
) -> None:
    """Break-even that arms or stops at or beyond the take profit would never act."""
    try:
        break_even.check_before(side, levels[0], levels[1], take_profit)
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}.", {exc.field: exc.message}) from None


def reach_break_even(broker: Broker, row: AdvancedOrder, price: Decimal, now: datetime) -> None:
    """An OCO pair's break-even trigger was reached: move its stop to break-even (never
    looser); when the price is already back through it, exit at the market instead."""
    stop = db.session.get(Order, row.stop_order_id) if row.stop_order_id else None
    if stop is None or stop.status not in OPEN or row.break_even_stop is None:
        db.session.commit()
        return
    side = position_side(row)
    move = break_even.step(side, price, stop.stop_price, row.break_even_stop, armed=True)
    if move.action is BreakEvenAction.MOVE:
        row.stop_modified_at = now
        if orders.modify(broker, stop, stop_price=move.stop):
            stop.exit_reason = ExitReason.BREAK_EVEN
            row.stop_loss_price = move.stop
            _record(row, f"OCO {row.id}: stop moved to break-even {shown(move.stop)}")
            db.session.commit()
            _published(row)
        return
    if move.action is BreakEvenAction.EXIT:
        legs = [stop]
        if row.take_profit_order_id:
            legs.insert(0, db.session.get(Order, row.take_profit_order_id))
        for leg in legs:
            if leg is not None and leg.status in OPEN:
                orders.cancel(broker, leg, "OCO: break-even passed")
        why = f"price {shown(price)} is back through break-even {shown(move.stop)}"
        _market_exit(broker, row, OrderRole.STOP_LOSS, why, ExitReason.BREAK_EVEN)
        return
    db.session.commit()


# --- OCO managed in-app ----------------------------------------------------------------------


def take_profit_touched(broker: Broker, row: AdvancedOrder, price: Decimal, now: datetime) -> None:
    """A pair the broker cannot link: the take profit's price was reached."""
    stop = db.session.get(Order, row.stop_order_id) if row.stop_order_id else None
    if stop is not None and stop.status in OPEN:
        try:
            orders.cancel(broker, stop, "OCO: take profit reached")
        except BrokerError:
            return
    if stop is not None and stop.status == OrderStatus.FILLED:
        close(row, AdvancedStatus.DONE, f"stop loss filled at {shown(stop.avg_fill_price)}")
        return
    _market_exit(
        broker, row, OrderRole.TAKE_PROFIT, f"price {shown(price)} reached the take profit"
    )


# --- what the broker did ---------------------------------------------------------------------


def settle(broker_of: BrokerOf, row: AdvancedOrder, now: datetime) -> None:
    """React to the broker's side: an order of ours filled or died, the position closed,
    the entry filled. Called by the monitor for the rows where one of those happened."""
    if row.exit_order_id is not None:
        settle_exit(row, db.session.get(Order, row.exit_order_id))
        return
    if row.kind == AdvancedKind.TRAILING and waits_for_entry(row):
        entry = db.session.get(Order, row.entry_order_id)
        if entry.status == OrderStatus.FILLED:
            start_from_entry(broker_of(row.account_id), row, entry, now)
        elif entry.status in DEAD:
            close(row, AdvancedStatus.CANCELLED, f"its entry order {entry.id} was {entry.status}")
        return
    legs = [
        leg
        for leg in (
            db.session.get(Order, row.take_profit_order_id) if row.take_profit_order_id else None,
            db.session.get(Order, row.stop_order_id) if row.stop_order_id else None,
        )
        if leg is not None
    ]
    working = [leg for leg in legs if leg.status in OPEN]
    over = legs_outcome(row.kind, legs)
    if over is not None:
        status, reason, filled = over
        for leg in working:
            _cancel_quietly(broker_of(row.account_id), leg, f"OCO: order {filled.id} filled")
        close(row, status, reason)
        return
    if _position_closed(row):
        for leg in working:
            _cancel_quietly(broker_of(row.account_id), leg, "the position was closed")
        close(row, AdvancedStatus.CANCELLED, "the position was closed")


def legs_outcome(kind: str, legs: Sequence) -> tuple[AdvancedStatus, str, object] | None:
    """What the orders an advanced order drives say about it, once it is over.

    `legs` are its take profit and/or stop order (rows, or anything with their `id`,
    `role`, `status`, `avg_fill_price` and `reason`). A filled leg: done, with the leg;
    every leg dead without a fill: cancelled. None while a leg still works and none filled.
    """
    filled = [leg for leg in legs if leg.status == OrderStatus.FILLED]
    if filled:
        name = "stop" if kind == AdvancedKind.TRAILING else filled[0].role.replace("_", " ")
        return (
            AdvancedStatus.DONE,
            f"{name} filled at {shown(filled[0].avg_fill_price)}",
            filled[0],
        )
    if legs and not any(leg.status in OPEN for leg in legs):
        dead = legs[-1]
        reason = f"its {dead.role.replace('_', ' ')} order was {dead.status}"
        return AdvancedStatus.CANCELLED, reason + (f": {dead.reason}" if dead.reason else ""), dead
    return None


def exit_outcome(reason: str | None, exit_leg) -> tuple[AdvancedStatus, str] | None:
    """What a market exit the monitor sent says about its advanced order, once settled."""
    if exit_leg.status == OrderStatus.FILLED:
        return AdvancedStatus.DONE, f"{reason}; exited at {shown(exit_leg.avg_fill_price)}"
    if exit_leg.status in DEAD:
        return (
            AdvancedStatus.FAILED,
            f"the market exit was {exit_leg.status}: {exit_leg.reason}; check the position",
        )
    return None


def _position_closed(row: AdvancedOrder) -> bool:
    if row.position_id is None:
        return False
    position = db.session.get(Position, row.position_id)
    if position is None or not position.quantity:
        return True
    return (position.quantity > 0) != (row.side == PositionSide.LONG)


# --- cancelling and closing ------------------------------------------------------------------


def cancel_advanced(
    advanced_id: int, now: datetime, kind: AdvancedKind | None = None
) -> AdvancedOrder:
    """Withdraw a trailing stop (its stop order) or an OCO pair (both legs)."""
    with LOCK:
        row = get_advanced(advanced_id, kind, fresh=True)
        if row.status != AdvancedStatus.ACTIVE:
            raise Conflict(
                f"{_kind_name(row).capitalize()} {row.id} is {row.status}; only an active one "
                "can be cancelled.",
                code="advanced_order_closed",
            )
        account = db.session.get(BrokerAccount, row.account_id)
        try:
            broker = broker_for(account)
        except BrokerError as exc:
            raise Conflict(exc.message, code="broker_error") from None
        for order_id in (row.take_profit_order_id, row.stop_order_id):
            leg = db.session.get(Order, order_id) if order_id else None
            if leg is None or leg.status not in OPEN:
                continue
            try:
                orders.cancel(broker, leg, "cancelled by the trader")
            except BrokerError as exc:
                raise Conflict(
                    f"The broker did not cancel order {leg.id}: {exc.message}",
                    code="cancel_failed",
                ) from None
        db.session.refresh(row)
        filled = [
            leg
            for leg in (row.take_profit_order, row.stop_order, row.exit_order)
            if leg is not None and leg.status == OrderStatus.FILLED
        ]
        if filled:
            close(row, AdvancedStatus.DONE, f"{filled[0].role.replace('_', ' ')} had filled")
        else:
            close(row, AdvancedStatus.CANCELLED, "cancelled by the trader")
        return row


def close(
    row: AdvancedOrder,
    status: AdvancedStatus,
    reason: str,
    *,
    severity: Severity = Severity.INFO,
) -> None:
    """End an advanced order with its reason; commits and tells subscribers."""
    row.status = status
    row.reason = reason[:2000]
    row.closed_at = utcnow()
    if status is AdvancedStatus.FAILED and severity is Severity.INFO:
        severity = Severity.WARNING
    _record(row, f"{_kind_name(row)} {row.id} {status.value}: {reason}", severity=severity)
    db.session.commit()
    _published(row)


# --- reading ---------------------------------------------------------------------------------


def get_advanced(
    advanced_id: int, kind: AdvancedKind | None = None, *, fresh: bool = False
) -> AdvancedOrder:
    query = select(AdvancedOrder).where(AdvancedOrder.id == advanced_id)
    if fresh:
        query = query.execution_options(populate_existing=True)
    row = db.session.scalar(query)
    if row is None or (kind is not None and row.kind != kind):
        name = "advanced order" if kind is None else _KIND_NAMES[kind]
        raise NotFound(f"No {name} with id {advanced_id}.")
    return row


def list_advanced(
    account_id: int | None,
    status: str | None,
    kind: str | None,
    limit: int,
    before_id: int | None,
) -> list[AdvancedOrder]:
    query = (
        select(AdvancedOrder)
        .options(
            selectinload(AdvancedOrder.stop_order),
            selectinload(AdvancedOrder.take_profit_order),
            selectinload(AdvancedOrder.exit_order),
        )
        .order_by(AdvancedOrder.id.desc())
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(AdvancedOrder.account_id == account_id)
    if status:
        if status not in {s.value for s in AdvancedStatus}:
            raise InvalidInput(
                "Unknown advanced order status.", {"status": "is not an advanced order status"}
            )
        query = query.where(AdvancedOrder.status == status)
    if kind:
        if kind not in {k.value for k in AdvancedKind}:
            raise InvalidInput("Unknown kind.", {"kind": "must be trailing or oco"})
        query = query.where(AdvancedOrder.kind == kind)
    if before_id is not None:
        query = query.where(AdvancedOrder.id < before_id)
    return list(db.session.scalars(query))


# --- helpers ---------------------------------------------------------------------------------

_KIND_NAMES = {AdvancedKind.TRAILING: "trailing stop", AdvancedKind.OCO: "OCO order"}


def _kind_name(row: AdvancedOrder) -> str:
    return _KIND_NAMES[row.kind]


def make_room(
    broker: Broker, position: Position, held: int, *, stops: int, takes: int, replace: bool
) -> None:
    """Room at the broker for a position's new exits (`stops` and `takes` contracts): it
    must never hold more stop, or more take-profit, contracts than the position. Without
    `replace`, exits beyond that are refused (409 `exits_exceed_position`); with it, the
    position's working exits — and the trailing stops and OCO pairs driving them — are
    withdrawn first. Called once the new exits are known to be sound."""
    closing = Side.SELL if held > 0 else Side.BUY
    working = [
        row
        for row in orders.working_rows(position.account_id, position.symbol, orders.EXIT_ROLES)
        if row.side == closing
    ]
    if replace:
        _withdraw(broker, working)
        return
    for role, adding, name in (
        (OrderRole.STOP_LOSS, stops, "stop"),
        (OrderRole.TAKE_PROFIT, takes, "take-profit"),
    ):
        held_out = sum(row.quantity - row.filled_quantity for row in working if row.role == role)
        if adding and held_out + adding > abs(held):
            raise Conflict(
                f"The {position.symbol} position ({abs(held)} contracts) already has {held_out} "
                f"contracts of {name} orders working; {adding} more would exceed it. Replace "
                'its exits ("replace": true) or cancel them first.',
                code="exits_exceed_position",
            )


def _withdraw(broker: Broker, exits: list[Order]) -> None:
    """Cancel a position's working exits and end the advanced orders driving them."""
    ids = [row.id for row in exits]
    drivers = (
        list(
            db.session.scalars(
                select(AdvancedOrder).where(
                    AdvancedOrder.status.in_(WATCHED),
                    or_(
                        AdvancedOrder.stop_order_id.in_(ids),
                        AdvancedOrder.take_profit_order_id.in_(ids),
                    ),
                )
            )
        )
        if ids
        else []
    )
    for row in exits:
        try:
            orders.cancel(broker, row, "replaced by new exits")
        except BrokerError as exc:
            raise Conflict(
                f"The broker did not cancel order {row.id}: {exc.message}; nothing new was placed.",
                code="cancel_failed",
            ) from None
    for driver in drivers:
        close(driver, AdvancedStatus.CANCELLED, "replaced by new exits")


def position_at_broker(position_id: int) -> tuple[Position, Broker, int]:
    """The position row, its account's broker, and the quantity the broker holds."""
    position = db.session.get(Position, position_id)
    if position is None:
        raise NotFound(f"No position with id {position_id}.", {"position_id": "not found"})
    account = db.session.get(BrokerAccount, position.account_id)
    try:
        broker = broker_for(account)
        broker.subscribe_quotes(position.symbol)
        held = {p.symbol: p.qty for p in broker.positions()}.get(position.symbol, 0)
    except BrokerError as exc:
        raise Conflict(
            f"The broker could not be asked for the position: {exc.message}", code="broker_error"
        ) from None
    if held == 0:
        raise Conflict(f"The broker shows no {position.symbol} position.", code="position_flat")
    return position, broker, held


def _held_for(broker: Broker, row: AdvancedOrder) -> int | None:
    """Contracts the broker holds on the row's side (0 when flat or reversed); None when
    the broker cannot be asked (the next tick tries again)."""
    try:
        held = {p.symbol: p.qty for p in broker.positions()}.get(row.symbol, 0)
    except BrokerError as exc:
        logger.warning("advanced order %s: position not read: %s", row.id, exc.message)
        db.session.commit()
        return None
    long = row.side == PositionSide.LONG
    return held if long and held > 0 else -held if not long and held < 0 else 0


def _position_id(row: AdvancedOrder) -> int | None:
    """The position row of the account and symbol, when it shows the protected side."""
    position = db.session.scalar(
        select(Position).where(Position.account_id == row.account_id, Position.symbol == row.symbol)
    )
    if position is None or not position.quantity:
        return None
    if (position.quantity > 0) != (row.side == PositionSide.LONG):
        return None
    return position.id


def tick_of(symbol: str, now: datetime) -> Decimal:
    try:
        return resolve_symbol(symbol, now.date()).spec.tick_size
    except UnknownSymbol as exc:
        raise Unprocessable(exc.message, {"symbol": exc.message}, code="unknown_symbol") from None


def _last(symbol: str) -> Decimal | None:
    quote = prices.last(symbol)
    return quote.price if quote else None


def _live_last(symbol: str) -> Decimal | None:
    """The last price heard, unless its feed runs late: a delayed print moves no stop."""
    quote = prices.last(symbol)
    return quote.price if quote is not None and not quote.delayed else None


def _delayed(symbol: str) -> bool:
    quote = prices.last(symbol)
    return quote is not None and quote.delayed


def delayed_reason(symbol: str) -> str:
    """The words every refusal and hold on a delayed feed starts with (API, audit, monitor)."""
    return f"market data for {symbol} is delayed (~10 min)"


def _refuse_delayed_trail(position: Position) -> None:
    """A trail on a delayed feed would follow prices ten minutes old: refused (422
    `market_data_delayed`), audited; the position's own stop stays as it is."""
    if not _delayed(position.symbol):
        return
    reason = f"{delayed_reason(position.symbol)}: trailing refused, the fixed stop stays"
    audit.record(
        AuditCategory.ORDER,
        f"trailing stop on position {position.id} refused: {reason}",
        severity=Severity.WARNING,
        data={"position_id": position.id, "symbol": position.symbol},
        account_id=position.account_id,
        strategy_id=position.strategy_id,
    )
    db.session.commit()
    raise Unprocessable(
        f"{reason[0].upper()}{reason[1:]}. Tradovate sends real-time quotes only with a "
        "market-data subscription; until then protect the position with a fixed stop or an "
        "OCO pair.",
        {"symbol": reason},
        code="market_data_delayed",
    )


def market_price(broker: Broker, symbol: str, fallback: Decimal | None = None) -> Decimal:
    """The venue's last price, else the last one DeskPilot heard (alerts, quotes)."""
    market = broker.last_price(symbol) or _last(symbol) or fallback
    if market is None:
        raise Unprocessable(
            f"No price is known for {symbol} yet; try again when quotes arrive.", code="no_price"
        )
    return market


def _check_width(trail: Trail, market: Decimal, field: str) -> None:
    gap = distance(trail, market)
    if gap < trail.tick:
        message = f"trails by {gap}, less than one tick ({trail.tick}) at {market}"
        raise InvalidInput(f"{field}: {message}.", {field: message})
    if gap > market * MAX_EXIT_DISTANCE:
        message = f"trails by {gap}, more than 25% of the price {market}"
        raise InvalidInput(f"{field}: {message}.", {field: message})


def _exit_row(
    row: AdvancedOrder,
    order_type: OrderType,
    role: OrderRole,
    *,
    stop_price: Decimal | None = None,
    limit_price: Decimal | None = None,
    qty: int | None = None,
    exit_reason: ExitReason | None = None,
) -> Order:
    """An order that closes (part of) the row's position; a trailing stop's stops and
    market exits end their round trip as `trailing_stop`."""
    if exit_reason is None and row.kind == AdvancedKind.TRAILING and role == OrderRole.STOP_LOSS:
        exit_reason = ExitReason.TRAILING_STOP
    return Order(
        account_id=row.account_id,
        strategy_id=row.strategy_id,
        client_order_id=orders.new_client_order_id(),
        symbol=row.symbol,
        side=closing_side(position_side(row)),
        quantity=qty or row.quantity,
        order_type=order_type,
        limit_price=limit_price,
        stop_price=stop_price,
        role=role,
        group_id=group_of(row),
        exit_reason=exit_reason,
        status=OrderStatus.PENDING,
        filled_quantity=0,
    )


def _cancel_quietly(broker: Broker, row: Order, reason: str) -> None:
    try:
        orders.cancel(broker, row, reason)
    except BrokerError as exc:
        logger.warning("order %s not cancelled: %s", row.id, exc.message)


def _record(row: AdvancedOrder, message: str, *, severity: Severity = Severity.INFO) -> None:
    audit.record(
        AuditCategory.ORDER,
        message,
        severity=severity,
        data={"advanced_order_id": row.id, "kind": row.kind},
        account_id=row.account_id,
        strategy_id=row.strategy_id,
    )


def _published(row: AdvancedOrder) -> None:
    events.publish("advanced_order", event_payload(row))


def event_payload(row: AdvancedOrder) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "account_id": row.account_id,
        "symbol": row.symbol,
        "side": row.side,
        "qty": row.quantity,
        "status": row.status,
        "stop_price": shown(row.stop_price) if row.stop_price is not None else None,
        "reason": row.reason,
    }


def _what(row: AdvancedOrder) -> str:
    return f"{row.side} {row.quantity} {row.symbol}"


def _describe_trail(row: AdvancedOrder) -> str:
    text = f"{shown(row.trail_amount)} {row.trail_unit}"
    if row.activation_price is not None:
        text += f" from {shown(row.activation_price)}"
    elif row.activation_offset:
        unit, amount = next(iter(row.activation_offset.items()))
        text += f" after {amount} {unit}"
    return text


def _describe_oco(row: AdvancedOrder) -> str:
    return f"take profit {shown(row.take_profit_price)} / stop {shown(row.stop_loss_price)}"
