"""Prices into 1-minute bars, and 1-minute bars into longer ones (DESIGN §3 `bars`).

`MinuteBars` keeps one open bar per symbol and hands back the previous one when a price of
a later minute arrives (or when its minute has passed, `close_before`). It is the inner
loop of every price DeskPilot sees, so it holds plain lists and compares Decimals only:
a bar is made a `Bar` (checked) once, when it closes. A price older than the open bar's
minute (a late alert's price) is left out rather than reopening a closed minute.

Volume is the number of prices seen in the minute (tick volume): the paper feed and an
alert carry no traded size. Imported and broker bars carry their own volume.

Longer bars are rolled up on read: 5m, 15m and 1h align to the clock in UTC; a day is the
CME trading day, which opens at 17:00 Chicago time the evening before (a bar at 18:00
Chicago on Monday belongs to Tuesday). Gaps stay gaps: a period without prices has no bar.
"""

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from app.domain.bars import Bar
from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import Timeframe

MINUTE = 60
PERIOD_SECONDS = {Timeframe.M1: 60, Timeframe.M5: 300, Timeframe.M15: 900, Timeframe.H1: 3600}


class MinuteBars:
    """The open 1-minute bar of each symbol. Not thread-safe: its owner serialises."""

    def __init__(self) -> None:
        # symbol -> [minute number, open, high, low, close, prices seen]
        self._open: dict[str, list] = {}

    def add(self, symbol: str, price: Decimal, epoch_seconds: float) -> tuple[str, Bar] | None:
        """Take one price; the bar it closed, if its minute is a later one."""
        minute = int(epoch_seconds // MINUTE)
        bar = self._open.get(symbol)
        if bar is not None:
            if bar[0] == minute:
                if price > bar[2]:
                    bar[2] = price
                elif price < bar[3]:
                    bar[3] = price
                bar[4] = price
                bar[5] += 1
                return None
            if minute < bar[0]:
                return None
        self._open[symbol] = [minute, price, price, price, price, 1]
        return (symbol, _bar(bar)) if bar is not None else None

    def close_before(self, epoch_seconds: float) -> list[tuple[str, Bar]]:
        """Close every open bar whose minute ended before the minute of `epoch_seconds`."""
        minute = int(epoch_seconds // MINUTE)
        done = [symbol for symbol, bar in self._open.items() if bar[0] < minute]
        return [(symbol, _bar(self._open.pop(symbol))) for symbol in done]

    def open_bar(self, symbol: str) -> Bar | None:
        """The minute still being built, as a bar."""
        bar = self._open.get(symbol)
        return _bar(bar) if bar is not None else None


def _bar(state: list) -> Bar:
    minute, open_, high, low, close, count = state
    return Bar(datetime.fromtimestamp(minute * MINUTE, UTC), open_, high, low, close, count)


def period_start(time: datetime, timeframe: Timeframe) -> datetime:
    """The start of the `timeframe` period that `time` falls in."""
    if timeframe is Timeframe.D1:
        return trading_day_start(time)
    seconds = PERIOD_SECONDS[timeframe]
    epoch = int(time.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def roll_up(bars: Iterable[Bar], timeframe: Timeframe) -> list[Bar]:
    """Bars of `timeframe` from shorter bars in time order: first open, highest high,
    lowest low, last close, volumes summed. A period's bar starts at the period's start,
    whichever minute its first price came in."""
    rolled: list[Bar] = []
    current: list | None = None  # [start, open, high, low, close, volume]
    for bar in bars:
        start = period_start(bar.time, timeframe)
        if current is not None and current[0] == start:
            current[2] = max(current[2], bar.high)
            current[3] = min(current[3], bar.low)
            current[4] = bar.close
            current[5] += bar.volume
            continue
        if current is not None:
            rolled.append(Bar(*current))
        current = [start, bar.open, bar.high, bar.low, bar.close, bar.volume]
    if current is not None:
        rolled.append(Bar(*current))
    return rolled
