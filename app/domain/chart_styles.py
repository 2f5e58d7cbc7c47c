"""Chart styles drawn from bars: Heikin-Ashi, Renko, Kagi and point & figure.

Every style is worked in whole ticks of the contract (`tick`), so prices stay exact and a
"reversal exactly at the threshold" is an integer comparison, never a float's guess.
Bars come in oldest first with prices on the tick grid (the bar builder and the import
keep them there); they are read through float64 and rounded to the nearest tick, which
is exact for any on-grid price under 2**40 ticks (the float quotient is then within
1e-3 of its whole number; a tick too small for that is refused), and takes a price off
the grid to its nearest tick. Prices go out as Decimals, `ticks * tick`. Box sizes must be
whole ticks; box boundaries are multiples of the box size counted from price 0, so the
same bars always give the same boxes whatever range is asked for.

- **Heikin-Ashi** (items like candles): HA close = (O + H + L + C) / 4, HA open =
  (previous HA open + previous HA close) / 2 (the first: (O + C) / 2), HA high =
  max(H, HA open, HA close), HA low = min(L, HA open, HA close). HA open and close are
  rounded to the nearest tick, halves to the even tick (so the rounding does not drift
  one way), and the rounded values feed the next bar, as the chart shows them. The
  series so stays within 1.5 ticks of the unrounded textbook one.
- **Renko** (close-based): a box size fixed, or the ATR(n) of the bars at the last bar
  rounded to the nearest tick (at least one tick). The first close's box is the start
  (not drawn). A brick is drawn for every full box a close passes beyond the last
  brick's range, so a trend continues one box past the last brick and a reversal needs
  two boxes (the new brick starts at the far end of the last one). A gap through
  several boxes draws them all at that bar's time.
- **Kagi** (close-based): a reversal amount in price or a percent of the line's
  extreme. The first line starts at the first close once a close is the reversal
  amount away from it. The line extends while closes go its way and turns when a close
  comes back at least the reversal amount from its extreme (at the threshold counts).
  It turns yang (thick) where it rises above the prior shoulder (the top of the last up
  line), yin (thin) where it falls below the prior waist (the bottom of the last down
  line); the first line is yang if it rises, yin if it falls. Points are the start,
  every turn, every change of thickness (at the shoulder or waist price) and the line's
  current end; each point's thickness is the line's from it to the next.
- **Point & figure** (high/low method): a box size and a reversal count (default 3).
  Boxes are price levels (multiples of the box): an X at a level means a high reached
  it, an O that a low did. The first bar's close gives the start level (floored to the
  grid); the first column starts when a later bar's high reaches a level above it (an X
  column from the start level up) or its low one below (an O column down), the high
  first when a bar does both. In an X column a bar's high that reaches a new level
  extends the column first; only if it does not is the low checked for a reversal, which
  needs the reversal count of boxes below the column's top and starts an O column one
  box below the top down to the low's level. The mirror for an O column. So every
  column after the first has at least the reversal count of boxes.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from typing import TypedDict

import numpy as np

from app.domain.bars import Bar
from app.domain.contracts import is_on_tick
from app.domain.errors import DomainValidationError
from app.domain.indicators import atr, require_count

# Below 2**40 ticks the float quotient price / tick is within 2**40 * 3 * 2**-53 < 1e-3 of
# its whole number, so rounding it finds that number.
_EXACT_TICKS = 2**40

# The items are TypedDicts, the API's items as they are: a chart of 100,000 bars makes
# 100,000 of them, and a dict display is built several times faster than a dataclass or
# NamedTuple instance (each of those costs a Python-level call).


class HeikinAshiBar(TypedDict):
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


class BrickDirection(StrEnum):
    UP = "up"
    DOWN = "down"


class RenkoBrick(TypedDict):
    """One Renko brick: `open` is where it starts, `close` one box up or down from it."""

    time: datetime
    open: Decimal
    close: Decimal
    direction: BrickDirection


@dataclass(frozen=True)
class Renko:
    """The bricks, and the box they were drawn with (the ATR's when none was given)."""

    box: Decimal
    bricks: list[RenkoBrick]


class Thickness(StrEnum):
    YANG = "yang"  # thick
    YIN = "yin"  # thin


class KagiPoint(TypedDict):
    """A point of the Kagi line; the line runs from it to the next in `thickness`."""

    time: datetime
    price: Decimal
    thickness: Thickness


class Column(StrEnum):
    X = "X"
    O = "O"  # noqa: E741 — the letter the chart draws


class PointFigureColumn(TypedDict):
    """One column: its lowest and highest box levels and how many boxes it holds."""

    direction: Column
    low: Decimal
    high: Decimal
    boxes: int


# --- ticks in, prices out ---------------------------------------------------------------


def _check_tick(tick: Decimal) -> None:
    if not tick > 0:
        raise DomainValidationError("tick", "must be greater than zero")


def _box_in_ticks(box: Decimal, tick: Decimal) -> int:
    if not box > 0:
        raise DomainValidationError("box", "must be greater than zero")
    if not is_on_tick(box, tick):
        raise DomainValidationError("box", f"must be a whole number of ticks ({tick})")
    return int(box / tick)


def _in_ticks(prices: list[Decimal], tick: Decimal) -> np.ndarray:
    """Prices as whole ticks (int64), through float64 as the module docstring states."""
    ticks = np.rint(np.array(list(map(float, prices)), dtype=np.float64) / float(tick))
    if ticks.size and np.abs(ticks).max() >= _EXACT_TICKS:
        raise DomainValidationError("tick", "is too small for these prices")
    return ticks.astype(np.int64)


def _prices(ticks: Sequence[int], tick: Decimal) -> list[Decimal]:
    """Whole ticks back to Decimal prices; each distinct level is made once (they repeat)."""
    levels, where = np.unique(np.asarray(ticks, dtype=np.int64), return_inverse=True)
    made = [Decimal(level) * tick for level in levels.tolist()]
    return [made[i] for i in where.tolist()]


# --- Heikin-Ashi ------------------------------------------------------------------------


def heikin_ashi(bars: Sequence[Bar], tick: Decimal) -> list[HeikinAshiBar]:
    """Heikin-Ashi candles, one per bar, on the tick grid."""
    _check_tick(tick)
    if not bars:
        return []
    o = _in_ticks([b.open for b in bars], tick)
    h = _in_ticks([b.high for b in bars], tick)
    lo = _in_ticks([b.low for b in bars], tick)
    c = _in_ticks([b.close for b in bars], tick)
    ha_close = np.rint((o + h + lo + c) / 4).astype(np.int64)  # exact: a sum over a power of 2
    # Each open is half of `twice` (the previous open plus close, in ticks) rounded half to
    # even, written inline: a function call per bar would double the loop's time.
    twice = int(o[0] + c[0])
    opens = []
    for close in ha_close.tolist():
        opened = twice >> 1
        if twice & 1 and opened & 1:
            opened += 1
        opens.append(opened)
        twice = opened + close
    ha_open = np.array(opens, dtype=np.int64)
    top = np.maximum(h, np.maximum(ha_open, ha_close))
    bottom = np.minimum(lo, np.minimum(ha_open, ha_close))
    columns = (_prices(column, tick) for column in (ha_open, top, bottom, ha_close))
    return [
        {"time": b.time, "open": op, "high": hi, "low": low, "close": cl, "volume": b.volume}
        for b, op, hi, low, cl in zip(bars, *columns, strict=True)
    ]


# --- Renko ------------------------------------------------------------------------------


def renko(
    bars: Sequence[Bar], tick: Decimal, box: Decimal | None = None, atr_period: int = 14
) -> Renko:
    """Renko bricks of `box`, or of the ATR(`atr_period`) box when `box` is None.

    With too few bars for the ATR there is no box yet: no bricks, and box 0.
    """
    _check_tick(tick)
    fixed = _box_in_ticks(box, tick) if box is not None else None
    require_count(atr_period, "atr_period")
    if not bars:
        return Renko(box if box is not None else Decimal(0), [])
    closes = _in_ticks([b.close for b in bars], tick)
    size = fixed if fixed is not None else _atr_box(bars, closes, tick, atr_period)
    if size is None:
        return Renko(Decimal(0), [])
    return Renko(size * tick, _bricks([b.time for b in bars], closes, size, tick))


def _atr_box(bars: Sequence[Bar], closes: np.ndarray, tick: Decimal, period: int) -> int | None:
    """The ATR at the last bar in whole ticks (nearest, half even; at least one), if defined.

    The ATR is a measurement figured in floats over whole ticks; only an ATR within about
    1e-12 of a half tick could round to the other neighbour.
    """
    highs = _in_ticks([b.high for b in bars], tick)
    lows = _in_ticks([b.low for b in bars], tick)
    last = atr(highs, lows, closes, period)[-1]
    return None if np.isnan(last) else max(1, int(np.rint(last)))


def _bricks(
    times: list[datetime], closes: np.ndarray, size: int, tick: Decimal
) -> list[RenkoBrick]:
    """The bricks, in box numbers: box k spans k * size .. (k + 1) * size ticks."""
    floors = (closes // size).tolist()  # the highest boundary at or below the close
    ceilings = (-(-closes // size)).tolist()  # the lowest at or above it
    low, high = floors[0], floors[0] + 1  # the first close's box: the start, not drawn
    made = []  # (time, from boundary, to boundary)
    for time, floor, ceiling in zip(times, floors, ceilings, strict=True):
        if floor > high:  # at least a full box above the last brick's top
            made.extend((time, k, k + 1) for k in range(high, floor))
            low, high = floor - 1, floor
        elif ceiling < low:  # at least a full box below its bottom
            made.extend((time, k, k - 1) for k in range(low, ceiling, -1))
            low, high = ceiling, ceiling + 1
    boundary = _boundaries(made, size, tick)
    up, down = BrickDirection.UP, BrickDirection.DOWN
    return [
        {
            "time": time,
            "open": boundary[start],
            "close": boundary[end],
            "direction": up if end > start else down,
        }
        for time, start, end in made
    ]


def _boundaries(made: list, size: int, tick: Decimal) -> dict[int, Decimal]:
    numbers = sorted({n for _, start, end in made for n in (start, end)})
    return dict(zip(numbers, _prices([n * size for n in numbers], tick), strict=True))


# --- Kagi -------------------------------------------------------------------------------


def kagi(
    bars: Sequence[Bar], tick: Decimal, reversal: Decimal, percent: bool = False
) -> list[KagiPoint]:
    """The Kagi line's points; `reversal` is a price amount, or a percent when `percent`."""
    _check_tick(tick)
    if not reversal > 0 or (percent and reversal >= 100):
        raise DomainValidationError(
            "reversal",
            "must be a percent above 0 and below 100" if percent else "must be greater than zero",
        )
    if not bars:
        return []
    closes = _in_ticks([b.close for b in bars], tick).tolist()
    if percent:
        # a move of m ticks from an extreme of e ticks reverses when m >= e * num / (den * 100)
        num, den = reversal.as_integer_ratio()
        line = _KagiLine(lambda move, extreme: move * den * 100 >= abs(extreme) * num)
    else:
        # closes move in whole ticks: a reversal of 1.1 on a 0.25 grid is met by 1.25
        least = int((reversal / tick).to_integral_value(rounding=ROUND_CEILING))
        line = _KagiLine(lambda move, extreme: move >= least)
    for time, close in zip((b.time for b in bars), closes, strict=True):
        line.see(time, close)
    points = line.points()
    prices = _prices([price for _, price, _ in points], tick)
    return [
        {"time": time, "price": price, "thickness": thickness}
        for (time, _, thickness), price in zip(points, prices, strict=True)
    ]


class _KagiLine:
    """The line as closes arrive, in ticks: fixed points, then the moving end."""

    def __init__(self, reverses: Callable[[int, int], bool]) -> None:
        self.reverses = reverses  # (move back from the extreme, the extreme) -> turns?
        self.fixed: list[tuple[datetime, int, Thickness]] = []
        self.rising: bool | None = None  # None until the first line starts
        self.end: tuple[datetime, int] | None = None
        self.thickness = Thickness.YANG
        self.shoulder: int | None = None
        self.waist: int | None = None

    def see(self, time: datetime, price: int) -> None:
        if self.end is None:
            self.end = (time, price)  # the first close: where the line will start
        elif self.rising is None:
            self._start(time, price)
        elif price > self.end[1] if self.rising else price < self.end[1]:
            self._extend(time, price)
        elif price != self.end[1] and self.reverses(abs(price - self.end[1]), self.end[1]):
            self._turn(time, price)

    def points(self) -> list[tuple[datetime, int, Thickness]]:
        if self.rising is None:
            return []
        return [*self.fixed, (*self.end, self.thickness)]

    def _start(self, time: datetime, price: int) -> None:
        start_time, start = self.end
        if price != start and self.reverses(abs(price - start), start):
            self.rising = price > start
            self.thickness = Thickness.YANG if self.rising else Thickness.YIN
            self.fixed.append((start_time, start, self.thickness))
            self.end = (time, price)

    def _extend(self, time: datetime, price: int) -> None:
        if self.rising:
            level = self.shoulder
            crossed = self.thickness is Thickness.YIN and level is not None and price > level
        else:
            level = self.waist
            crossed = self.thickness is Thickness.YANG and level is not None and price < level
        if crossed:
            self.thickness = Thickness.YANG if self.rising else Thickness.YIN
            self.fixed.append((time, level, self.thickness))
        self.end = (time, price)

    def _turn(self, time: datetime, price: int) -> None:
        turn_time, extreme = self.end
        self.fixed.append((turn_time, extreme, self.thickness))
        if self.rising:
            self.shoulder = extreme
        else:
            self.waist = extreme
        self.rising = not self.rising
        self._extend(time, price)


# --- point & figure ---------------------------------------------------------------------


def point_and_figure(
    bars: Sequence[Bar], tick: Decimal, box: Decimal, reversal: int = 3
) -> list[PointFigureColumn]:
    """Point & figure columns by the high/low method."""
    _check_tick(tick)
    size = _box_in_ticks(box, tick)
    require_count(reversal, "reversal", "boxes")
    if len(bars) < 2:
        return []
    start = int(_in_ticks([bars[0].close], tick)[0]) // size
    highs = (_in_ticks([b.high for b in bars[1:]], tick) // size).tolist()
    lows = (-(-_in_ticks([b.low for b in bars[1:]], tick) // size)).tolist()
    columns = _columns(start, highs, lows, reversal)  # [is X, low level, high level]
    prices = _prices([level * size for _, low, high in columns for level in (low, high)], tick)
    return [
        {
            "direction": Column.X if is_x else Column.O,
            "low": low,
            "high": high,
            "boxes": top - bottom + 1,
        }
        for (is_x, bottom, top), low, high in zip(columns, prices[0::2], prices[1::2], strict=True)
    ]


def _columns(start: int, highs: list[int], lows: list[int], reversal: int) -> list[list]:
    """Columns in box levels: a high reaches the level floor(high / box), a low ceil(low / box)."""
    columns: list[list] = []
    for high, low in zip(highs, lows, strict=True):
        if not columns:
            if high > start:
                columns.append([True, start, high])
            elif low < start:
                columns.append([False, low, start])
            continue
        column = columns[-1]
        if column[0]:  # X: a new high first, else a reversal on the low
            if high > column[2]:
                column[2] = high
            elif low <= column[2] - reversal:
                columns.append([False, low, column[2] - 1])
        elif low < column[1]:  # O: a new low first, else a reversal on the high
            column[1] = low
        elif high >= column[1] + reversal:
            columns.append([True, column[1] + 1, high])
    return columns
