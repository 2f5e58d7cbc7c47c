"""Maximum adverse and favourable excursion (MAE / MFE) of a closed trade, from its bars.

MAE is the most money the trade was ever down while open, MFE the most it was ever up:
for a long, (entry − lowest low) and (highest high − entry); for a short the other way
round; each in money over the trade's whole quantity (points × point value × contracts)
and never below 0 (a trade that never went against the trader has an MAE of 0).

The bars are 1-minute bars, so this is an approximation at bar resolution: the bars of
the entry minute and of the exit minute are included whole, so a move in those minutes
before the entry or after the exit counts too (an excursion can be overstated, never
missed), and the average entry price stands for every contract, as if the trade held its
whole quantity from its entry to its exit (a scale-in or a partial exit is not followed).

Pure: plain data in, plain data out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from app.domain.bars import Bar
from app.domain.vocabulary import PositionSide

MINUTE = timedelta(minutes=1)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Excursion:
    mae: Decimal  # money, ≥ 0
    mfe: Decimal  # money, ≥ 0


def bar_window(entry_time: datetime, exit_time: datetime) -> tuple[datetime, datetime]:
    """The starts of the 1-minute bars a trade was open across: from its entry minute's
    to its exit minute's, both included."""
    return entry_time.replace(second=0, microsecond=0), exit_time


def excursion(
    side: PositionSide, entry_price: Decimal, qty: int, point_value: Decimal, bars: Sequence[Bar]
) -> Excursion | None:
    """MAE and MFE over `bars` (see the module); None without a bar: nothing is known."""
    if not bars:
        return None
    low = min(bar.low for bar in bars)
    high = max(bar.high for bar in bars)
    down, up = (entry_price - low, high - entry_price)
    if side is PositionSide.SHORT:
        down, up = (high - entry_price, entry_price - low)
    scale = point_value * qty
    return Excursion(mae=max(down, ZERO) * scale, mfe=max(up, ZERO) * scale)
