"""Where adapters send what they learn unasked: prices, broker reports and bar history.

Adapters sit below the services and never import them (DESIGN §2), yet a market-data
socket hears prices and the paper venue fills orders when a price moves. So the services
connect their receivers here once, when the app is built (`connect`), and adapters call
`quote`, `report` and `bars`. Until connected, each is dropped with a debug line: a bench
or a unit test of an adapter needs no services.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from app.brokers.base import BrokerReport
from app.domain.bars import Bar
from app.domain.vocabulary import Timeframe

logger = logging.getLogger(__name__)

# symbol, price, time, source; keyword `delayed`: the feed is late (Tradovate's Delayed mode)
QuoteReceiver = Callable[..., None]
ReportReceiver = Callable[[BrokerReport], None]
BarsReceiver = Callable[[str, Timeframe, list[Bar]], None]

_receivers: dict[str, Callable | None] = {"quote": None, "report": None, "bars": None}


def connect(
    *, quotes: QuoteReceiver, reports: ReportReceiver, bars: BarsReceiver | None = None
) -> None:
    """Called by create_app; the same receivers for every app of the process. A test that
    listens to quotes or reports alone leaves bar history dropped."""
    _receivers["quote"] = quotes
    _receivers["report"] = reports
    _receivers["bars"] = bars


def quote(
    symbol: str, price: Decimal, time: datetime, source: str, *, delayed: bool = False
) -> None:
    """A last-trade price heard by an adapter; `delayed` when its feed runs late, so no
    service takes it for a live print."""
    receiver = _receivers["quote"]
    if receiver is None:
        logger.debug("no quote receiver: %s %s dropped", symbol, price)
        return
    receiver(symbol, price, time, source, delayed=delayed)


def report(item: BrokerReport) -> None:
    """Orders, fills and cash an adapter learned of; applied before the adapter commits."""
    receiver = _receivers["report"]
    if receiver is None:
        logger.debug("no report receiver: report of account %s dropped", item.account_id)
        return
    receiver(item)


def bars(symbol: str, timeframe: Timeframe, items: list[Bar]) -> None:
    """A broker's bar history of `symbol`, each bar at the time the broker stamped it:
    the receiver aligns it to its period (a daily bar to the trading day it names)."""
    receiver = _receivers["bars"]
    if receiver is None:
        logger.debug("no bars receiver: %s %s bars of %s dropped", len(items), timeframe, symbol)
        return
    receiver(symbol, timeframe, items)
