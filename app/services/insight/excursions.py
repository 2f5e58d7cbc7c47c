"""MAE / MFE of closed trades from the stored 1-minute bars, kept in `trades.mae/mfe`
(domain/excursions has the definition and its bar-resolution approximation).

When: on each analytics read (`GET /api/analytics`), for the trades in view — not a job,
so a trade's figures appear the first time anyone looks, and nothing runs for trades
nobody reads. A trade is due once its mae is null and its exit minute's bar is surely
written: a minute after the exit (the minute closes) plus `BAR_FLUSH_SECONDS` (the bar
writer's period; services/market/bars). At most `BATCH` due trades are done per read,
newest exit first, so a first read of a long history stays bounded and later reads go on.

Bars are read in a fixed number of queries per contract (the trades' windows merged and
asked `WINDOWS_PER_QUERY` at a time), never one per trade. A trade with no bar in its
window (no price was seen while it was open, or the bars were pruned) keeps null: it is
looked at again on a later read, in case bars were imported since.
"""

import logging
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter

from flask import current_app
from sqlalchemy import and_, or_, select

from app.domain.bars import Bar
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.excursions import MINUTE, bar_window, excursion
from app.domain.vocabulary import Timeframe
from app.extensions import db
from app.models import Bar as BarRow
from app.models import Trade

logger = logging.getLogger(__name__)

BATCH = 2000
WINDOWS_PER_QUERY = 200
MONEY_QUANTUM = Decimal("0.0001")  # the Money columns' scale


def fill_excursions(rows: list[Trade], now: datetime) -> int:
    """Work out and store (committed) the MAE / MFE of the due trades among `rows` (see
    the module); answers how many were stored. The rows' objects are updated in place."""
    settled = now - MINUTE - timedelta(seconds=float(current_app.config["BAR_FLUSH_SECONDS"]))
    due = [row for row in rows if row.mae is None and row.exit_time <= settled]
    due = sorted(due, key=attrgetter("exit_time"), reverse=True)[:BATCH]
    by_symbol: dict[str, list[Trade]] = {}
    for row in due:
        by_symbol.setdefault(row.symbol, []).append(row)
    stored = 0
    for symbol, trades in by_symbol.items():
        try:
            point_value = resolve_symbol(symbol, trades[0].entry_time.date()).spec.point_value
        except UnknownSymbol:
            logger.warning("no contract spec for %s: its trades get no MAE/MFE", symbol)
            continue
        bars = _bars(symbol, [bar_window(t.entry_time, t.exit_time) for t in trades])
        starts = [bar.time for bar in bars]
        for trade in trades:
            first, last = bar_window(trade.entry_time, trade.exit_time)
            mine = bars[bisect_left(starts, first) : bisect_right(starts, last)]
            found = excursion(trade.side, trade.entry_price, trade.quantity, point_value, mine)
            if found is not None:
                trade.mae, trade.mfe = _money(found.mae), _money(found.mfe)
                stored += 1
    if stored:
        db.session.commit()
    return stored


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _bars(symbol: str, windows: list[tuple[datetime, datetime]]) -> list[Bar]:
    """The stored 1-minute bars of `symbol` in any of `windows`, oldest first."""
    bars: list[Bar] = []
    merged = list(_merged(windows))
    for at in range(0, len(merged), WINDOWS_PER_QUERY):
        spans = [
            and_(BarRow.start >= first, BarRow.start <= last)
            for first, last in merged[at : at + WINDOWS_PER_QUERY]
        ]
        query = (
            select(BarRow.start, BarRow.open, BarRow.high, BarRow.low, BarRow.close)
            .where(BarRow.symbol == symbol, BarRow.timeframe == Timeframe.M1, or_(*spans))
            .order_by(BarRow.start)
        )
        bars.extend(Bar(*row, volume=0) for row in db.session.execute(query))
    return bars


def _merged(windows: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    """The windows with overlapping ones joined, in time order."""
    current = None
    for first, last in sorted(windows):
        if current is not None and first <= current[1]:
            current = (current[0], max(current[1], last))
            continue
        if current is not None:
            yield current
        current = (first, last)
    if current is not None:
        yield current
