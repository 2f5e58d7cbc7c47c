"""An account's risk mode applied to one alert (domain.risk_modes): refuse an alert that
is too unsure, and size an entry that carries a stop loss by the money it risks.

The sizing reads the account's equity from its broker and the stop's distance from the
entry's reference price (the alert's price, else the last quote), so it happens under the
account's lock, after the position was read and before the risk checks, which then see
the resized order like any other. Each resize is written to the audit log with its
figures: the order's size is no longer the strategy's, and the trader must see why.
"""

from dataclasses import dataclass
from decimal import Decimal

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain.contracts import Contract
from app.domain.errors import DomainValidationError
from app.domain.oco import exit_prices
from app.domain.risk import ProposedOrder, reduces_only
from app.domain.risk_modes import (
    MODE_RULES,
    capped,
    confidence_refusal,
    entry_side_position,
    resized,
    risk_size,
)
from app.domain.signals import MarketPosition, Signal
from app.domain.vocabulary import AuditCategory, Severity, Side
from app.models import RiskLimits
from app.services.market import prices
from app.services.records import audit


@dataclass(frozen=True)
class ModeDecision:
    """The order's signed change after the mode (`delta`), or why the mode refuses it."""

    delta: int
    refusal: str | None = None


def apply_risk_mode(
    limits: RiskLimits,
    broker: Broker,
    signal: Signal,
    contract: Contract,
    current: int,
    delta: int,
    strategy_id: int | None = None,
    synced: bool = False,
) -> ModeDecision:
    """The mode's word on an order moving the position from `current` by `delta`. Any
    order on an account without a mode passes as it is; so does an entry without a stop
    loss (no distance to size by).

    The mode owns the size of what it opened, so the strategy's own sizes no longer map
    onto the position: a position-sync target (`synced`) on the side already held keeps
    the position (a repeated or rescaled target would otherwise trade the mode's size back
    to the strategy's), and an alert that says its strategy is now flat (`position_size`
    0 or `market_position` flat) closes the position whole. Any other order that only
    reduces passes as it is: getting out is never refused or resized."""
    mode = limits.risk_mode
    if mode is None:
        return ModeDecision(delta)
    after = current + delta
    if synced and current and after and (after > 0) == (current > 0):
        return ModeDecision(0)
    if reduces_only(ProposedOrder(contract.code, delta), current):
        flat = signal.position_size == 0 or signal.market_position is MarketPosition.FLAT
        return ModeDecision(-current if flat else delta)
    refusal = confidence_refusal(mode, signal.confidence)
    if refusal or signal.stop_loss is None:
        return ModeDecision(delta, refusal)
    quote = prices.last(contract.code)
    entry = signal.price or (quote.price if quote else None)
    if entry is None:
        return ModeDecision(
            delta,
            f"risk mode {mode.value}: no price for {contract.code} to measure the stop "
            "loss's distance, so the entry cannot be sized by its risk",
        )
    spec = contract.spec
    side = Side.BUY if delta > 0 else Side.SELL
    try:
        stop = exit_prices(side, entry, spec.tick_size, None, signal.stop_loss).stop_loss
        equity = broker.account_state().equity
    except DomainValidationError as exc:
        return ModeDecision(delta, f"risk mode {mode.value}: {exc.field} {exc.message}")
    except BrokerError as exc:
        return ModeDecision(
            delta, f"risk mode {mode.value}: cannot read the account's equity: {exc.message}"
        )
    size = risk_size(mode, equity, entry, stop, spec.tick_size, spec.tick_value)
    share = MODE_RULES[mode].risk_share * 100
    if size.quantity == 0:
        return ModeDecision(
            delta,
            f"risk mode {mode.value}: one {contract.code} contract risks {size.per_contract} "
            f"to the stop at {stop}, more than the {_cents(size.budget)} ({share:f}% of "
            f"equity {_cents(equity)}) a trade may risk",
        )
    held = entry_side_position(current, delta)
    # Within the hard limits; where they leave no room, the full size goes to the risk
    # checks, which refuse it naming the limit.
    opening = (
        capped(size.quantity, held, limits.max_contracts_per_order, limits.max_position)
        or size.quantity
    )
    sized = resized(current, delta, opening)
    if sized != delta:
        audit.record(
            AuditCategory.RISK,
            f"risk mode {mode.value} sized {contract.code} to {abs(sized)} contracts "
            f"(the alert asked {abs(delta)}): {_cents(size.budget)} at risk over "
            f"{size.per_contract} per contract to the stop at {stop}",
            severity=Severity.INFO,
            account_id=limits.account_id,
            strategy_id=strategy_id,
            data={
                "risk_mode": mode.value,
                "asked": abs(delta),
                "sized": abs(sized),
                "equity": str(equity),
                "budget": str(size.budget),
                "per_contract": str(size.per_contract),
                "entry": str(entry),
                "stop": str(stop),
            },
        )
    return ModeDecision(sized)


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))
