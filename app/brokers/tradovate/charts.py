"""Tradovate's chart request on the market-data socket: its body, its bars, its state.

Protocol (reference/tradovate.md "Chart history over the market-data socket").
`md/getChart` takes `{"symbol", "chartDescription": {"underlyingType", "elementSize",
"elementSizeUnit", "withHistogram"}, "timeRange": {...}}` and answers
`{"historicalId", "realtimeId"}`. The bars then arrive as `chart` events, each chart item
naming the id it belongs to; `{"id": historicalId, "eoh": true}` ends the history, and
`md/cancelChart {"subscriptionId": historicalId}` stops the subscription (its realtime
part included, which we never read: live prices come from quotes).

A `ChartRequest` is one history being collected: the asking thread waits on it while the
socket's thread fills it, so it is the only state the two share besides the client's lock.
Bars are `app.domain.bars.Bar` with Decimal prices exactly as sent (the socket parses JSON
numbers as Decimal) and volume `upVolume + downVolume`; a bar Tradovate sent malformed or
inconsistent (a high below its low) is left out and counted, never guessed at.
"""

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.brokers.errors import BrokerError
from app.domain.bars import Bar
from app.domain.errors import DomainValidationError

logger = logging.getLogger(__name__)

UNDERLYINGS = ("MinuteBar", "DailyBar")


def chart_body(
    symbol: str | int,
    underlying: str,
    *,
    as_much_as_elements: int | None = None,
    as_far_as_timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The `md/getChart` body for one-unit bars of `symbol` (a code or a contract id)."""
    if underlying not in UNDERLYINGS:
        raise ValueError(f"underlying must be one of {', '.join(UNDERLYINGS)}")
    time_range: dict[str, object] = {}
    if as_much_as_elements is not None:
        time_range["asMuchAsElements"] = int(as_much_as_elements)
    if as_far_as_timestamp is not None:
        time_range["asFarAsTimestamp"] = _wire_time(as_far_as_timestamp)
    if not time_range:
        raise ValueError("a chart needs as_much_as_elements or as_far_as_timestamp")
    return {
        "symbol": symbol,
        "chartDescription": {
            "underlyingType": underlying,
            "elementSize": 1,
            "elementSizeUnit": "UnderlyingUnits",
            "withHistogram": False,
        },
        "timeRange": time_range,
    }


class ChartRequest:
    """One history being collected: sent, answered with its ids, filled, then done."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.historical_id: int | None = None
        self.bars: list[Bar] = []
        self.skipped = 0  # bars left out as malformed
        self.error: BrokerError | None = None
        self.abandoned = False  # the asker stopped waiting: cancel it once its id is known
        self.done = threading.Event()

    def take(self, items: object) -> None:
        """Add the bars of one chart item."""
        for item in items if isinstance(items, list) else []:
            bar = parse_bar(item)
            if bar is None:
                self.skipped += 1
            else:
                self.bars.append(bar)

    def finish(self) -> None:
        if self.skipped:
            logger.warning(
                "market data: %s of %s's %s bars were malformed and left out",
                self.skipped,
                self.body.get("symbol"),
                self.body["chartDescription"]["underlyingType"],
            )
        self.done.set()

    def fail(self, error: BrokerError) -> None:
        self.error = error
        self.done.set()


def parse_bar(item: object) -> Bar | None:
    """One wire bar as a Bar; None when a field is missing or the bar is inconsistent."""
    if not isinstance(item, dict):
        return None
    time = _time(item.get("timestamp"))
    prices = [_price(item.get(name)) for name in ("open", "high", "low", "close")]
    volume = [_volume(item.get(name)) for name in ("upVolume", "downVolume")]
    if time is None or None in prices or None in volume:
        return None
    open_, high, low, close = prices
    try:
        return Bar(time, open_, high, low, close, sum(volume))
    except DomainValidationError:
        return None


def historical_id_of(detail: object) -> int | None:
    """The historical id of a `md/getChart` answer."""
    if not isinstance(detail, dict):
        return None
    value = detail.get("historicalId")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _price(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    price = Decimal(value)
    return price if price.is_finite() and price > 0 else None


def _volume(value: object) -> int | None:
    if value is None:
        return 0  # a side with no volume may be left out
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    if value < 0 or value != int(value):
        return None
    return int(value)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp.astimezone(UTC) if stamp.tzinfo is not None else None


def _wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
