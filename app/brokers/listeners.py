"""Where adapters send what they learn unasked: prices and broker reports.

Adapters sit below the services and never import them (DESIGN §2), yet a market-data
socket hears prices and the paper venue fills orders when a price moves. So the services
connect their receivers here once, when the app is built (`connect`), and adapters call
`quote` and `report`. Until connected, both are dropped with a debug line: a bench or a
unit test of an adapter needs no services.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from app.brokers.base import BrokerReport

logger = logging.getLogger(__name__)

# symbol, price, time, source; keyword `delayed`: the feed is late (Tradovate's Delayed mode)
QuoteReceiver = Callable[..., None]
ReportReceiver = Callable[[BrokerReport], None]

_receivers: dict[str, Callable | None] = {"quote": None, "report": None}


def connect(*, quotes: QuoteReceiver, reports: ReportReceiver) -> None:
    """Called by create_app; the same receivers for every app of the process."""
    _receivers["quote"] = quotes
    _receivers["report"] = reports


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
