"""Where an entry's exits would go from a reference price, before anything is sent.

The order ticket and the strategy form show these prices from the live price as the trader
types; an exit that makes no sense (a long's target below its entry, break-even beyond the
last target, a target list out of order) is refused here with the field named, by the
same rules the order itself meets once sent (`oco.exit_prices`, `targets`, `break_even`).
"""

from dataclasses import dataclass
from decimal import Decimal

from app.domain import break_even as break_even_rules
from app.domain.break_even import BreakEvenSpec
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, TrailingSpec
from app.domain.oco import exit_prices
from app.domain.targets import Target, split_position, target_prices
from app.domain.trailing import Trail, stop_for
from app.domain.vocabulary import PositionSide, Side


@dataclass(frozen=True)
class TargetLevel:
    qty: int
    price: Decimal


@dataclass(frozen=True)
class ExitPreview:
    reference_price: Decimal
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    targets: tuple[TargetLevel, ...] = ()
    merged: tuple[str, ...] = ()  # targets of no whole contract, merged into the next
    trailing_stop_price: Decimal | None = None  # its first stop (None: waits to activate)
    break_even_trigger: Decimal | None = None
    break_even_stop: Decimal | None = None


def check_rules(
    *,
    market: bool,
    stop_loss: bool,
    trailing: TrailingSpec | None,
    targets: bool,
    break_even: BreakEvenSpec | None,
) -> None:
    """What an entry's exits must be, whatever the prices: scale-out targets and
    break-even are set from a market entry's fill; targets go beside a stop, not a trail;
    break-even needs a stop to move, and `"first_target"` needs targets. Raises naming
    the field."""
    if targets and not market:
        raise DomainValidationError(
            "take_profit", "scale-out targets are followed on market entries for now"
        )
    if targets and trailing is not None:
        raise DomainValidationError(
            "take_profit", "scale-out targets beside a trailing stop are not followed yet"
        )
    if break_even is None:
        return
    if break_even.on_first_target and not targets:
        raise DomainValidationError(
            "break_even.trigger", '"first_target" needs scale-out targets (take_profit as a list)'
        )
    if not stop_loss and trailing is None:
        raise DomainValidationError(
            "break_even", "moves a stop: send stop_loss or trailing_stop with it"
        )
    if not stop_loss and trailing.activation is not None:
        raise DomainValidationError(
            "break_even",
            "a trailing stop that waits for its activation has no stop to move; "
            "send stop_loss with it",
        )
    if not market:
        raise DomainValidationError(
            "break_even", "is followed on market entries for now: their fill sets its prices"
        )


def preview_exits(
    side: Side,
    reference: Decimal,
    tick: Decimal,
    qty: int,
    *,
    take_profit: ExitSpec | None = None,
    stop_loss: ExitSpec | None = None,
    targets: tuple[Target, ...] | None = None,
    trailing: TrailingSpec | None = None,
    break_even: BreakEvenSpec | None = None,
    market: bool = True,
) -> ExitPreview:
    """The exits of a `qty`-lot entry on `side` filled at `reference` (a `market` one, or
    a limit or stop one at its price); DomainValidationError names the first exit at
    fault (`check_rules` first)."""
    check_rules(
        market=market,
        stop_loss=stop_loss is not None,
        trailing=trailing,
        targets=bool(targets),
        break_even=break_even,
    )
    levels = exit_prices(side, reference, tick, take_profit, stop_loss)
    target_levels: tuple[TargetLevel, ...] = ()
    merged: tuple[str, ...] = ()
    if targets:
        split = split_position(qty, targets)
        prices = target_prices(side, reference, tick, split.legs)
        target_levels = tuple(
            TargetLevel(leg.qty, price) for leg, price in zip(split.legs, prices, strict=True)
        )
        merged = split.merged
    held = PositionSide.LONG if side is Side.BUY else PositionSide.SHORT
    trail_stop = _first_trail_stop(trailing, held, reference, tick)
    trigger = stop = None
    if break_even is not None:
        if break_even.on_first_target:
            trigger = target_levels[0].price
        else:
            trigger = break_even_rules.trigger_price(held, reference, break_even, tick)
        stop = break_even_rules.level(held, reference, break_even, tick)
        farthest = target_levels[-1].price if target_levels else levels.take_profit
        if farthest is not None:
            break_even_rules.check_before(held, trigger, stop, farthest)
    return ExitPreview(
        reference,
        levels.take_profit,
        levels.stop_loss,
        target_levels,
        merged,
        trail_stop,
        trigger,
        stop,
    )


def _first_trail_stop(
    spec: TrailingSpec | None, held: PositionSide, reference: Decimal, tick: Decimal
) -> Decimal | None:
    if spec is None or spec.activation is not None:
        return None
    try:
        trail = Trail(held, spec.trail.unit, spec.trail.amount, tick)
    except DomainValidationError as exc:
        raise DomainValidationError("trailing_stop", exc.message) from None
    return stop_for(trail, reference)
