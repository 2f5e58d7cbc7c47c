"""The drawdown under an equity curve: how far each point stands below the highest point
before it (inclusive), in money, exact."""

from collections.abc import Iterable
from decimal import Decimal


def drawdowns(equities: Iterable[Decimal]) -> list[Decimal]:
    """Peak-to-point distance at each point (0 at a new high), in the curve's order."""
    peak: Decimal | None = None
    found = []
    for equity in equities:
        peak = equity if peak is None else max(peak, equity)
        found.append(peak - equity)
    return found
