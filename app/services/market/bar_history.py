"""A broker's bar history into the bars table, as the broker's bars (DESIGN §3 `bars`).

Tradovate's market data reads each symbol's recent history when it first subscribes it
(app/brokers/tradovate/backfill.py) and hands it to `receive` through
`app.brokers.listeners`, in a thread of the adapter's with no app context: so `wire`
remembers the app to write with. Each bar is stored at the start of its period: a minute
bar at its minute, a daily bar at the CME trading day its date names (Tradovate dates a
day, and that day opened at 17:00 Chicago time the evening before), which is where the
bars built from prices and the import put them. The broker's bars replace what is stored
for their periods, and a live price of the same minute never overwrites them (bars.py).
"""

import logging
import weakref
from collections.abc import Iterable
from dataclasses import replace

from flask import Flask

from app.domain.bar_building import period_start
from app.domain.bars import Bar
from app.domain.trading_day import trading_day_of
from app.domain.vocabulary import BarSource, Timeframe
from app.extensions import db
from app.services.market import bars

logger = logging.getLogger(__name__)

_wired: dict[str, weakref.ref] = {}


def wire(app: Flask) -> None:
    """Write received history with `app` (the latest app built in this process)."""
    _wired["app"] = weakref.ref(app)


def receive(symbol: str, timeframe: Timeframe, items: list[Bar]) -> None:
    """The listener: store `items` in an app context of its own. Raises what the write
    raised, so the adapter asks again later."""
    app_ref = _wired.get("app")
    app = app_ref() if app_ref is not None else None
    if app is None:
        logger.debug("no app to write %s %s bars of %s", len(items), timeframe, symbol)
        return
    with app.app_context():
        try:
            store_history(symbol, timeframe, items)
        finally:
            db.session.remove()


def store_history(symbol: str, timeframe: Timeframe, items: Iterable[Bar]) -> int:
    """Store a broker's bars of `symbol`, each at the start of its period; committed."""
    by_start = {bar.time: bar for bar in (_aligned(item, timeframe) for item in items)}
    return bars.store(symbol, timeframe, by_start.values(), BarSource.BROKER)


def _aligned(bar: Bar, timeframe: Timeframe) -> Bar:
    if timeframe is Timeframe.D1:
        return replace(bar, time=trading_day_of(bar.time.date()))
    return replace(bar, time=period_start(bar.time, timeframe))
