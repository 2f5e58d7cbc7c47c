"""How many contracts a trader sends for an alert, and which way.

An alert says what the strategy wants (buy/sell a quantity, exit, reverse, or a target
position); a trader scales it (a multiplier, or a fixed quantity); the broker's actual
position turns a target into the difference to order, so a missed alert heals itself.
"""

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum


class Intent(StrEnum):
    BUY = "buy"
    SELL = "sell"
    EXIT = "exit"
    REVERSE = "reverse"
    SYNC = "sync"


@dataclass(frozen=True)
class Sizing:
    multiplier: Decimal = Decimal(1)
    fixed_quantity: int | None = None

    def scale(self, quantity: int) -> int:
        """Scale an alert's quantity; fractions round down, so 0.5 × 1 sends nothing."""
        if quantity == 0:
            return 0
        if self.fixed_quantity is not None:
            return self.fixed_quantity
        return int((Decimal(quantity) * self.multiplier).to_integral_value(ROUND_FLOOR))


def governing_intent(action: Intent, position_sync: bool, target: int | None) -> Intent:
    """Which part of the alert decides the order (DESIGN §4).

    TradingView's strategy message carries both an action and the strategy's new position.
    In position-sync mode the target governs whenever the alert states one, so a missed
    or repeated alert heals itself against the broker's position; in orders mode, and
    when no target is stated, the action does.
    """
    if position_sync and target is not None:
        return Intent.SYNC
    return action


def stated_change(intent: Intent, sizing: Sizing, quantity: int | None) -> int | None:
    """The signed change an alert asks for on its own, without the position: buy and sell
    state theirs; exit, reverse and a target depend on the position held (None)."""
    if intent is Intent.BUY:
        return sizing.scale(quantity or 0)
    if intent is Intent.SELL:
        return -sizing.scale(quantity or 0)
    return None


def target_position(
    intent: Intent, current: int, sizing: Sizing, quantity: int | None, target: int | None
) -> int:
    """The position the trader should hold after the alert.

    buy/sell add the scaled quantity; exit goes flat; reverse ends opposite with the
    scaled quantity (or the current size); sync goes to the scaled signed target.
    """
    if intent is Intent.BUY:
        return current + sizing.scale(quantity or 0)
    if intent is Intent.SELL:
        return current - sizing.scale(quantity or 0)
    if intent is Intent.EXIT:
        return 0
    if intent is Intent.REVERSE:
        size = sizing.scale(quantity) if quantity else abs(current)
        if current > 0:
            return -size
        if current < 0:
            return size
        return 0
    signed_target = target or 0
    size = sizing.scale(abs(signed_target))
    return size if signed_target > 0 else -size
