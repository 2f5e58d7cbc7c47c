"""Break-even: once a trade works, its stop moves to the entry (plus an offset) and stays.

`break_even` is `{"trigger": <offset> | "first_target", "offset": <offset>}` (DESIGN §5.2),
offsets in ticks, points or percent of the entry. Pure arithmetic over `Decimal`; the
monitor keeps the state and moves the broker's stop. The rules:

- **Trigger.** An offset into profit from the entry gives a price (rounded toward the
  entry, as a trail's activation is: break-even arms no later than asked); the first
  print at or beyond it (long: at or above) arms the move. `"first_target"` arms it when
  the first scale-out target fills instead.
- **Level.** Entry plus the offset for a long, minus for a short; on the tick grid,
  rounded away from the entry, so the stop keeps at least what was asked even when the
  entry is an average off the grid. No offset means the entry itself (rounded the same way).
- **Never looser.** The new stop is the tighter of the level and the stop already there
  (long: the higher); combined with a trailing stop, the tighter of the two wins
  (`tighter`). A stop that would not move is held.
- **Exit.** A stop at or through the current price (long: at or above it) would trigger
  at once and brokers refuse it: the position is out at the market instead, as a trail
  whose price passed its stop is.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.contracts import TickRounding, round_to_tick
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit, parse_exit
from app.domain.numbers import shown
from app.domain.trailing import activation_price
from app.domain.vocabulary import PositionSide

FIRST_TARGET = "first_target"
_OFFSET_UNITS = (OffsetUnit.TICKS, OffsetUnit.POINTS, OffsetUnit.PERCENT)


@dataclass(frozen=True)
class BreakEvenSpec:
    """When to move the stop (an offset, or None for the first target's fill) and how far
    past the entry (None: to the entry itself)."""

    trigger: ExitSpec | None
    offset: ExitSpec | None = None

    @property
    def on_first_target(self) -> bool:
        return self.trigger is None

    def to_json(self) -> dict:
        data: dict = {"trigger": FIRST_TARGET if self.trigger is None else self.trigger.to_json()}
        if self.offset is not None:
            data["offset"] = self.offset.to_json()
        return data


class BreakEvenAction(StrEnum):
    WAIT = "wait"  # not triggered yet
    HOLD = "hold"  # the stop is already at least as tight as break-even
    MOVE = "move"  # modify the broker's stop to `stop`
    EXIT = "exit"  # the price is already back through break-even: out at the market


@dataclass(frozen=True)
class BreakEvenStep:
    action: BreakEvenAction
    stop: Decimal | None


def parse_break_even(value: object, field: str = "break_even") -> BreakEvenSpec:
    """`{"trigger": {...} | "first_target", "offset": {...}}`; the offset is optional."""
    if not isinstance(value, dict):
        raise DomainValidationError(field, 'must be an object like {"trigger": {"ticks": 8}}')
    unknown = sorted(set(value) - {"trigger", "offset"})
    if unknown:
        raise DomainValidationError(
            field, f"unknown key {str(unknown[0])[:40]!r}; use trigger and offset"
        )
    trigger_value = value.get("trigger")
    if trigger_value is None:
        raise DomainValidationError(
            f"{field}.trigger", f'is required: an offset or "{FIRST_TARGET}"'
        )
    trigger = (
        None if trigger_value == FIRST_TARGET else _distance(trigger_value, f"{field}.trigger")
    )
    offset = None
    if value.get("offset") is not None:
        offset = _distance(value["offset"], f"{field}.offset")
    return BreakEvenSpec(trigger, offset)


def _distance(value: object, field: str) -> ExitSpec:
    spec = parse_exit(value, field)
    if spec.unit not in _OFFSET_UNITS:
        raise DomainValidationError(field, "is a distance from the entry: ticks, points or percent")
    return spec


def trigger_price(
    side: PositionSide, entry: Decimal, spec: BreakEvenSpec, tick: Decimal
) -> Decimal | None:
    """The print that arms the move; None when the first target's fill arms it."""
    if spec.trigger is None:
        return None
    return activation_price(side, entry, spec.trigger, tick)


def triggered(side: PositionSide, price: Decimal, trigger: Decimal) -> bool:
    return price >= trigger if side is PositionSide.LONG else price <= trigger


def level(side: PositionSide, entry: Decimal, spec: BreakEvenSpec, tick: Decimal) -> Decimal:
    """Entry ± offset on the tick grid, rounded away from the entry."""
    gap = Decimal(0)
    if spec.offset is not None:
        if spec.offset.unit is OffsetUnit.TICKS:
            gap = spec.offset.amount * tick
        elif spec.offset.unit is OffsetUnit.POINTS:
            gap = spec.offset.amount
        else:
            gap = entry * spec.offset.amount / 100
    if side is PositionSide.LONG:
        return round_to_tick(entry + gap, tick, TickRounding.UP)
    return round_to_tick(entry - gap, tick, TickRounding.DOWN)


def tighter(side: PositionSide, first: Decimal | None, second: Decimal | None) -> Decimal | None:
    """The stop nearer the market of two (a long's higher one); either may be absent."""
    if first is None or second is None:
        return second if first is None else first
    return max(first, second) if side is PositionSide.LONG else min(first, second)


def step(
    side: PositionSide,
    price: Decimal,
    stop: Decimal | None,
    break_even: Decimal,
    armed: bool,
) -> BreakEvenStep:
    """What a print asks of the stop once break-even is `armed` (its trigger reached or
    its first target filled): the tighter of the stop and `break_even`, held, moved, or
    an exit when the price is already at or through it."""
    if not armed:
        return BreakEvenStep(BreakEvenAction.WAIT, stop)
    target = tighter(side, stop, break_even)
    through = price <= target if side is PositionSide.LONG else price >= target
    if through:
        return BreakEvenStep(BreakEvenAction.EXIT, target)
    if target == stop:
        return BreakEvenStep(BreakEvenAction.HOLD, stop)
    return BreakEvenStep(BreakEvenAction.MOVE, target)


def check_before(side: PositionSide, trigger: Decimal, stop: Decimal, take_profit: Decimal) -> None:
    """Break-even that arms or stops at or beyond the (farthest) take profit would never
    act: the position is out first. Raises naming the part at fault."""
    long = side is PositionSide.LONG
    for field, price in (("break_even.trigger", trigger), ("break_even.offset", stop)):
        if (price >= take_profit) if long else (price <= take_profit):
            raise DomainValidationError(
                field, f"{shown(price)} is at or beyond the take profit {shown(take_profit)}"
            )
