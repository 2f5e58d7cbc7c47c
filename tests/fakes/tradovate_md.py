"""A fake Tradovate market-data WebSocket server on 127.0.0.1, speaking the real frames.

reference/tradovate.md §5: the server opens with `o`, answers `authorize\\n<id>\\n\\n<token>`
with `a[{"i":id,"s":200}]` (or `s:401` and an error string in `d`), answers
`md/subscribeQuote` / `md/unsubscribeQuote`, and pushes `a[{"e":"md","d":{"quotes":[...]}}]`.
A symbol marked with `serve_delayed` is subscribed as for a user without a real-time
subscription: the answer is `{"s":200,"i":n,"d":{"mode":"Delayed","subscriptionId":…}}`
(reference "Delayed market data").
`md/getChart` is answered as Tradovate does (reference "Chart history over the
market-data socket"): `{"historicalId", "realtimeId"}`, then `chart` events of the
historical id carrying the bars `hold_bars` gave for that symbol and underlying type (in
packets of `chart_packet` bars, the time range applied), a packet under the realtime id
when `hold_bars` got `realtime` bars, then `{"id": historicalId, "eoh": true}`.
`withhold_eoh()` sends the bars and never the end; `refuse_chart` answers an error;
`md/cancelChart` is answered and its ids are in `cancelled_charts()`.
Tests drive it: `push_quote`, `send_heartbeat` (or `heartbeat_interval` for `h` frames on a
timer), `send_shutdown`, `send_close`, `drop()`, `mute()` / `unmute()` (a socket that goes
silent: connected, but no heartbeat, answer or quote goes out); and read what the client sent from
`received`. The `heard` fixture collects what the client hands to app.brokers.listeners.
Prices are written into the JSON text exactly as given, so a client that parses
through float shows up. Served by Werkzeug's threaded server, each connection upgraded with
simple_websocket.Server.
"""

import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pytest
import simple_websocket
from simple_websocket import ConnectionClosed
from werkzeug.serving import WSGIRequestHandler, make_server

from app.brokers import listeners

DEFAULT_TOKEN = "fake-md-access-token"


@dataclass(frozen=True)
class Received:
    """One text message the client sent."""

    connection: int  # 1 for the first connection, 2 after the first reconnect, ...
    at: float  # time.monotonic()
    text: str

    @property
    def endpoint(self) -> str:
        return self.text.split("\n", 1)[0]

    @property
    def request(self) -> tuple[str, int, str, str] | None:
        """(endpoint, id, query, body) of a request; None for a heartbeat."""
        parts = self.text.split("\n", 3)
        if len(parts) != 4:
            return None
        return parts[0], int(parts[1]), parts[2], parts[3]


@dataclass(eq=False)
class Connection:
    """One client connection; `send` is safe from any thread and says whether it went out."""

    number: int
    ws: simple_websocket.Server
    authorized: bool = False
    subscriptions: set[int | str] = field(default_factory=set)
    dropped: bool = False
    muted: bool = False  # its server went silent: nothing goes out
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, text: str) -> bool:
        with self.lock:
            if self.dropped or self.muted or not self.ws.connected:
                return False
            try:
                self.ws.send(text)
            except (ConnectionClosed, OSError):
                return False
            return True


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: object) -> None:  # noqa: A002
        pass


class FakeMarketDataServer:
    """Tradovate's md socket for one test; `url` is its ws:// address."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, heartbeat_interval: float | None = None):
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.received: list[Received] = []
        self.connections: list[Connection] = []
        self.refused: dict[int | str, tuple[int, str]] = {}
        self.delayed: set[int | str] = set()
        self.muted = False
        # (symbol, underlying type) -> (history bars, realtime bars), each a wire bar
        self.chart_bars: dict[tuple[int | str, str], tuple[list[dict], list[dict]]] = {}
        self.chart_packet = 100
        self.charts_refused: dict[int | str, tuple[int, str]] = {}
        self.eoh_withheld = False
        self._chart_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"ws://127.0.0.1:{self._server.server_port}/v1/websocket"
        # A short poll interval so that stop() returns at once.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> "FakeMarketDataServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop()
        self._server.shutdown()
        self._server.server_close()

    # Driving the client.

    def push_quote(
        self,
        contract_id: int,
        *,
        trade: Decimal | str | None = None,
        bid: Decimal | str | None = None,
        ask: Decimal | str | None = None,
        size: Decimal | str = "1",
        timestamp: str = "2026-11-20T15:30:00.250Z",
    ) -> int:
        """Send one quote to every authorized connection subscribed to it; how many got it."""
        entries = [f'"TotalTradeVolume":{{"size":{size}}}']
        for name, price in (("Bid", bid), ("Offer", ask), ("Trade", trade)):
            if price is not None:
                entries.append(f'"{name}":{{"price":{price},"size":{size}}}')
        quote = (
            f'{{"timestamp":"{timestamp}","contractId":{contract_id},'
            f'"entries":{{{",".join(entries)}}}}}'
        )
        frame = f'a[{{"e":"md","d":{{"quotes":[{quote}]}}}}]'
        return sum(
            connection.send(frame)
            for connection in self.live()
            if connection.authorized and contract_id in connection.subscriptions
        )

    def send_heartbeat(self) -> None:
        for connection in self.live():
            connection.send("h")

    def send_shutdown(self, reason_code: str = "Maintenance", reason: str | None = None) -> None:
        event: dict[str, object] = {"reasonCode": reason_code}
        if reason is not None:
            event["reason"] = reason
        self.send_raw("a" + json.dumps([{"e": "shutdown", "d": event}]))

    def send_close(self, code: int = 3000, reason: str = "Go away!") -> None:
        self.send_raw("c" + json.dumps([code, reason]))

    def send_raw(self, text: str) -> None:
        for connection in self.live():
            connection.send(text)

    def drop(self) -> None:
        """Cut every live connection at the TCP level, without a close frame."""
        for connection in self.live():
            with connection.lock:
                connection.dropped = True
                try:
                    connection.ws.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def mute(self) -> None:
        """Go silent: the connections stay open, but nothing goes out on them (no `h`, no
        answer, no quote) until `unmute()`; what the client sends is still read. A
        connection opened meanwhile gets nothing either, not even `o`."""
        self._set_muted(True)

    def unmute(self) -> None:
        self._set_muted(False)

    def _set_muted(self, muted: bool) -> None:
        with self._lock:
            self.muted = muted
            for connection in self.connections:
                connection.muted = muted

    def serve_delayed(self, symbol: int | str, delayed: bool = True) -> None:
        """Answer the next subscriptions of `symbol` in Delayed mode (or real-time again)."""
        if delayed:
            self.delayed.add(symbol)
        else:
            self.delayed.discard(symbol)

    def refuse_subscription(self, symbol: int | str, status: int = 404, message: str = "") -> None:
        self.refused[symbol] = (status, message or f"Unknown contract {symbol}")

    def hold_bars(
        self,
        symbol: int | str,
        underlying: str,
        bars: list[dict],
        *,
        realtime: list[dict] | tuple = (),
    ) -> None:
        """The history `md/getChart` serves for `symbol` (a contract id or a code) and
        `underlying` ("MinuteBar", "DailyBar"): wire bars whose numbers are written into
        the JSON text exactly as given; `realtime` bars follow under the realtime id."""
        self.chart_bars[(symbol, underlying)] = (list(bars), list(realtime))

    def refuse_chart(self, symbol: int | str, status: int = 404, message: str = "") -> None:
        self.charts_refused[symbol] = (status, message or f"Unknown contract {symbol}")

    def withhold_eoh(self) -> None:
        """Send each chart's bars but never its end of history."""
        self.eoh_withheld = True

    def cancelled_charts(self) -> list[int]:
        """The subscription ids of every `md/cancelChart` the client sent."""
        return [
            json.loads(r.request[3])["subscriptionId"] for r in self.sent(endpoint="md/cancelChart")
        ]

    # Reading what happened.

    def live(self) -> list[Connection]:
        with self._lock:
            return [c for c in self.connections if not c.dropped and c.ws.connected]

    def sent(self, connection: int | None = None, endpoint: str | None = None) -> list[Received]:
        with self._lock:
            found = list(self.received)
        return [
            r
            for r in found
            if (connection is None or r.connection == connection)
            and (endpoint is None or r.endpoint == endpoint)
        ]

    def heartbeats(self, connection: int | None = None) -> list[float]:
        return [r.at for r in self.sent(connection, endpoint="[]")]

    def subscribed(self, contract_id: int | str, connection: int | None = None) -> bool:
        with self._lock:
            chosen = [
                c
                for c in self.connections
                if connection is None or c.number == connection
                if not c.dropped
            ]
        return any(c.authorized and contract_id in c.subscriptions for c in chosen)

    @staticmethod
    def wait_for(predicate: Callable[[], object], timeout: float = 3.0) -> bool:
        """Poll `predicate` every 10 ms until it holds; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    # The server side.

    def _wsgi(self, environ, start_response):
        ws = simple_websocket.Server.accept(environ)
        with self._lock:
            connection = Connection(len(self.connections) + 1, ws, muted=self.muted)
            self.connections.append(connection)
        try:
            self._serve(connection)
        finally:
            if ws.connected:
                try:
                    ws.close()
                except (ConnectionClosed, OSError):
                    pass
        # Werkzeug treats this as a dropped connection and writes no HTTP response.
        raise ConnectionError("websocket closed")

    def _serve(self, connection: Connection) -> None:
        connection.send("o")
        next_heartbeat = time.monotonic()
        while not connection.dropped and connection.ws.connected:
            if self.heartbeat_interval and time.monotonic() >= next_heartbeat:
                connection.send("h")
                next_heartbeat = time.monotonic() + self.heartbeat_interval
            try:
                text = connection.ws.receive(timeout=0.01)
            except ConnectionClosed:
                return
            if text is None:
                continue
            if isinstance(text, bytes):
                text = text.decode()
            with self._lock:
                self.received.append(Received(connection.number, time.monotonic(), text))
            if text != "[]":
                self._answer(connection, text)

    def _answer(self, connection: Connection, text: str) -> None:
        parts = text.split("\n", 3)
        if len(parts) != 4:
            connection.send('a[{"s":400,"i":null,"d":"Malformed request"}]')
            return
        endpoint, request_id, _query, body = parts
        status, detail = 200, None
        if endpoint == "authorize":
            connection.authorized = body == self.token
            if not connection.authorized:
                status, detail = 401, "Invalid access token"
        elif not connection.authorized:
            status, detail = 401, "Access is denied"
        elif endpoint == "md/getChart":
            self._chart(connection, int(request_id), json.loads(body))
            return
        elif endpoint == "md/cancelChart":
            pass
        elif endpoint in ("md/subscribeQuote", "md/unsubscribeQuote"):
            symbol = json.loads(body)["symbol"]
            if symbol in self.refused:
                status, detail = self.refused[symbol]
            elif endpoint == "md/subscribeQuote":
                connection.subscriptions.add(symbol)
                if symbol in self.delayed:
                    detail = {"mode": "Delayed", "subscriptionId": int(request_id) + 9000}
            else:
                connection.subscriptions.discard(symbol)
        else:
            status, detail = 404, f"Unknown operation {endpoint}"
        answer: dict[str, object] = {"s": status, "i": int(request_id)}
        if detail is not None:
            answer["d"] = detail
        connection.send("a" + json.dumps([answer]))

    def _chart(self, connection: Connection, request_id: int, body: dict) -> None:
        symbol = body["symbol"]
        if symbol in self.charts_refused:
            status, message = self.charts_refused[symbol]
            connection.send("a" + json.dumps([{"s": status, "i": request_id, "d": message}]))
            return
        number = next(self._chart_ids)
        historical, realtime = 1000 + number, 2000 + number
        answer = {
            "s": 200,
            "i": request_id,
            "d": {"historicalId": historical, "realtimeId": realtime},
        }
        connection.send("a" + json.dumps([answer]))
        kind = body["chartDescription"]["underlyingType"]
        bars, live = self.chart_bars.get((symbol, kind), ([], []))
        bars = _in_range(bars, body["timeRange"])
        for start in range(0, len(bars), self.chart_packet):
            connection.send(_chart_frame(historical, bars[start : start + self.chart_packet]))
        if live:
            connection.send(_chart_frame(realtime, live))
        if not self.eoh_withheld:
            connection.send(
                f'a[{{"e":"chart","d":{{"charts":[{{"id":{historical},"eoh":true}}]}}}}]'
            )


def _in_range(bars: list[dict], time_range: dict) -> list[dict]:
    """The bars a time range asks for: since `asFarAsTimestamp`, or the last `asMuchAsElements`."""
    if "asFarAsTimestamp" in time_range:
        since = datetime.fromisoformat(time_range["asFarAsTimestamp"])
        bars = [bar for bar in bars if datetime.fromisoformat(bar["timestamp"]) >= since]
    if "asMuchAsElements" in time_range:
        bars = bars[-int(time_range["asMuchAsElements"]) :]
    return bars


def _chart_frame(chart_id: int, bars: list[dict]) -> str:
    """A `chart` event; each bar's values go into the text as given (numbers unquoted)."""
    items = []
    for bar in bars:
        fields = [
            f'"{name}":{json.dumps(value) if name == "timestamp" else value}'
            for name, value in bar.items()
        ]
        items.append("{" + ",".join(fields) + "}")
    trade_date = bars[0]["timestamp"][:10].replace("-", "") if bars else "0"
    item = f'{{"id":{chart_id},"td":{int(trade_date)},"bars":[{",".join(items)}]}}'
    return f'a[{{"e":"chart","d":{{"charts":[{item}]}}}}]'


@pytest.fixture(name="fake_md")
def fake_md_server():
    """A running fake market-data server; stopped (every connection cut) after the test."""
    server = FakeMarketDataServer().start()
    yield server
    server.stop()


@pytest.fixture(name="heard")
def heard_quotes():
    """The quotes adapters hand to app.brokers.listeners, as the services receive them:
    (symbol, price, time, source); whether a quote was `delayed` is left out (the client's
    own sink shows it). Afterwards quotes are dropped again, as unconnected."""
    quotes: list[tuple] = []
    listeners.connect(quotes=lambda *quote, delayed=False: quotes.append(quote), reports=_ignore)
    yield quotes
    listeners.connect(quotes=lambda *quote, delayed=False: None, reports=_ignore)


def _ignore(report) -> None:
    """Reports are not what these tests listen for."""
