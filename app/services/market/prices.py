"""The process-wide last-price cache: one quote per resolved contract, and its subscribers.

Prices arrive from the paper feed, from an alert that carries one, or (later) from broker
market data; whoever reads a price reads it here. `update` stores the quote and then calls
every subscriber with (symbol, price, time) in the updating thread. Updates and their
notifications are serialised, so each subscriber sees a symbol's prices in the order the
cache took them; a subscriber's exception is logged and never breaks the update or the
subscribers after it. A subscriber must not wait for a lock its updater may hold.

A quote from a feed that runs late (Tradovate's "Delayed" mode, about ten minutes behind)
is stored with `delayed` set: it still shows a price, but nothing may act on it as if it
were live — the monitor never moves a stop from it.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

logger = logging.getLogger(__name__)

Subscriber = Callable[[str, Decimal, datetime], None]


@dataclass(frozen=True)
class Quote:
    price: Decimal
    time: datetime
    source: str  # "paper-feed", "alert", "tradovate", ...
    delayed: bool = False  # the feed runs late: shown, never acted on as a live print


class PriceCache:
    """Last price per symbol, safe to use from any thread."""

    def __init__(self) -> None:
        self._quotes: dict[str, Quote] = {}
        # Reentrant: a subscriber may itself publish a price (the feed echoing an alert).
        self._dispatch = threading.RLock()
        self.subscribers: list[Subscriber] = []

    def update(
        self, symbol: str, price: Decimal, time: datetime, source: str, *, delayed: bool = False
    ) -> Quote:
        """Store the quote, then tell every subscriber."""
        if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
            raise ValueError(f"{symbol}: a price must be a Decimal above zero, got {price!r}")
        if time.tzinfo is None:
            raise ValueError(f"{symbol}: a quote's time must be timezone-aware")
        quote = Quote(price, time, source, delayed)
        with self._dispatch:
            self._quotes[symbol] = quote
            for subscriber in list(self.subscribers):
                try:
                    subscriber(symbol, price, time)
                except Exception:
                    logger.exception(
                        "price subscriber %r failed on %s %s", subscriber, symbol, price
                    )
        return quote

    def last(self, symbol: str) -> Quote | None:
        return self._quotes.get(symbol)

    def snapshot(self) -> dict[str, Quote]:
        """Every symbol's last quote, copied."""
        return dict(self._quotes)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add `subscriber` once; subscribing it again changes nothing."""
        with self._dispatch:
            if subscriber not in self.subscribers:
                self.subscribers.append(subscriber)

    def clear(self) -> None:
        """Forget every quote (tests); subscribers stay wired."""
        with self._dispatch:
            self._quotes.clear()


_cache = PriceCache()

update = _cache.update
last = _cache.last
snapshot = _cache.snapshot
subscribe = _cache.subscribe
clear = _cache.clear
subscribers = _cache.subscribers
