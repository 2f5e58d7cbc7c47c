"""Scale-out targets put on an open position (`POST /api/orders/targets`).

Like an alert's targets (DESIGN §5.2), but for a position already held: one take-profit
limit per target, in whole contracts of what the broker holds (a target of no whole
contract merged into the next, which says so), priced from the position's entry and each
beyond the market; optionally one stop for the whole position, and break-even for that
stop. Placed as an alert's targets are (`orders.place_targets`): beside the one stop at a
venue that cuts it as targets fill, else each target as an OCO pair with its share of the
stop, so the broker never holds more exit contracts than the position.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from app.domain import break_even as break_even_rules
from app.domain.contracts import is_on_tick
from app.domain.errors import DomainValidationError
from app.domain.numbers import shown
from app.domain.targets import Target, TargetLeg, parse_targets, split_position, target_prices
from app.domain.vocabulary import OrderRole, OrderStatus, OrderType, PositionSide, Side
from app.errors import InvalidInput, Unprocessable
from app.models import Order, Position
from app.services.protection import advanced_orders
from app.services.trading import orders


def create_targets(
    position_id: int,
    targets_value: object,
    stop_loss_price: Decimal | None,
    break_even_value: object,
    now: datetime,
    replace: bool = False,
) -> list[Order]:
    """Place the position's targets (and stop); the order rows, stop first. `replace`:
    the position's exits go first (`advanced_orders.make_room`)."""
    position, broker, held = advanced_orders.position_at_broker(position_id)
    if stop_loss_price is not None and not (broker.reduce_only_exits or broker.native_oco):
        raise Unprocessable(
            "Scale-out targets beside a stop are not followed at this broker: it neither cuts "
            "its exits to the position nor links two orders as OCO.",
            code="targets_unsupported",
        )
    side = PositionSide.LONG if held > 0 else PositionSide.SHORT
    opened_by = Side.BUY if held > 0 else Side.SELL
    tick = advanced_orders.tick_of(position.symbol, now)
    market = advanced_orders.market_price(broker, position.symbol, fallback=position.avg_price)
    split = split_position(abs(held), _parsed(targets_value))
    entry = advanced_orders.entry_price(position)
    levels = _levels(opened_by, entry, market, tick, split.legs)
    if stop_loss_price is not None:
        _check_stop(side, stop_loss_price, market, tick)
    break_even = None
    if break_even_value is not None:
        if stop_loss_price is None:
            message = "moves a stop: give stop_loss_price with it"
            raise InvalidInput(f"break_even: {message}.", {"break_even": message})
        spec = advanced_orders.parse_break_even_value(break_even_value)
        if spec.on_first_target:  # armed where the nearest target fills
            stop_level = break_even_rules.level(side, entry, spec, tick)
            break_even = (levels[0], stop_level)
        else:
            break_even = advanced_orders.break_even_levels(break_even_value, position, side, tick)
        advanced_orders.check_break_even_before(side, break_even, levels[-1])
    stops = abs(held) if stop_loss_price is not None else 0
    advanced_orders.make_room(broker, position, held, stops=stops, takes=abs(held), replace=replace)
    group = f"t-{uuid.uuid4().hex[:16]}"
    stop = None
    if stop_loss_price is not None:
        stop = _exit(position, opened_by, abs(held), group, OrderRole.STOP_LOSS)
        stop.order_type, stop.stop_price = OrderType.STOP, stop_loss_price
        orders.place_row(broker, stop)
    targets = []
    notes = list(split.merged)
    for leg, level in zip(split.legs, levels, strict=True):
        target = _exit(position, opened_by, leg.qty, group, OrderRole.TAKE_PROFIT)
        target.order_type, target.limit_price = OrderType.LIMIT, level
        target.reason = "; ".join(notes) or None
        notes = []
        targets.append(target)
    working_stop = stop if stop is not None and stop.status in orders.OPEN_STATUSES else None
    placed = ([stop] if stop is not None else []) + orders.place_targets(
        broker, targets, working_stop
    )
    if break_even is not None:
        what = f"the {position.symbol} position's targets"
        advanced_orders.watch_exits_break_even(placed, side, tick, break_even, what)
    return placed


def _parsed(value: object) -> tuple[Target, ...]:
    try:
        return parse_targets(value, "targets")
    except DomainValidationError as exc:
        raise InvalidInput(f"{exc.field}: {exc.message}", {exc.field: exc.message}) from None


def _levels(
    opened_by: Side, entry: Decimal, market: Decimal, tick: Decimal, legs: tuple[TargetLeg, ...]
) -> tuple[Decimal, ...]:
    """Each target's price from the entry; one at or through the market would fill at once."""
    try:
        levels = target_prices(opened_by, entry, tick, legs)
    except DomainValidationError as exc:
        field = exc.field.replace("take_profit", "targets")
        raise InvalidInput(f"{field}: {exc.message}", {field: exc.message}) from None
    long = opened_by is Side.BUY
    for index, level in enumerate(levels):
        if (level <= market) if long else (level >= market):
            field = f"targets[{index}]"
            message = (
                f"{shown(level)} is not beyond the market {shown(market)}: it would fill at once"
            )
            raise InvalidInput(f"{field}: {message}.", {field: message})
    return levels


def _check_stop(side: PositionSide, stop: Decimal, market: Decimal, tick: Decimal) -> None:
    field = "stop_loss_price"
    if not is_on_tick(stop, tick):
        message = f"{shown(stop)} is not on the {shown(tick)} tick grid"
        raise InvalidInput(f"{field}: {message}.", {field: message})
    long = side is PositionSide.LONG
    if (stop >= market) if long else (stop <= market):
        where = "below" if long else "above"
        message = (
            f"must be {where} the market {shown(market)} for a {side.value}, got {shown(stop)}"
        )
        raise InvalidInput(f"{field}: {message}.", {field: message})


def _exit(position: Position, opened_by: Side, qty: int, group: str, role: OrderRole) -> Order:
    return Order(
        account_id=position.account_id,
        strategy_id=position.strategy_id,
        client_order_id=orders.new_client_order_id(),
        symbol=position.symbol,
        side=opened_by.opposite,
        quantity=qty,
        role=role,
        group_id=group,
        status=OrderStatus.PENDING,
        filled_quantity=0,
    )
