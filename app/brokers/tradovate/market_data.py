"""Tradovate market data: one WebSocket that hands every last trade to the services.

Protocol (reference/tradovate.md §5, §5.2). The server frames are `o` (open), `h`
(heartbeat), `a[...]` (a JSON array of messages) and `c[code, "reason"]` (close). A
request is four `\\n`-separated lines, `endpoint`, `id`, query (empty here) and body;
`authorize\\n<id>\\n\\n<token>` comes first, right after `o`. A response is
`{"i", "s", "d"}` (`d` is an error string when `s` is not 2xx); an event is
`{"e": "md" | "shutdown" | ..., "d": ...}`. The client sends `[]` at least every 2.5 s.
`md/subscribeQuote` / `md/unsubscribeQuote` take `{"symbol": <contract id>}`; quotes
name only the `contractId`, so the client keeps contract id -> our code ("MESZ6").

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

One daemon thread per client does all socket I/O: connect, authorize, subscribe, read,
heartbeat, and after any failure wait a capped exponential backoff, reconnect,
re-authorize and resubscribe everything. A symbol is stale when nothing arrived for it
for `stale_after` seconds (TRADOVATE_STALE_SECONDS). The transport is wsproto (installed
with Flask-SocketIO) over a plain socket: simple-websocket's Client has no connect or
handshake timeout, so a server that accepts and never answers would hang the thread.

The module-level registry (`register`, `subscribe(account, symbol)`, `status`) is what
the Tradovate broker adapter calls: it registers how to get the market-data token and
how to turn a contract code into Tradovate's contract id; the first subscription starts
the process-wide client.
"""

import itertools
import json
import logging
import math
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from app.brokers import listeners

logger = logging.getLogger(__name__)

# One URL serves demo and live (reference §1); `md-demo.` appears only in third-party code.
MD_URL = "wss://md.tradovateapi.com/v1/websocket"
URLS = {"demo": MD_URL, "live": MD_URL}
SOURCE = "tradovate"
HEARTBEAT_SECONDS = 2.5
STALE_SECONDS = 15.0
# Shutdown reasons that a quick retry would only repeat (reference §5): wait the longest.
QUOTA_REASONS = frozenset({"ConnectionQuotaReached", "IPQuotaReached"})

TokenProvider = Callable[[], str | None]
QuoteSink = Callable[..., object]  # (symbol, price, time, source, *, delayed)
ContractIdLookup = Callable[[str], int | None]


def md_url(environment: str | None = None, override: str | None = None) -> str:
    """The market-data socket for an account environment, or the configured override."""
    return override or URLS.get(environment or "live", MD_URL)


# Transport.


class _Lost(Exception):
    """The connection is gone (or must be given up); the message says why."""


class _WebSocket:
    """One client WebSocket connection over wsproto, used by a single thread.

    `wake()` is the only method safe to call from another thread: it ends a `poll` early.
    """

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a WebSocket URL: {url!r}")
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        self.timeout = timeout
        self.closed = False
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._inbox: list[str] = []
        self._parts: list[str] = []
        self._accepted = False
        self._ws = WSConnection(ConnectionType.CLIENT)
        sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        try:
            if secure:
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=parts.hostname)
            self._sock: socket.socket = sock
            self._handshake(Request(host=host_header, target=target), timeout)
        except BaseException:
            sock.close()
            raise
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def _handshake(self, request: Request, timeout: float) -> None:
        self._sock.sendall(self._ws.send(request))
        deadline = time.monotonic() + timeout
        while not self._accepted:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no WebSocket handshake answer within {timeout:g} s")
            self._sock.settimeout(remaining)
            data = self._sock.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection during the handshake")
            self._ws.receive_data(data)
            self._drain_events()  # frames after the 101 (the server's `o`) wait in the inbox
        self._sock.settimeout(timeout)

    def send(self, text: str) -> None:
        if self.closed:
            raise _Lost("the connection is closed")
        try:
            self._sock.sendall(self._ws.send(TextMessage(data=text)))
        except (OSError, LocalProtocolError) as exc:
            self._mark_closed()
            raise _Lost(f"send failed ({type(exc).__name__}: {exc})") from exc

    def poll(self, timeout: float) -> list[str]:
        """The messages that arrive within `timeout` seconds ([] on a timeout or a wake)."""
        if self._inbox:
            messages, self._inbox = self._inbox, []
            return messages
        if self.closed:
            return []
        ready = isinstance(self._sock, ssl.SSLSocket) and self._sock.pending() > 0
        if not ready:
            readable, _, _ = select.select([self._sock, self._wake_r], [], [], max(timeout, 0))
            if self._wake_r in readable:
                self._drain_wake()
            ready = self._sock in readable
        if not ready:
            return []
        try:
            data = self._sock.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            return []  # half a TLS record: the rest comes with the next poll
        except OSError as exc:
            self._mark_closed()
            self.close_reason = f"read failed ({type(exc).__name__}: {exc})"
            return []
        if not data:
            self._mark_closed()
            self.close_reason = self.close_reason or "the server dropped the connection"
            return []
        try:
            self._ws.receive_data(data)
            self._drain_events()
        except (RemoteProtocolError, LocalProtocolError, OSError) as exc:
            self._mark_closed()
            self.close_reason = f"protocol error ({type(exc).__name__}: {exc})"
        messages, self._inbox = self._inbox, []
        return messages

    def wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass  # already woken (buffer full) or closed

    def close(self) -> None:
        if not self.closed and self._ws.state is ConnectionState.OPEN:
            try:
                self._sock.sendall(self._ws.send(CloseConnection(code=1000)))
            except (OSError, LocalProtocolError):
                pass
        self._mark_closed()
        for sock in (self._wake_r, self._wake_w):
            sock.close()

    def _drain_events(self) -> None:
        for event in self._ws.events():
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, AcceptConnection):
            self._accepted = True
        elif isinstance(event, RejectConnection):
            raise ConnectionError(f"the WebSocket handshake was refused (HTTP {event.status_code})")
        elif isinstance(event, RejectData):
            pass
        elif isinstance(event, TextMessage | BytesMessage):
            data = event.data
            self._parts.append(data if isinstance(data, str) else bytes(data).decode("utf-8"))
            if event.message_finished:
                self._inbox.append("".join(self._parts))
                self._parts = []
        elif isinstance(event, Ping):
            self._sock.sendall(self._ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            self.close_code, self.close_reason = event.code, event.reason
            if self._ws.state is ConnectionState.REMOTE_CLOSING:
                try:
                    self._sock.sendall(self._ws.send(event.response()))
                except (OSError, LocalProtocolError):
                    pass
            self._mark_closed()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(64):
                pass
        except OSError:
            pass

    def _mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._sock.close()
            except OSError:
                pass


# The client.


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


class MarketDataClient:
    """Tradovate's market-data socket for a set of contracts, kept alive in a daemon thread.

    `token_provider()` is called before every connection, so a renewed token is used on
    the next reconnect. `on_quote(symbol, price, time, source, delayed=...)` receives each
    last trade; it runs in the client's thread. Times are measured with `clock` (monotonic seconds);
    `now` stamps a quote that carries no timestamp of its own.
    """

    def __init__(
        self,
        url: str,
        token_provider: TokenProvider,
        *,
        on_quote: QuoteSink = listeners.quote,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_SECONDS,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        request_timeout: float = 10.0,
        silence_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.silence_timeout = silence_timeout
        self._token_provider = token_provider
        self._on_quote = on_quote
        self._clock = clock
        self._now = now
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: _WebSocket | None = None
        # Desired subscriptions survive reconnects; requests wait in the outbox until
        # the session is authorized, and authorizing sends every subscription anyway.
        self._subscriptions: dict[str, int] = {}
        self._codes: dict[int, str] = {}
        self._subscribed_at: dict[str, float] = {}
        self._last_data: dict[str, float] = {}
        self._books: dict[str, TopOfBook] = {}
        self._outbox: deque[_Op] = deque()
        self._pending: dict[int, tuple[str, str | None]] = {}
        self._sub_errors: dict[str, str] = {}
        self._delayed: set[str] = set()  # answered in Delayed mode
        self._stale_reported: set[str] = set()
        self._state = "stopped"
        self._authorized = False
        self._last_message_at: datetime | None = None
        self._last_error: str | None = None
        self._last_disconnect: str | None = None
        self._shutdown_reason: str | None = None
        self._failures = 0
        self._sessions = 0
        self._retry_at: float | None = None

    # Public API.

    def start(self) -> None:
        """Start the connection thread (once; a no-op while it runs)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._state = "connecting"
            self._thread = threading.Thread(target=self._run, name="tradovate-md", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the socket and end the thread; subscriptions are kept for a later start."""
        self._stop.set()
        with self._lock:
            conn, thread = self._conn, self._thread
        if conn is not None:
            conn.wake()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._lock:
            self._state = "stopped"
            self._retry_at = None

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
        """The connection as the status indicator shows it."""
        with self._lock:
            clock = self._clock()
            retry_in = None
            if self._retry_at is not None:
                retry_in = round(max(self._retry_at - clock, 0.0), 3)
            return {
                "url": self.url,
                "state": self._state,
                "connected": self._authorized,
                "last_message_at": (
                    self._last_message_at.isoformat() if self._last_message_at else None
                ),
                "subscriptions": sorted(self._subscriptions),
                "stale": sorted(s for s in self._subscriptions if self._is_stale(s, clock)),
                "delayed": sorted(self._delayed),
                "last_error": self._last_error,
                "last_disconnect": self._last_disconnect,
                "subscription_errors": dict(self._sub_errors),
                "shutdown_reason": self._shutdown_reason,
                "failures": self._failures,
                "reconnects": max(self._sessions - 1, 0),
                "retry_in": retry_in,
            }

    # The connection thread.

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as exc:  # a bug must not end market data for good
                logger.exception("market data: session failed")
                self._fail(f"{type(exc).__name__}: {exc}")
            if self._stop.is_set():
                break
            exponent = min(max(self._failures - 1, 0), 32)
            delay = min(self.backoff_max, self.backoff_initial * 2**exponent)
            with self._lock:
                self._state = "waiting"
                self._retry_at = self._clock() + delay
            logger.info("market data: reconnecting in %.2f s", delay)
            self._stop.wait(delay)
        with self._lock:
            self._state = "stopped"
            self._retry_at = None

    def _session(self) -> None:
        with self._lock:
            self._state = "connecting"
            self._retry_at = None
            self._sessions += 1
        try:
            token = self._token_provider()
        except Exception as exc:
            self._fail(f"no market-data token ({type(exc).__name__}: {exc})")
            return
        if not token:
            self._fail("no market-data token")
            return
        try:
            conn = _WebSocket(self.url, self.request_timeout)
        except (OSError, ValueError, RemoteProtocolError, LocalProtocolError) as exc:
            self._fail(f"cannot connect to {self.url} ({type(exc).__name__}: {exc})")
            return
        with self._lock:
            self._conn = conn
            self._state = "authorizing"
        try:
            self._converse(conn, token)
        except _Lost as exc:
            self._fail(str(exc))
        finally:
            conn.close()
            with self._lock:
                self._conn = None
                self._authorized = False
                self._pending.clear()
                self._outbox.clear()

    def _converse(self, conn: _WebSocket, token: str) -> None:
        ids = itertools.count(1)
        now = self._clock()
        deadline: float | None = now + self.request_timeout  # for `o`, then the authorize answer
        next_heartbeat: float | None = None
        last_frame = now
        while not self._stop.is_set():
            now = self._clock()
            for op in self._take_outbox():
                self._request(conn, next(ids), op.endpoint, {"symbol": op.contract_id}, op.symbol)
            if next_heartbeat is not None and now >= next_heartbeat:
                conn.send("[]")
                next_heartbeat = now + self.heartbeat_interval
            if deadline is not None and now >= deadline:
                raise _Lost(f"no answer to open/authorize within {self.request_timeout:g} s")
            if now - last_frame >= self.silence_timeout:
                raise _Lost(f"the server sent nothing for {self.silence_timeout:g} s")
            self._report_staleness(now)
            wakes = [last_frame + self.silence_timeout, now + min(1.0, self.stale_after / 4)]
            if next_heartbeat is not None:
                wakes.append(next_heartbeat)
            if deadline is not None:
                wakes.append(deadline)
            messages = conn.poll(min(wakes) - now)
            if messages:
                last_frame = self._clock()
                with self._lock:
                    self._last_message_at = self._now()
            for text in messages:
                if text == "o":
                    self._request(conn, next(ids), "authorize", token, None)
                    next_heartbeat = self._clock() + self.heartbeat_interval
                    deadline = self._clock() + self.request_timeout
                elif text.startswith("a"):
                    if self._on_messages(text) and deadline is not None:
                        deadline = None  # authorized
                elif text.startswith("c"):
                    raise _Lost(f"the server closed the session: {text[1:] or 'no reason'}")
                elif text != "h":
                    logger.debug("market data: unknown frame %.200r", text)
            if conn.closed:
                code = f" ({conn.close_code})" if conn.close_code else ""
                raise _Lost(f"connection closed{code}: {conn.close_reason or 'no reason given'}")

    def _request(
        self, conn: _WebSocket, request_id: int, endpoint: str, body: object, symbol: str | None
    ) -> None:
        payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        with self._lock:
            self._pending[request_id] = (endpoint, symbol)
        conn.send(f"{endpoint}\n{request_id}\n\n{payload}")

    def _on_messages(self, text: str) -> bool:
        """Handle an `a[...]` frame; True when it authorized the session."""
        try:
            messages = json.loads(text[1:], parse_float=Decimal)
        except ValueError:
            logger.warning("market data: unreadable frame %.200r", text)
            return False
        authorized = False
        for message in messages if isinstance(messages, list) else [messages]:
            if not isinstance(message, dict):
                continue
            if "e" in message:
                self._on_event(message.get("e"), message.get("d"))
            elif "i" in message:
                authorized |= self._on_response(message)
        return authorized

    def _on_response(self, message: dict[str, Any]) -> bool:
        try:
            request_id = int(message["i"])
            status = int(message.get("s", 0))
        except (TypeError, ValueError):
            return False
        with self._lock:
            endpoint, symbol = self._pending.pop(request_id, (None, None))
        ok = 200 <= status < 300
        detail = message.get("d")
        if endpoint == "authorize":
            if not ok:
                raise _Lost(f"authorize refused: {status} {detail or ''}".rstrip())
            with self._lock:
                self._authorized = True
                self._state = "connected"
                self._failures = 0
                self._last_error = None
                self._shutdown_reason = None
                # Everything subscribed so far is sent now; queued requests are covered.
                self._outbox.clear()
                self._outbox.extend(
                    _Op("md/subscribeQuote", symbol, contract_id)
                    for symbol, contract_id in self._subscriptions.items()
                )
            logger.info("market data: authorized at %s", self.url)
            return True
        if endpoint is not None and symbol is not None:
            with self._lock:
                if ok:
                    self._sub_errors.pop(symbol, None)
                else:
                    self._sub_errors[symbol] = f"{endpoint}: {status} {detail or ''}".rstrip()
            if not ok:
                logger.warning(
                    "market data: %s %s refused: %s %s", endpoint, symbol, status, detail
                )
            elif endpoint == "md/subscribeQuote":
                self._note_mode(symbol, detail)
        return False

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
        elif name == "shutdown":
            details = data if isinstance(data, dict) else {}
            code = str(details.get("reasonCode") or "unknown")
            reason = details.get("reason")
            with self._lock:
                self._shutdown_reason = code
                if code in QUOTA_REASONS:
                    self._failures = 64  # the next wait is backoff_max (the exponent is capped)
            logger.warning("market data: server shutdown %s %s", code, reason or "")
            raise _Lost(f"server shutdown: {code}" + (f" ({reason})" if reason else ""))

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

    def _fail(self, message: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = self._last_disconnect = message
            self._authorized = False
        logger.warning("market data: %s", message)


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
    _running_client(getattr(account, "environment", None)).subscribe(symbol, int(contract_id))
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
    global _client, _token_provider, _contract_id_lookup
    with _registry_lock:
        running, _client = _client, None
        _token_provider = _contract_id_lookup = None
    if running is not None:
        running.stop()


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


def _current_token() -> str | None:
    provider = _token_provider
    return provider() if provider is not None else None
