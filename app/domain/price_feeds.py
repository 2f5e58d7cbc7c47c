"""Price sources for the paper broker: a seeded random walk on the tick grid and a CSV replay.

Both feeds keep the last price per symbol, take a price from outside with `set_price` (an
alert that carries one), and hand out `PriceUpdate`s from `step(now)`; the caller forwards
those to the matching engine. `PAPER_FEED` chooses one (`parse_feed_setting`). Tick sizes
come from the caller keyed by symbol or root, so this module does not depend on the
contract catalogue.
"""

import csv
import io
import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from app.domain.errors import DomainValidationError

logger = logging.getLogger(__name__)

DEFAULT_START_PRICES: Mapping[str, Decimal] = MappingProxyType(
    {
        root: Decimal(price)
        for root, price in {
            "ES": "6000",
            "MES": "6000",
            "NQ": "21000",
            "MNQ": "21000",
            "YM": "44000",
            "MYM": "44000",
            "RTY": "2300",
            "M2K": "2300",
            "CL": "70",
            "MCL": "70",
            "NG": "3.5",
            "GC": "2700",
            "MGC": "2700",
            "SI": "31",
            "HG": "4.3",
            "ZB": "118",
            "ZN": "110",
            "ZF": "106",
            "ZC": "430",  # cents per bushel, as CBOT quotes grains
            "ZS": "1000",
            "ZW": "550",
            "6E": "1.08",
            "6J": "0.0066",
            "6B": "1.27",
        }.items()
    }
)

_CONTRACT_SYMBOL = re.compile(r"^(?P<root>[A-Z0-9]+?)[FGHJKMNQUVXZ]\d{1,2}$")
_REPLAY_COLUMNS = ("time", "symbol", "price")


class FeedError(DomainValidationError):
    """A feed that cannot be set up or read; `field` names the setting, symbol or CSV line."""


@dataclass(frozen=True)
class PriceUpdate:
    """A price at `time`, when it reaches the market; a replayed one also carries the time
    it was recorded at, for logs only (a fill dated by the file could precede its entry)."""

    symbol: str
    price: Decimal
    time: datetime
    recorded_at: datetime | None = None


def contract_root(symbol: str) -> str:
    """The product root of a contract symbol ("MESZ6" -> "MES"); a bare root is itself."""
    match = _CONTRACT_SYMBOL.match(symbol)
    return match.group("root") if match else symbol


def _by_symbol_or_root(table: Mapping[str, Decimal], symbol: str) -> Decimal | None:
    return table.get(symbol, table.get(contract_root(symbol)))


def _positive_price(symbol: str, price: object) -> Decimal:
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        raise FeedError("price", f"{symbol} needs a Decimal above zero, got {price!r}")
    return price


class PriceFeed:
    """The last price per symbol; subclasses decide where the next prices come from."""

    def __init__(self) -> None:
        self._last: dict[str, Decimal] = {}

    def last(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    def set_price(self, symbol: str, price: Decimal) -> Decimal:
        """Take a price from outside (an alert's); returns the price the feed now holds."""
        self._last[symbol] = _positive_price(symbol, price)
        return self._last[symbol]

    def step(self, now: datetime) -> list[PriceUpdate]:
        raise NotImplementedError


class SimulatedFeed(PriceFeed):
    """A seeded random walk per subscribed symbol, always on its tick grid and above zero.

    Each `step` moves every symbol, in subscription order, by the sum of three whole
    numbers drawn from -volatility_ticks..volatility_ticks: a bell-shaped move with a
    standard deviation of about `volatility_ticks` ticks, drawn from integers only. The
    same seed and the same calls give the same prices.
    """

    def __init__(
        self,
        seed: int,
        tick_sizes: Mapping[str, Decimal],
        *,
        start_prices: Mapping[str, Decimal] | None = None,
        volatility_ticks: int = 2,
    ) -> None:
        super().__init__()
        if isinstance(volatility_ticks, bool) or not isinstance(volatility_ticks, int):
            raise FeedError("volatility_ticks", "must be a whole number of ticks")
        if volatility_ticks < 0:
            raise FeedError("volatility_ticks", "must be 0 or more")
        self._random = random.Random(seed)  # nosec B311 # a simulated market, not a secret
        self._tick_sizes = dict(tick_sizes)
        self._start_prices = {**DEFAULT_START_PRICES, **(start_prices or {})}
        self._volatility = volatility_ticks

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._last)

    def subscribe(self, symbol: str) -> Decimal:
        """Start walking `symbol` from its start price (by symbol, else root) on its grid."""
        if symbol not in self._last:
            start = _by_symbol_or_root(self._start_prices, symbol)
            if start is None:
                raise FeedError(symbol, f"no start price for {symbol}")
            self._last[symbol] = self._snap(symbol, start)
        return self._last[symbol]

    def set_price(self, symbol: str, price: Decimal) -> Decimal:
        """Move the walk to `price`, snapped to the nearest tick; subscribes the symbol."""
        self._last[symbol] = self._snap(symbol, _positive_price(symbol, price))
        return self._last[symbol]

    def step(self, now: datetime) -> list[PriceUpdate]:
        updates = []
        for symbol, price in self._last.items():
            tick = self._tick(symbol)
            move = sum(self._random.randint(-self._volatility, self._volatility) for _ in range(3))
            moved = price + move * tick
            if moved < tick:
                # Reflect off zero rather than stick at the floor: prices stay positive.
                moved = max(price + abs(move) * tick, tick)
            updates.append(PriceUpdate(symbol, moved, now))
        for update in updates:
            self._last[update.symbol] = update.price
        return updates

    def _snap(self, symbol: str, price: Decimal) -> Decimal:
        tick = self._tick(symbol)
        snapped = (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick
        return max(snapped, tick)

    def _tick(self, symbol: str) -> Decimal:
        tick = _by_symbol_or_root(self._tick_sizes, symbol)
        if tick is None or not isinstance(tick, Decimal) or not tick > 0:
            raise FeedError(symbol, f"no tick size for {symbol}")
        return tick


class ReplayFeed(PriceFeed):
    """Recorded prices played back in time order, one recorded moment per `step`.

    A step hands out every row of the next timestamp, so a replay runs at one moment per
    paper tick whatever the gaps in the file. The prices happen now: each update is dated
    `now`, its recorded time kept beside it (`recorded_at`), while `updates` is the
    recording as read. Once played out, `step` returns nothing and `exhausted` is true.
    """

    def __init__(self, updates: Iterable[PriceUpdate]) -> None:
        super().__init__()
        self._updates = tuple(sorted(updates, key=lambda update: update.time))
        self._next = 0

    @classmethod
    def from_csv(cls, path: str | PathLike[str]) -> "ReplayFeed":
        """Read a `time,symbol,price` CSV file."""
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise FeedError("path", f"cannot read {path}: {exc.strerror or exc}") from exc
        return cls.from_csv_text(text)

    @classmethod
    def from_csv_text(cls, text: str) -> "ReplayFeed":
        """Parse CSV text with a `time,symbol,price` header (other columns are ignored).

        Times are ISO 8601; a time without an offset is UTC. Prices are decimal text.
        """
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [column for column in _REPLAY_COLUMNS if column not in header]
        if missing:
            raise FeedError("line 1", f"header needs the columns time,symbol,price; {missing}")
        reader.fieldnames = header
        updates = [_parse_row(row, reader.line_num) for row in reader]
        if not updates:
            raise FeedError("line 2", "the replay has no prices")
        return cls(updates)

    @property
    def updates(self) -> tuple[PriceUpdate, ...]:
        return self._updates

    @property
    def exhausted(self) -> bool:
        return self._next >= len(self._updates)

    def step(self, now: datetime) -> list[PriceUpdate]:
        if self.exhausted:
            return []
        moment = self._updates[self._next].time
        batch = []
        while not self.exhausted and self._updates[self._next].time == moment:
            batch.append(self._updates[self._next])
            self._next += 1
        for update in batch:
            self._last[update.symbol] = update.price
        return [replace(update, time=now, recorded_at=update.time) for update in batch]


def _parse_row(row: dict[str | None, str | None], line: int) -> PriceUpdate:
    field = f"line {line}"
    if None in row:
        raise FeedError(field, "has more cells than the header")
    time_text, symbol, price_text = ((row.get(name) or "").strip() for name in _REPLAY_COLUMNS)
    if not symbol:
        raise FeedError(field, "symbol is empty")
    try:
        time = datetime.fromisoformat(time_text)
    except ValueError:
        raise FeedError(field, f"time {time_text[:40]!r} is not an ISO 8601 time") from None
    try:
        price = Decimal(price_text)
    except InvalidOperation:
        raise FeedError(field, f"price {price_text[:40]!r} is not a number") from None
    if not price.is_finite() or price <= 0:
        raise FeedError(field, f"price {price_text[:40]!r} must be greater than zero")
    return PriceUpdate(symbol.upper(), price, time if time.tzinfo else time.replace(tzinfo=UTC))


@dataclass(frozen=True)
class FeedSetting:
    """`PAPER_FEED` parsed: a simulated walk, or a replay of the CSV at `path`."""

    kind: Literal["simulated", "replay"]
    path: Path | None = None


def parse_feed_setting(value: str) -> FeedSetting:
    """Parse `simulated` or `replay:<csv path>`; anything else is refused."""
    text = (value or "").strip()
    if text.lower() == "simulated":
        return FeedSetting("simulated")
    kind, colon, path = text.partition(":")
    if kind.lower() == "replay" and colon:
        if not path.strip():
            raise FeedError("PAPER_FEED", "replay needs a CSV path: replay:/path/prices.csv")
        return FeedSetting("replay", Path(path.strip()))
    raise FeedError("PAPER_FEED", f"must be 'simulated' or 'replay:<csv path>', got {text[:60]!r}")
