"""Symbol mapping: a strategy charted on one contract trades another (chart NQ, trade MNQ).

The alert names what the chart shows; the strategy says what the account trades
(`trade_symbol`) and how many of those per charted contract (`quantity_ratio`: 10 keeps an
NQ strategy's dollar size on MNQ, 1 trades one micro per signal). The mapped signal keeps
what was charted (`Signal.charted`) so the alert's record says both.

Only the contract and the counts change. Prices travel as they are — a limit price, an
exit at a price level, the alert's price for slippage — which is right for the intended
use, a smaller contract on the same index (NQ/MNQ, ES/MES, YM/MYM, RTY/M2K, GC/MGC, CL/MCL
quote the same price); a mapping between contracts that quote different prices is the
trader's to avoid, and the README says so.

A count that the ratio does not turn into whole contracts is refused, not rounded: a
strategy that sized "1 NQ" must not silently become 0 or 1 MNQ by a rounding rule the
trader never chose.
"""

from dataclasses import dataclass, replace
from decimal import Decimal

from app.domain.numbers import shown
from app.domain.signals import Charted, Signal, SignalError


@dataclass(frozen=True)
class SymbolMapping:
    trade_symbol: str | None = None
    quantity_ratio: Decimal | None = None

    @property
    def changes_anything(self) -> bool:
        return self.trade_symbol is not None or (
            self.quantity_ratio is not None and self.quantity_ratio != 1
        )


def map_signal(signal: Signal, mapping: SymbolMapping, max_quantity: int) -> Signal:
    """The signal the account trades: the mapped contract, counts times the ratio."""
    if not mapping.changes_anything:
        return signal
    ratio = mapping.quantity_ratio or Decimal(1)
    return replace(
        signal,
        symbol=mapping.trade_symbol or signal.symbol,
        quantity=_scaled(signal.quantity, ratio, "quantity", max_quantity),
        position_size=_scaled(signal.position_size, ratio, "position_size", max_quantity),
        charted=Charted(signal.symbol, signal.quantity, signal.position_size),
    )


def _scaled(count: int | None, ratio: Decimal, field: str, max_quantity: int) -> int | None:
    if count is None:
        return None
    scaled = count * ratio
    if scaled != scaled.to_integral_value():
        raise SignalError(
            field,
            f"{count} × the strategy's quantity ratio {shown(ratio)} is {shown(scaled)} "
            "contracts, not a whole number; nothing was sent",
        )
    whole = int(scaled)
    if abs(whole) > max_quantity:
        raise SignalError(
            field,
            f"{count} × the strategy's quantity ratio {shown(ratio)} is {abs(whole)} "
            f"contracts, above the cap of {max_quantity}",
        )
    return whole
