"""Tradovate market data: one WebSocket that hands every last trade to the services.

Protocol (reference/tradovate.md §5.2; the framing is stream.py's). `md/subscribeQuote` /
`md/unsubscribeQuote` take `{"symbol": <contract id>}`; quotes (`{"e": "md", ...}`) name
only the `contractId`, so the client keeps contract id -> our code ("MESZ6").

Each quote's `Trade` price goes to `app.brokers.listeners.quote` (source "tradovate"),
where the services keep their price cache, as an exact Decimal parsed from the wire text.
A subscription Tradovate answers with `d.mode == "Delayed"` (the user has no real-time
subscription: data about 10 minutes late; reference "Delayed market data") marks that
symbol's quotes `delayed`, so no service acts on them as live prints; a later answer
without that mode (a resubscription after a reconnect) clears it.
The client keeps the latest quote of each symbol itself too (`top_of_book(symbol)`, with
`Bid`/`Offer`), so the adapter answers `last_price` without reading the services' cache.
Only trades are handed on: the cache holds one price per symbol and every subscriber (the
paper engine, P&L) reads it as a print, so a bid or an ask must not land there.

`get_chart` reads bar history over the same socket (`md/getChart`, charts.py): the asking
thread waits while the socket's thread collects the `chart` events of the request's
historical id until `eoh`, then cancels the chart. Requests and answers are matched by
request id as every other (stream.py); chart events by the historical id the answer named.

The socket's thread (stream.SocketClient) reconnects, re-authorizes, and this client then
resubscribes everything. A symbol is stale when nothing arrived for it for `stale_after`
seconds (TRADOVATE_STALE_SECONDS).

The module-level registry (`register`, `subscribe(account, symbol)`, `status`) is what
the Tradovate broker adapter calls: it registers how to get the market-data token and
how to turn a contract code into Tradovate's contract id; the first subscription starts
the process-wide client, and each symbol's first subscription in the process asks for its
bar history (backfill.py).
"""

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import current_app, has_app_context

from app.brokers import listeners
from app.brokers.errors import BrokerError, TemporaryBrokerError
from app.brokers.tradovate import charts
from app.brokers.tradovate.backfill import Backfill
from app.brokers.tradovate.charts import ChartRequest
from app.brokers.tradovate.stream import Outgoing, SocketClient, TokenProvider
from app.domain.bars import Bar

logger = logging.getLogger(__name__)

# One URL serves demo and live (reference §1); `md-demo.` appears only in third-party code.
MD_URL = "wss://md.tradovateapi.com/v1/websocket"
URLS = {"demo": MD_URL, "live": MD_URL}
SOURCE = "tradovate"
STALE_SECONDS = 15.0
# A day of minutes or a year of days arrives in well under a second; this is for a socket
# that is down or reconnecting when history is asked for.
CHART_TIMEOUT = 30.0
_CANCEL = object()  # the tag of md/cancelChart: its answer needs nothing done

QuoteSink = Callable[..., object]  # (symbol, price, time, source, *, delayed)
ContractIdLookup = Callable[[str], int | None]


def md_url(environment: str | None = None, override: str | None = None) -> str:
    """The market-data socket for an account environment, or the configured override."""
    return override or URLS.get(environment or "live", MD_URL)


@dataclass(frozen=True)
class TopOfBook:
    """The latest quote of one contract as the market-data socket reported it."""

    symbol: str
    contract_id: int
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    bid_size: Decimal | None = None
    ask_size: Decimal | None = None
    last_size: Decimal | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class _Op:
    endpoint: str
    symbol: str
    contract_id: int


class MarketDataClient(SocketClient):
    """Tradovate's market-data socket for a set of contracts, kept alive in a daemon thread.

    `on_quote(symbol, price, time, source, delayed=...)` receives each last trade; it runs
    in the client's thread. `now` stamps a quote that carries no timestamp of its own.
    """

    label = "market data"
    thread_name = "tradovate-md"

    def __init__(
        self,
        url: str,
        token_provider: TokenProvider,
        *,
        on_quote: QuoteSink = listeners.quote,
        stale_after: float = STALE_SECONDS,
        chart_timeout: float = CHART_TIMEOUT,
        **session: Any,
    ) -> None:
        super().__init__(url, token_provider, **session)  # SocketClient's timing
        self.stale_after = stale_after
        self.chart_timeout = chart_timeout
        self._on_quote = on_quote
        # Desired subscriptions survive reconnects; requests wait in the outbox until
        # the session is authorized, and authorizing sends every subscription anyway.
        self._subscriptions: dict[str, int] = {}
        self._codes: dict[int, str] = {}
        self._subscribed_at: dict[str, float] = {}
        self._last_data: dict[str, float] = {}
        self._books: dict[str, TopOfBook] = {}
        self._outbox: deque[_Op] = deque()
        self._sub_errors: dict[str, str] = {}
        self._delayed: set[str] = set()  # answered in Delayed mode
        self._stale_reported: set[str] = set()
        # Chart requests survive a reconnect until sent; once sent, only their session.
        self._charts_out: deque[ChartRequest] = deque()
        self._charts_open: list[ChartRequest] = []
        self._cancels: deque[int] = deque()  # historical ids to md/cancelChart

    # Public API.

    def subscribe(self, symbol: str, contract_id: int) -> None:
        """Keep quotes of `contract_id` flowing under `symbol` ("MESZ6").

        Quotes name only the contract id, so subscribing needs it (reference §5.2).
        """
        contract_id = int(contract_id)
        with self._lock:
            current = self._subscriptions.get(symbol)
            if current == contract_id:
                return
            if current is not None:
                self._forget(symbol, current)
                self._queue(_Op("md/unsubscribeQuote", symbol, current))
            self._subscriptions[symbol] = contract_id
            self._codes[contract_id] = symbol
            self._subscribed_at[symbol] = self._clock()
            self._queue(_Op("md/subscribeQuote", symbol, contract_id))
        logger.info("market data: subscribing %s (contract %s)", symbol, contract_id)

    def unsubscribe(self, symbol: str) -> None:
        with self._lock:
            contract_id = self._subscriptions.pop(symbol, None)
            if contract_id is None:
                return
            self._forget(symbol, contract_id)
            self._queue(_Op("md/unsubscribeQuote", symbol, contract_id))

    def get_chart(
        self,
        symbol: str | int,
        underlying: str,
        *,
        as_much_as_elements: int | None = None,
        as_far_as_timestamp: datetime | None = None,
    ) -> list[Bar]:
        """The one-unit bars ("MinuteBar" or "DailyBar") Tradovate holds for `symbol` (a
        code or a contract id), oldest first: the last `as_much_as_elements`, or those since
        `as_far_as_timestamp`.

        Blocks the calling thread (never the socket's own) until the end of history, and
        waits for a connection when there is none. TemporaryBrokerError when no end of
        history comes within `chart_timeout` (the socket is down or dropped meanwhile);
        BrokerError when Tradovate refuses the request.
        """
        request = ChartRequest(
            charts.chart_body(
                symbol,
                underlying,
                as_much_as_elements=as_much_as_elements,
                as_far_as_timestamp=as_far_as_timestamp,
            )
        )
        with self._lock:
            self._charts_out.append(request)
            conn = self._conn if self._authorized else None
        if conn is not None:
            conn.wake()
        if not request.done.wait(self.chart_timeout) and self._abandon(request):
            raise TemporaryBrokerError(
                f"Tradovate sent no end of the {underlying} history of {symbol} within "
                f"{self.chart_timeout:g} s ({self.status()['state']})"
            )
        if request.error is not None:
            raise request.error
        return sorted(request.bars, key=lambda bar: bar.time)

    def is_stale(self, symbol: str) -> bool:
        """True when no quote for `symbol` arrived in `stale_after` seconds (or unsubscribed)."""
        with self._lock:
            return self._is_stale(symbol, self._clock())

    def is_delayed(self, symbol: str) -> bool:
        """True when Tradovate answered `symbol`'s subscription in Delayed mode."""
        with self._lock:
            return symbol in self._delayed

    def top_of_book(self, symbol: str) -> TopOfBook | None:
        with self._lock:
            return self._books.get(symbol)

    def last_price(self, symbol: str) -> Decimal | None:
        """The last trade heard for `symbol`; None before the first or once unsubscribed."""
        book = self.top_of_book(symbol)
        return book.last if book is not None else None

    def status(self) -> dict[str, Any]:
        """The connection and its subscriptions as the status indicator shows them."""
        with self._lock:
            clock = self._clock()
            return {
                **self.connection_status(),
                "subscriptions": sorted(self._subscriptions),
                "stale": sorted(s for s in self._subscriptions if self._is_stale(s, clock)),
                "delayed": sorted(self._delayed),
                "subscription_errors": dict(self._sub_errors),
            }

    # The socket's hooks.

    def _requests(self) -> list[Outgoing]:
        outgoing: list[Outgoing] = [
            (op.endpoint, {"symbol": op.contract_id}, op.symbol) for op in self._take_outbox()
        ]
        with self._lock:
            while self._charts_out:
                request = self._charts_out.popleft()
                self._charts_open.append(request)
                outgoing.append(("md/getChart", request.body, request))
            while self._cancels:
                outgoing.append(
                    ("md/cancelChart", {"subscriptionId": self._cancels.popleft()}, _CANCEL)
                )
        return outgoing

    def _on_authorized(self) -> None:
        # Everything subscribed so far is sent now; queued requests are covered.
        self._outbox.clear()
        self._outbox.extend(
            _Op("md/subscribeQuote", symbol, contract_id)
            for symbol, contract_id in self._subscriptions.items()
        )

    def _on_disconnect(self) -> None:
        self._outbox.clear()
        self._cancels.clear()  # a chart ends with its connection
        lost, self._charts_open = self._charts_open, []
        for request in lost:
            request.fail(
                TemporaryBrokerError(
                    "the market-data socket dropped before the end of the history of "
                    f"{request.body['symbol']}"
                )
            )

    def _on_answer(self, endpoint: str, tag: object, status: int, detail: object) -> None:
        if isinstance(tag, ChartRequest):
            self._on_chart_answer(tag, status, detail)
            return
        if not isinstance(tag, str):  # md/cancelChart's: nothing waits on it
            return
        symbol = tag
        ok = 200 <= status < 300
        with self._lock:
            if ok:
                self._sub_errors.pop(symbol, None)
            else:
                self._sub_errors[symbol] = f"{endpoint}: {status} {detail or ''}".rstrip()
        if not ok:
            logger.warning("market data: %s %s refused: %s %s", endpoint, symbol, status, detail)
        elif endpoint == "md/subscribeQuote":
            self._note_mode(symbol, detail)

    def _on_idle(self, clock: float) -> None:
        self._report_staleness(clock)

    def _idle_interval(self) -> float:
        return min(1.0, self.stale_after / 4)

    def _note_mode(self, symbol: str, detail: object) -> None:
        """Remember whether Tradovate serves `symbol` late (`"mode": "Delayed"`)."""
        delayed = isinstance(detail, dict) and detail.get("mode") == "Delayed"
        with self._lock:
            if symbol not in self._subscriptions or delayed == (symbol in self._delayed):
                return
            if delayed:
                self._delayed.add(symbol)
            else:
                self._delayed.discard(symbol)
        if delayed:
            logger.warning(
                "market data: %s is delayed (about 10 minutes late: no real-time subscription)",
                symbol,
            )
        else:
            logger.info("market data: %s is real-time again", symbol)

    def _on_event(self, name: object, data: object) -> None:
        if name == "md" and isinstance(data, dict):
            quotes = data.get("quotes")
            for quote in quotes if isinstance(quotes, list) else []:
                if isinstance(quote, dict):
                    self._on_quote_message(quote)
        elif name == "chart" and isinstance(data, dict):
            items = data.get("charts")
            for item in items if isinstance(items, list) else []:
                if isinstance(item, dict):
                    self._on_chart_item(item)

    def _on_chart_answer(self, request: ChartRequest, status: int, detail: object) -> None:
        historical_id = charts.historical_id_of(detail)
        with self._lock:
            if 200 <= status < 300 and historical_id is not None:
                request.historical_id = historical_id
                if request.abandoned:
                    self._close_chart(request)
                return
            if request in self._charts_open:
                self._charts_open.remove(request)
        passing = status >= 500 or status == 429
        symbol = request.body["symbol"]
        request.fail(
            (TemporaryBrokerError if passing else BrokerError)(
                f"Tradovate refused the chart of {symbol}: {status} {detail or ''}".rstrip()
            )
        )

    def _on_chart_item(self, item: dict[str, Any]) -> None:
        """Bars of a chart we wait for; a realtime id's or an abandoned chart's are not."""
        chart_id = item.get("id")
        with self._lock:
            waiting = (r for r in self._charts_open if r.historical_id is not None)
            request = next((r for r in waiting if r.historical_id == chart_id), None)
            if request is None:
                return
            request.take(item.get("bars"))
            if item.get("eoh") is not True:
                return
            self._close_chart(request)
        request.finish()

    def _on_quote_message(self, quote: dict[str, Any]) -> None:
        try:
            contract_id = int(quote["contractId"])
        except (KeyError, TypeError, ValueError):
            return
        entries = quote.get("entries")
        if not isinstance(entries, dict):
            return
        bid, bid_size = _entry(entries, "Bid")
        ask, ask_size = _entry(entries, "Offer")
        last, last_size = _entry(entries, "Trade")
        stamp = _timestamp(quote.get("timestamp")) or self._now()
        with self._lock:
            symbol = self._codes.get(contract_id)
            if symbol is None:
                return  # unsubscribed, or not ours
            delayed = symbol in self._delayed
            self._last_data[symbol] = self._clock()
            book = self._books.get(symbol) or TopOfBook(symbol, contract_id)
            changes: dict[str, Any] = {"time": stamp}
            for name, value in (
                ("bid", bid),
                ("bid_size", bid_size),
                ("ask", ask),
                ("ask_size", ask_size),
                ("last", last),
                ("last_size", last_size),
            ):
                if value is not None:
                    changes[name] = value
            self._books[symbol] = replace(book, **changes)
        if last is None:
            return
        try:
            self._on_quote(symbol, last, stamp, SOURCE, delayed=delayed)
        except Exception:
            logger.exception("market data: quote %s %s not taken", symbol, last)

    # Helpers (the lock is held where state is touched).

    def _queue(self, op: _Op) -> None:
        with self._lock:
            if not self._authorized:
                return  # authorizing sends every subscription
            self._outbox.append(op)
            conn = self._conn
        if conn is not None:
            conn.wake()

    def _take_outbox(self) -> list[_Op]:
        with self._lock:
            if not self._authorized:
                return []
            ops = list(self._outbox)
            self._outbox.clear()
            return ops

    def _close_chart(self, request: ChartRequest) -> None:
        """Stop collecting `request` and cancel its chart at Tradovate (the lock is held)."""
        if request in self._charts_open:
            self._charts_open.remove(request)
        if request.historical_id is not None:
            self._cancels.append(request.historical_id)
            if self._conn is not None:
                self._conn.wake()

    def _abandon(self, request: ChartRequest) -> bool:
        """The asker stops waiting for `request`; False when it finished just now."""
        with self._lock:
            if request.done.is_set():
                return False
            request.abandoned = True
            if request in self._charts_out:
                self._charts_out.remove(request)
            elif request.historical_id is not None:
                self._close_chart(request)
            return True  # sent and unanswered: its answer closes it

    def _forget(self, symbol: str, contract_id: int) -> None:
        if self._codes.get(contract_id) == symbol:
            del self._codes[contract_id]
        for table in (self._subscribed_at, self._last_data, self._books, self._sub_errors):
            table.pop(symbol, None)
        self._stale_reported.discard(symbol)
        self._delayed.discard(symbol)

    def _is_stale(self, symbol: str, clock: float) -> bool:
        if symbol not in self._subscriptions:
            return True
        since = self._last_data.get(symbol, self._subscribed_at.get(symbol, -math.inf))
        return clock - since >= self.stale_after

    def _report_staleness(self, clock: float) -> None:
        with self._lock:
            stale = {s for s in self._subscriptions if self._is_stale(s, clock)}
            turned_stale = stale - self._stale_reported
            fresh = self._stale_reported - stale
            self._stale_reported = stale
        for symbol in sorted(turned_stale):
            logger.warning("market data: %s stale (nothing for %g s)", symbol, self.stale_after)
        for symbol in sorted(fresh):
            logger.info("market data: %s fresh again", symbol)


def _entry(entries: dict[str, Any], name: str) -> tuple[Decimal | None, Decimal | None]:
    entry = entries.get(name)
    if not isinstance(entry, dict):
        return None, None
    price = _decimal(entry.get("price"))
    return (price if price is not None and price > 0 else None), _decimal(entry.get("size"))


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None


# The process-wide client the broker adapter feeds.

_registry_lock = threading.Lock()
_client: MarketDataClient | None = None
_backfill: Backfill | None = None
_token_provider: TokenProvider | None = None
_contract_id_lookup: ContractIdLookup | None = None


def register(
    *,
    token_provider: TokenProvider | None = None,
    contract_id_lookup: ContractIdLookup | None = None,
) -> None:
    """Tell market data how to get its token and how to find a contract's id.

    Called by the Tradovate adapter; a later call replaces what it names, and the
    running client uses the new token provider from its next connection.
    """
    global _token_provider, _contract_id_lookup
    with _registry_lock:
        if token_provider is not None:
            _token_provider = token_provider
        if contract_id_lookup is not None:
            _contract_id_lookup = contract_id_lookup


def subscribe(account: object, symbol: str) -> bool:
    """Keep `symbol` ("MESZ6") quoted for `account`; False (and logged) when it cannot yet."""
    with _registry_lock:
        lookup = _contract_id_lookup
    who = f"account {getattr(account, 'account_id', None)}"
    if lookup is None or _token_provider is None:
        logger.warning(
            "market data: %s for %s skipped, no %s registered",
            symbol,
            who,
            "contract lookup" if lookup is None else "token provider",
        )
        return False
    try:
        contract_id = lookup(symbol)
    except Exception:
        logger.exception("market data: contract id of %s not found for %s", symbol, who)
        return False
    if contract_id is None:
        logger.warning("market data: Tradovate knows no contract %s (%s)", symbol, who)
        return False
    running = _running_client(getattr(account, "environment", None))
    running.subscribe(symbol, int(contract_id))
    _running_backfill(running).request(symbol, int(contract_id))
    return True


def unsubscribe(symbol: str) -> None:
    with _registry_lock:
        running = _client
    if running is not None:
        running.unsubscribe(symbol)


def client() -> MarketDataClient | None:
    """The process-wide client, once a subscription started it."""
    return _client


def last_price(symbol: str) -> Decimal | None:
    """The process-wide client's last trade of `symbol`; None while market data is off."""
    with _registry_lock:
        running = _client
    return running.last_price(symbol) if running is not None else None


def is_stale(symbol: str) -> bool:
    with _registry_lock:
        running = _client
    return running.is_stale(symbol) if running is not None else True


def status() -> dict[str, Any]:
    """The process-wide client's status, or `state: "off"` before any subscription."""
    with _registry_lock:
        running = _client
    if running is not None:
        return running.status()
    return {"state": "off", "connected": False, "subscriptions": [], "stale": [], "delayed": []}


def shutdown() -> None:
    """Stop the process-wide client and forget the registrations (app teardown, tests)."""
    global _client, _backfill, _token_provider, _contract_id_lookup
    with _registry_lock:
        running, _client = _client, None
        history, _backfill = _backfill, None
        _token_provider = _contract_id_lookup = None
    if running is not None:
        running.stop()  # first: a history being read ends now rather than at its timeout
    if history is not None:
        history.stop()


def _running_client(environment: str | None) -> MarketDataClient:
    global _client
    with _registry_lock:
        if _client is None:
            config = current_app.config if has_app_context() else {}
            _client = MarketDataClient(
                md_url(environment, config.get("TRADOVATE_MD_URL")),
                _current_token,
                stale_after=float(config.get("TRADOVATE_STALE_SECONDS", STALE_SECONDS)),
            )
            _client.start()
        return _client


def _running_backfill(running: MarketDataClient) -> Backfill:
    global _backfill
    with _registry_lock:
        if _backfill is None:
            _backfill = Backfill(running.get_chart)
        return _backfill


def _current_token() -> str | None:
    provider = _token_provider
    return provider() if provider is not None else None
