"""Slippage: how far fills landed from the alert's price, in ticks and in money.

The sign is the trader's: positive when a fill was worse than the alert's price (a buy
above it, a sell below it), negative when better. Money is exact (price distance ×
point value × contracts); ticks per contract are exact for one fill and, averaged over
several, rounded to a hundredth of a tick, which is all a trader reads of them.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from app.domain.contracts import ContractSpec
from app.domain.vocabulary import Side

TICK_QUANTUM = Decimal("0.01")
# Enough digits that a price distance over a tick size stays exact.
_EXACT = Context(prec=60)


@dataclass(frozen=True)
class Slippage:
    qty: int
    ticks: Decimal  # per contract
    amount: Decimal  # over all `qty` contracts, in the account's currency


def of_fill(
    side: Side, reference: Decimal, price: Decimal, qty: int, spec: ContractSpec
) -> Slippage:
    """One fill of `qty` contracts at `price` against the alert's `reference` price."""
    with localcontext(_EXACT):
        points = price - reference if side is Side.BUY else reference - price
        return Slippage(qty, points / spec.tick_size, points * spec.point_value * qty)


def combined(parts: Iterable[Slippage]) -> Slippage | None:
    """Several fills as one: the money added up, the ticks averaged by contracts."""
    parts = [part for part in parts if part.qty > 0]
    if not parts:
        return None
    with localcontext(_EXACT):
        qty = sum(part.qty for part in parts)
        amount = sum((part.amount for part in parts), Decimal(0))
        ticks = sum((part.ticks * part.qty for part in parts), Decimal(0)) / qty
    if len(parts) > 1:
        ticks = ticks.quantize(TICK_QUANTUM, rounding=ROUND_HALF_EVEN)
    return Slippage(qty, ticks, amount)
