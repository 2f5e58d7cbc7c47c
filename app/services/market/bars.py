"""Bars from every price DeskPilot sees, kept in the database (DESIGN §3 `bars`).

The price cache calls `on_price` in the updating thread (the paper feed, Tradovate market
data, an alert's price): it only touches memory. A writer thread in each process (not a
job: web processes of a scale-out run no jobs, yet see alert prices) closes the minutes
that have passed every `BAR_FLUSH_SECONDS` and writes them in a session of its own, so no
price update ever waits on the database, and no write is made inside another thread's
transaction.

Writes are upserts on (symbol, timeframe, start). A bar built from prices merges with the
row another process wrote for the same minute (highest high, lowest low, volumes added,
the later close), and never overwrites an imported or broker bar; an imported or broker
bar replaces what is there. Bars older than `BAR_RETENTION_DAYS` are deleted (0: kept).
"""

import logging
import threading
import time as clock
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.domain.bar_building import MinuteBars, period_start, roll_up
from app.domain.bars import Bar
from app.domain.vocabulary import BarSource, Timeframe
from app.extensions import db
from app.models import Bar as BarRow
from app.services.market import prices

logger = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


class BarBook:
    """This process's open minutes and the closed ones waiting to be written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.minutes = MinuteBars()
        self.closed: list[tuple[str, Bar]] = []

    def on_price(self, symbol: str, price: Decimal, time: datetime) -> None:
        with self.lock:
            done = self.minutes.add(symbol, price, time.timestamp())
            if done is not None:
                self.closed.append(done)

    def take_closed(self, now: datetime) -> list[tuple[str, Bar]]:
        """The bars ready to write: those closed by a later price, and those whose minute
        has passed by the clock."""
        with self.lock:
            ready = self.closed + self.minutes.close_before(now.timestamp())
            self.closed = []
        return ready

    def put_back(self, bars: list[tuple[str, Bar]]) -> None:
        with self.lock:
            self.closed = bars + self.closed

    def open_bar(self, symbol: str) -> Bar | None:
        with self.lock:
            return self.minutes.open_bar(symbol)

    def clear(self) -> None:
        with self.lock:
            self.minutes = MinuteBars()
            self.closed = []


book = BarBook()
_wired: dict[str, object] = {}


def wire(app: Flask) -> None:
    """Build bars from this process's prices, and write them from a thread of its own
    (started once per process; it writes for the latest app wired)."""
    _wired["app"] = weakref.ref(app)
    prices.subscribe(book.on_price)
    seconds = float(app.config.get("BAR_FLUSH_SECONDS", 2))
    if seconds > 0 and "thread" not in _wired:
        thread = threading.Thread(target=_write_forever, args=(seconds,), daemon=True)
        thread.name = "bar-writer"
        _wired["thread"] = thread
        thread.start()


def _write_forever(seconds: float) -> None:
    pruned_at = datetime.min.replace(tzinfo=UTC)
    while True:
        clock.sleep(seconds)
        app_ref = _wired.get("app")
        app = app_ref() if app_ref else None
        if app is None:
            continue
        try:
            with app.app_context():
                now = datetime.now(UTC)
                flush(now)
                if now - pruned_at >= PRUNE_EVERY:
                    prune(now, int(app.config.get("BAR_RETENTION_DAYS", 0)))
                    pruned_at = now
        except Exception:
            logger.exception("writing bars failed; trying again in %s s", seconds)


def flush(now: datetime) -> int:
    """Write the closed bars (tests call it; the writer thread calls it every few
    seconds). A failed write keeps them for the next try."""
    ready = book.take_closed(now)
    if not ready:
        return 0
    try:
        with Session(db.engine) as session:
            for symbol, bar in ready:
                session.execute(_upsert(session, symbol, Timeframe.M1, bar, BarSource.PRICES))
            session.commit()
    except Exception:
        book.put_back(ready)
        raise
    return len(ready)


def _upsert(session: Session, symbol: str, timeframe: Timeframe, bar: Bar, source: BarSource):
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(BarRow).values(
        symbol=symbol,
        timeframe=timeframe,
        start=bar.time,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        source=source,
    )
    new = statement.excluded
    keys = ["symbol", "timeframe", "start"]
    if source is not BarSource.PRICES:
        replace = {c: getattr(new, c) for c in ("open", "high", "low", "close", "volume")}
        return statement.on_conflict_do_update(
            index_elements=keys, set_={**replace, "source": new.source}
        )
    table = BarRow.__table__.c
    merged = {
        "high": case((new.high > table.high, new.high), else_=table.high),
        "low": case((new.low < table.low, new.low), else_=table.low),
        "close": new.close,
        "volume": table.volume + new.volume,
    }
    return statement.on_conflict_do_update(
        index_elements=keys, set_=merged, where=table.source == BarSource.PRICES.value
    )


def store(symbol: str, timeframe: Timeframe, bars: Iterable[Bar], source: BarSource) -> int:
    """Write imported or broker bars (each replaces a bar of the same start), committed."""
    count = 0
    for bar in bars:
        db.session.execute(_upsert(db.session(), symbol, timeframe, bar, source))
        count += 1
    db.session.commit()
    return count


def read(symbol: str, timeframe: Timeframe, start: datetime, end: datetime) -> list[Bar]:
    """The bars of `symbol` from `start` to `end`, oldest first: stored bars of the
    timeframe where there are some (imported, the broker's), else rolled up from the
    minutes, the minute still open included."""
    first = period_start(start, timeframe)
    rows = db.session.scalars(
        select(BarRow)
        .where(
            BarRow.symbol == symbol,
            BarRow.timeframe.in_({Timeframe.M1, timeframe}),
            BarRow.start >= first,
            BarRow.start <= end,
        )
        .order_by(BarRow.start)
    ).all()
    minutes = [_domain(row) for row in rows if row.timeframe is Timeframe.M1]
    live = book.open_bar(symbol)
    if live is not None and first <= live.time <= end:
        if minutes and minutes[-1].time == live.time:
            minutes[-1] = _merge(minutes[-1], live)
        elif not minutes or minutes[-1].time < live.time:
            minutes.append(live)
    by_start = {bar.time: bar for bar in roll_up(minutes, timeframe)}
    if timeframe is not Timeframe.M1:
        by_start.update((row.start, _domain(row)) for row in rows if row.timeframe is timeframe)
    return [by_start[key] for key in sorted(by_start)]


def _merge(stored: Bar, live: Bar) -> Bar:
    """The stored part of a minute (another process's prices) with this process's."""
    return Bar(
        stored.time,
        stored.open,
        max(stored.high, live.high),
        min(stored.low, live.low),
        live.close,
        stored.volume + live.volume,
    )


def _domain(row: BarRow) -> Bar:
    return Bar(row.start, row.open, row.high, row.low, row.close, row.volume)


def prune(now: datetime, retention_days: int) -> int:
    """Delete bars older than the retention (0 keeps them all)."""
    if retention_days <= 0:
        return 0
    result = db.session.execute(
        delete(BarRow).where(BarRow.start < now - timedelta(days=retention_days))
    )
    db.session.commit()
    return result.rowcount or 0
