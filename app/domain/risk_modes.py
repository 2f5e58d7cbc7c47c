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

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from app.domain.vocabulary import RiskMode


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
