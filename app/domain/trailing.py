"""Trailing stops: a stop that follows the best price seen and never loosens.

Pure arithmetic over `Decimal`; the monitor (services/monitor.py) keeps the state in the
database and moves the broker's stop order when `step` says so. The rules:

- **Distance.** `ticks`: n x tick; `points`: n; `percent`: n % of the best price seen,
  recomputed as the best price moves.
- **Side.** A long position's stop trails below the highest price seen, a short's above
  the lowest.
- **Rounding: toward the best price.** The exact level (long: best - distance) is put
  on the tick grid by rounding *toward* the best price — a long's stop rounds up, a
  short's down — so the stop is never farther from the best price than the trail asked
  for (never looser), and always on the grid. Rounding the other way would give away up
  to a tick on every contract.
- **At least one tick.** The stop sits on the grid strictly below a long's best price
  (above a short's): a stop at the price would trigger at once and brokers refuse it.
  A trail narrower than one tick therefore trails by one tick; the services refuse such
  trails when they are created, so in practice this only guards the arithmetic.
- **Ratchet.** The stop only tightens: long `max(stop, new)`, short `min(stop, new)`.
  Every move is a whole number of ticks (both levels are on the grid), so "moved by at
  least one tick" is "moved".
- **Activation.** With an activation price the trail waits: nothing happens until a
  print reaches it (long: at or above, short: at or below). That print becomes the best
  price and the stop is set from it. Without one the trail is active from its first
  print. `activation_price` turns an offset from the entry into that price, rounded
  toward the entry (the trail starts no later than asked).
- **Exit.** Once active, a print at or through the stop (long: at or below it) is an
  exit at the market, whatever the gap: the stop is never "moved below" a price that has
  already passed it.
"""

from dataclasses import dataclass, replace
from decimal import Context, Decimal, localcontext
from enum import StrEnum

from app.domain.contracts import TickRounding, round_to_tick
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.vocabulary import PositionSide

TRAIL_UNITS = (OffsetUnit.TICKS, OffsetUnit.POINTS, OffsetUnit.PERCENT)
# Enough digits that a percent of any parsed price stays exact.
_EXACT = Context(prec=60)


class TrailAction(StrEnum):
    """What a print asks of the broker."""

    WAIT = "wait"  # not activated yet: no stop exists
    HOLD = "hold"  # the stop stays where it is (the best price may have moved less than a tick)
    ACTIVATE = "activate"  # the trail has started: place the stop
    TIGHTEN = "tighten"  # the stop moved toward the price: modify it
    EXIT = "exit"  # the price reached or gapped through the stop: out at the market


@dataclass(frozen=True)
class Trail:
    """The terms of one trailing stop: which side it protects and how far it trails."""

    side: PositionSide
    unit: OffsetUnit
    amount: Decimal
    tick: Decimal
    activation_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.unit not in TRAIL_UNITS:
            raise DomainValidationError(
                "trail", f"a trail is in ticks, points or percent, not {self.unit}"
            )
        if not self.amount > 0:
            raise DomainValidationError("trail", "must be greater than zero")
        if self.unit is OffsetUnit.PERCENT and self.amount >= 100:
            raise DomainValidationError("trail", "a percent trail must be below 100")
        if not self.tick > 0:
            raise DomainValidationError("tick", "must be greater than zero")

    @property
    def long(self) -> bool:
        return self.side is PositionSide.LONG


@dataclass(frozen=True)
class TrailState:
    """Where a trailing stop stands: everything needed to resume it after a restart."""

    trail: Trail
    activated: bool = False
    best: Decimal | None = None  # best price seen since activation
    stop: Decimal | None = None  # the current stop, on the tick grid


def distance(trail: Trail, best: Decimal) -> Decimal:
    """The trail's distance in price units at the best price `best`."""
    with localcontext(_EXACT):
        if trail.unit is OffsetUnit.TICKS:
            return trail.amount * trail.tick
        if trail.unit is OffsetUnit.POINTS:
            return trail.amount
        return best * trail.amount / 100


def stop_for(trail: Trail, best: Decimal) -> Decimal:
    """The stop a best price asks for: on the grid, at most the trail away, at least a tick."""
    tick = trail.tick
    gap = distance(trail, best)
    with localcontext(_EXACT):
        if trail.long:
            exact = round_to_tick(best - gap, tick, TickRounding.UP)
            return min(exact, round_to_tick(best, tick, TickRounding.UP) - tick)
        exact = round_to_tick(best + gap, tick, TickRounding.DOWN)
        return max(exact, round_to_tick(best, tick, TickRounding.DOWN) + tick)


def crossed(side: PositionSide, price: Decimal, stop: Decimal) -> bool:
    """Whether `price` is at or through a stop protecting a position on `side`."""
    return price <= stop if side is PositionSide.LONG else price >= stop


def reaches_activation(side: PositionSide, price: Decimal, activation: Decimal) -> bool:
    return price >= activation if side is PositionSide.LONG else price <= activation


def tighter(side: PositionSide, new: Decimal, old: Decimal) -> bool:
    """Whether stop `new` is closer to the market than `old` (the only way a stop moves)."""
    return new > old if side is PositionSide.LONG else new < old


def start(trail: Trail) -> TrailState:
    """A trail before its first print."""
    return TrailState(trail)


def step(state: TrailState, price: Decimal) -> tuple[TrailState, TrailAction]:
    """Apply one print; the new state and what the broker's stop order must do."""
    trail = state.trail
    if not state.activated or state.best is None or state.stop is None:
        activation = trail.activation_price
        if not state.activated and activation is not None:
            if not reaches_activation(trail.side, price, activation):
                return state, TrailAction.WAIT
        activated = replace(state, activated=True, best=price, stop=stop_for(trail, price))
        return activated, TrailAction.ACTIVATE
    if crossed(trail.side, price, state.stop):
        return state, TrailAction.EXIT
    best = max(state.best, price) if trail.long else min(state.best, price)
    if best == state.best:
        return state, TrailAction.HOLD
    candidate = stop_for(trail, best)
    stop = candidate if tighter(trail.side, candidate, state.stop) else state.stop
    moved = replace(state, best=best, stop=stop)
    return moved, TrailAction.TIGHTEN if stop != state.stop else TrailAction.HOLD


def activation_price(side: PositionSide, entry: Decimal, spec: ExitSpec, tick: Decimal) -> Decimal:
    """The price that starts a trail: `spec` as a price, or an offset into profit from
    `entry`, rounded toward the entry."""
    if spec.unit is OffsetUnit.PRICE:
        return spec.amount
    with localcontext(_EXACT):
        if spec.unit is OffsetUnit.TICKS:
            gap = spec.amount * tick
        elif spec.unit is OffsetUnit.POINTS:
            gap = spec.amount
        else:
            gap = entry * spec.amount / 100
        if side is PositionSide.LONG:
            return round_to_tick(entry + gap, tick, TickRounding.DOWN)
        return round_to_tick(entry - gap, tick, TickRounding.UP)
