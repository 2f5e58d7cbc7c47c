"""The paper feed: moves the subscribed symbols' prices and reports them as quotes.

PAPER_FEED chooses the source (price_feeds.parse_feed_setting): `simulated` is a random walk
seeded with PAPER_FEED_SEED on each contract's tick grid; `replay:<csv>` plays a recording
back, one recorded moment per tick, whatever is subscribed. Each app has one feed, made on
first use. `tick(now)` is what the scheduler's job calls every PAPER_TICK_SECONDS.

Prices go out through app.brokers.listeners (the services' price cache receives them and
hands them back to the paper venue). A price the venue took from someone else (an alert's)
moves the walk there before its next step, so the simulation continues from the market
the trader saw. After a restart the first tick resubscribes every symbol that paper
orders or positions still need, resuming from the venue's last price of it.
"""

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal

from flask import current_app

from app.brokers import listeners
from app.brokers.paper import store
from app.domain.contracts import SPECS
from app.domain.price_feeds import (
    PriceFeed,
    PriceUpdate,
    ReplayFeed,
    SimulatedFeed,
    parse_feed_setting,
)

logger = logging.getLogger(__name__)

FEED_SOURCE = "paper-feed"
DEFAULT_SEED = 7
_EXTENSION = "deskpilot.paper_feed"


class PaperFeed:
    """A price feed, the symbols it serves, and the link to the price cache."""

    def __init__(self, feed: PriceFeed) -> None:
        self._feed = feed
        self._symbols: dict[str, None] = {}  # insertion-ordered set
        self._lock = threading.Lock()
        self.resumed = False

    @classmethod
    def from_config(cls, config: Mapping) -> "PaperFeed":
        setting = parse_feed_setting(config.get("PAPER_FEED", "simulated"))
        if setting.kind == "replay":
            return cls(ReplayFeed.from_csv(setting.path))
        tick_sizes = {root: spec.tick_size for root, spec in SPECS.items()}
        seed = int(config.get("PAPER_FEED_SEED", DEFAULT_SEED))
        return cls(SimulatedFeed(seed, tick_sizes))

    @property
    def feed(self) -> PriceFeed:
        return self._feed

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def subscribe(self, symbol: str, now: datetime, start: Decimal | None = None) -> None:
        """Serve `symbol` once; a simulated walk starts at the cached price, else `start`,
        else its default, and publishes that price at once so orders can meet it."""
        with self._lock:
            if symbol in self._symbols:
                return  # served already; each tick follows the venue's price
            if not isinstance(self._feed, SimulatedFeed):
                self._symbols[symbol] = None
                return
            quote = _venue_price(symbol)
            if quote is not None:
                self._feed.set_price(symbol, quote)
            elif start is not None:
                published = self._feed.set_price(symbol, start)
            else:
                published = self._feed.subscribe(symbol)
            self._symbols[symbol] = None  # only once the feed could price it
        if quote is None:
            listeners.quote(symbol, published, now, FEED_SOURCE)

    def tick(self, now: datetime) -> list[PriceUpdate]:
        """Step the feed once and publish every new price."""
        with self._lock:
            if isinstance(self._feed, SimulatedFeed):
                self._follow_outside_prices()
            updates = self._feed.step(now)
        # Published outside the lock: subscribers fill orders and write to the database.
        for update in updates:
            if update.recorded_at is not None:
                logger.debug(
                    "replayed %s %s (recorded at %s)",
                    update.symbol,
                    update.price,
                    update.recorded_at.isoformat(),
                )
            listeners.quote(update.symbol, update.price, update.time, FEED_SOURCE)
        return updates

    def _follow_outside_prices(self) -> None:
        """The venue's last price differs from the walk's only when someone else set it."""
        for symbol, (value, _) in store.quotes(self._symbols).items():
            if value != self._feed.last(symbol):
                self._feed.set_price(symbol, value)


def current() -> PaperFeed:
    """The current app's paper feed, made from its config on first use."""
    found = current_app.extensions.get(_EXTENSION)
    if found is None:
        made = PaperFeed.from_config(current_app.config)
        found = current_app.extensions.setdefault(_EXTENSION, made)
    return found


def reset() -> None:
    """Forget the current app's feed (tests); the next use makes a new one."""
    current_app.extensions.pop(_EXTENSION, None)


def subscribe(symbol: str) -> None:
    """Serve `symbol`. In a process whose feed has not ticked yet (`run.py kill`), what
    paper accounts still hold resumes first, so a flatten meets the last price known for
    its symbol rather than the walk's default start."""
    feed = current()
    now = datetime.now(UTC)
    if not feed.resumed and _venue_price(symbol) is None:
        _resume(feed, now)
    feed.subscribe(symbol, now)


def tick(now: datetime) -> list[PriceUpdate]:
    """One step of the paper feed; the first one resumes what paper accounts still need."""
    feed = current()
    if not feed.resumed:
        _resume(feed, now)
    return feed.tick(now)


def _venue_price(symbol: str) -> Decimal | None:
    found = store.quotes([symbol]).get(symbol)
    return found[0] if found else None


def _resume(feed: PaperFeed, now: datetime) -> None:
    symbols = store.live_symbols()
    known = store.quotes(symbols)
    for symbol in sorted(symbols):
        start = known[symbol][0] if symbol in known else None
        try:
            feed.subscribe(symbol, now, start)
        except ValueError:
            logger.exception("paper feed cannot resume %s", symbol)
    feed.resumed = True
