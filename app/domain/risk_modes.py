"""Risk modes (DESIGN §5.4): an account may size each entry by the money it risks instead
of by the strategy's quantities.

A mode sets three things: the share of the account's equity one trade may lose at its
stop, how many positions may be open at once, and how sure an alert must say it is
(`confidence`, 0–100) to be taken. With a stop loss, the entry's size is that dollar risk
over the stop's distance in the contract's tick value, rounded down; never above the
account's hard limits, which cap it. Without a stop there is no distance to size by, so
the strategy's quantities stand. No mode (null) is the default: the strategies' own
quantities, no threshold.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from app.domain.errors import DomainValidationError
from app.domain.oco import exit_prices
from app.domain.risk import ProposedOrder, reduces_only
from app.domain.signals import MarketPosition, Signal
from app.domain.vocabulary import RiskMode, Side

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ModeRule:
    risk_share: Decimal  # of equity at risk per trade
    max_open_positions: int
    min_confidence: Decimal  # an alert stating less is refused; one stating none is not


MODE_RULES: dict[RiskMode, ModeRule] = {
    RiskMode.CONSERVATIVE: ModeRule(Decimal("0.01"), 3, Decimal(75)),
    RiskMode.MODERATE: ModeRule(Decimal("0.02"), 5, Decimal(70)),
    RiskMode.AGGRESSIVE: ModeRule(Decimal("0.04"), 8, Decimal(80)),
}


def confidence_refusal(mode: RiskMode, confidence: Decimal | None) -> str | None:
    """Why an alert is too unsure for the mode, or None. An alert that states no
    confidence is not refused: most alerts never say, and the threshold is about alerts
    that say they are unsure."""
    threshold = MODE_RULES[mode].min_confidence
    if confidence is None or confidence >= threshold:
        return None
    return (
        f"risk mode {mode.value}: the alert's confidence {confidence} is below the "
        f"mode's threshold of {threshold}"
    )


def open_positions_limit(account_limit: int | None, mode: RiskMode | None) -> int | None:
    """The tighter of the account's own limit and its mode's."""
    if mode is None:
        return account_limit
    cap = MODE_RULES[mode].max_open_positions
    return cap if account_limit is None else min(account_limit, cap)


def open_positions_set_by(account_limit: int | None, mode: RiskMode | None) -> str | None:
    """ "risk mode …" when the mode's cap is the tighter one, so a refusal names its rule."""
    if mode is None or open_positions_limit(account_limit, mode) == account_limit:
        return None
    return f"risk mode {mode.value}"


@dataclass(frozen=True)
class RiskSize:
    """An entry sized by its risk: `quantity` contracts (0: not even one fits the budget),
    the dollar `budget` and what one contract risks at the stop."""

    quantity: int
    budget: Decimal
    per_contract: Decimal


def risk_size(
    mode: RiskMode,
    equity: Decimal,
    entry: Decimal,
    stop: Decimal,
    tick_size: Decimal,
    tick_value: Decimal,
) -> RiskSize:
    """Contracts whose loss at `stop` stays within the mode's share of `equity`.

    The distance is counted in whole ticks rounded up (the stop is on the grid, the entry
    reference may not be: an alert's price), so the risk is never understated; at least
    one, so a stop at the entry never divides by nothing. Equity at or below zero has no
    budget."""
    budget = max(equity, Decimal(0)) * MODE_RULES[mode].risk_share
    ticks = max((abs(entry - stop) / tick_size).to_integral_value(ROUND_CEILING), Decimal(1))
    per_contract = ticks * tick_value
    quantity = int((budget / per_contract).to_integral_value(ROUND_FLOOR))
    return RiskSize(quantity, budget, per_contract)


def capped(
    quantity: int, held_on_side: int, max_per_order: int | None, max_position: int | None
) -> int:
    """The sized entry within the account's hard limits: at most `max_per_order`, and no
    more than the position limit leaves beside the `held_on_side` contracts already held
    the entry's way (a reversal's closing part holds none: it frees room)."""
    if max_per_order is not None:
        quantity = min(quantity, max_per_order)
    if max_position is not None:
        quantity = min(quantity, max(max_position - held_on_side, 0))
    return max(quantity, 0)


def resized(current: int, delta: int, opening: int) -> int:
    """`delta` with its opening part replaced by `opening` contracts.

    A buy or sell that opens or adds opens all of its size; a reversal first closes the
    `current` position, which stays whole (getting out is never resized), then opens.
    An order that only reduces opens nothing and is returned as it is."""
    direction = 1 if delta > 0 else -1
    if current == 0 or (current > 0) == (delta > 0):
        return direction * opening
    if abs(delta) <= abs(current):
        return delta
    return direction * (abs(current) + opening)


def entry_side_position(current: int, delta: int) -> int:
    """The contracts already held on the entry's side, which the position limit counts."""
    if current == 0 or (current > 0) != (delta > 0):
        return 0
    return abs(current)


@dataclass(frozen=True)
class ModeDecision:
    """The order's signed change after the mode (`delta`; 0: the position is kept), or
    why the mode refuses it; `size`, `stop` and `equity` when it sized an entry."""

    delta: int
    refusal: str | None = None
    size: RiskSize | None = None
    stop: Decimal | None = None
    equity: Decimal | None = None


def decide(
    mode: RiskMode,
    signal: Signal,
    symbol: str,
    current: int,
    delta: int,
    *,
    synced: bool,
    entry: Decimal | None,
    tick_size: Decimal,
    tick_value: Decimal,
    equity: Callable[[], Decimal],
    max_per_order: int | None,
    max_position: int | None,
) -> ModeDecision:
    """The mode's word on an order moving the position from `current` by `delta`, for the
    live path and the replay alike. `entry` is the entry's reference price (the alert's,
    else the last), `equity` is asked only when an entry is sized.

    The mode owns the size of what it opened, so the strategy's own sizes no longer map
    onto the position: a position-sync target (`synced`) on the side already held keeps the
    position (a repeated or rescaled target would otherwise trade the mode's size back to
    the strategy's), and an alert that says its strategy is now flat (`position_size` 0 or
    `market_position` flat) closes the position whole. Any other order that only reduces
    passes as it is (getting out is never refused or resized), and so does an entry without
    a stop loss (no distance to size by)."""
    after = current + delta
    if synced and current and after and (after > 0) == (current > 0):
        return ModeDecision(0)
    if reduces_only(ProposedOrder(symbol, delta), current):
        flat = signal.position_size == 0 or signal.market_position is MarketPosition.FLAT
        return ModeDecision(-current if flat else delta)
    refusal = confidence_refusal(mode, signal.confidence)
    if refusal or signal.stop_loss is None:
        return ModeDecision(delta, refusal)
    if entry is None:
        return ModeDecision(
            delta,
            f"risk mode {mode.value}: no price for {symbol} to measure the stop loss's "
            "distance, so the entry cannot be sized by its risk",
        )
    side = Side.BUY if delta > 0 else Side.SELL
    try:
        stop = exit_prices(side, entry, tick_size, None, signal.stop_loss).stop_loss
    except DomainValidationError as exc:
        return ModeDecision(delta, f"risk mode {mode.value}: {exc.field} {exc.message}")
    funds = equity()
    size = risk_size(mode, funds, entry, stop, tick_size, tick_value)
    if size.quantity == 0:
        share = MODE_RULES[mode].risk_share * 100
        return ModeDecision(
            delta,
            f"risk mode {mode.value}: one {symbol} contract risks {size.per_contract} to the "
            f"stop at {stop}, more than the {size.budget.quantize(CENT)} ({share:f}% of "
            f"equity {funds.quantize(CENT)}) a trade may risk",
        )
    # Within the hard limits; where they leave no room, the full size goes to the risk
    # checks, which refuse it naming the limit.
    held = entry_side_position(current, delta)
    opening = capped(size.quantity, held, max_per_order, max_position) or size.quantity
    return ModeDecision(resized(current, delta, opening), size=size, stop=stop, equity=funds)
