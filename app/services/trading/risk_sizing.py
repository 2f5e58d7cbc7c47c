"""An account's risk mode applied to one alert (domain.risk_modes.decide): refuse an alert
that is too unsure, size an entry that carries a stop loss by the money it risks, and keep
the size the mode gave a position against the strategy's own sizes.

The sizing reads the account's equity from its broker and the stop's distance from the
entry's reference price (the alert's price, else the last quote), so it happens under the
account's lock, after the position was read and before the risk checks, which then see
the resized order like any other. Each resize is written to the audit log with its
figures: the order's size is no longer the strategy's, and the trader must see why.
"""

from decimal import Decimal

from app.brokers.base import Broker
from app.brokers.errors import BrokerError
from app.domain.contracts import Contract
from app.domain.risk_modes import ModeDecision, decide
from app.domain.signals import Signal
from app.domain.vocabulary import AuditCategory, Severity
from app.models import RiskLimits
from app.services.market import prices
from app.services.records import audit


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
    """The mode's word on an order moving the position from `current` by `delta`
    (`synced`: a position-sync target governs it); an account without a mode passes
    every order as it is."""
    mode = limits.risk_mode
    if mode is None:
        return ModeDecision(delta)
    quote = prices.last(contract.code)
    entry = signal.price or (quote.price if quote else None)
    try:
        decision = decide(
            mode,
            signal,
            contract.code,
            current,
            delta,
            synced=synced,
            entry=entry,
            tick_size=contract.spec.tick_size,
            tick_value=contract.spec.tick_value,
            equity=lambda: broker.account_state().equity,
            max_per_order=limits.max_contracts_per_order,
            max_position=limits.max_position,
        )
    except BrokerError as exc:
        return ModeDecision(
            delta, f"risk mode {mode.value}: cannot read the account's equity: {exc.message}"
        )
    size = decision.size
    if size is not None and decision.delta != delta:
        audit.record(
            AuditCategory.RISK,
            f"risk mode {mode.value} sized {contract.code} to {abs(decision.delta)} contracts "
            f"(the alert asked {abs(delta)}): {_cents(size.budget)} at risk over "
            f"{size.per_contract} per contract to the stop at {decision.stop}",
            severity=Severity.INFO,
            account_id=limits.account_id,
            strategy_id=strategy_id,
            data={
                "risk_mode": mode.value,
                "asked": abs(delta),
                "sized": abs(decision.delta),
                "equity": str(decision.equity),
                "budget": str(size.budget),
                "per_contract": str(size.per_contract),
                "entry": str(entry),
                "stop": str(decision.stop),
            },
        )
    return decision


def _cents(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))
