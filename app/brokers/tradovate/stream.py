"""Tradovate's WebSocket protocol, shared by the market-data and the user-data sockets.

Protocol (reference/tradovate.md §5). The server frames are `o` (open), `h` (heartbeat),
`a[...]` (a JSON array of messages) and `c[code, "reason"]` (close). A request is four
`\\n`-separated lines, `endpoint`, `id`, query (empty here) and body;
`authorize\\n<id>\\n\\n<token>` comes first, right after `o`. A response is
`{"i", "s", "d"}` (`d` is an error string when `s` is not 2xx); an event is
`{"e": "md" | "props" | "shutdown" | ..., "d": ...}`. The client sends `[]` at least every
2.5 s. A `shutdown` event names a reason; a quota reason waits the longest backoff.

`SocketClient` is one such connection kept alive by a daemon thread: connect, authorize,
read, heartbeat, and after any failure wait a capped exponential backoff, reconnect and
re-authorize with a token asked for anew (so a renewed token is the one used). What a
socket asks for and what it does with answers and events are its subclass's hooks. The
transport is wsproto (installed with Flask-SocketIO) over a plain socket: simple-websocket's
Client has no connect or handshake timeout, so a server that accepts and never answers
would hang the thread.
"""

import itertools
import json
import logging
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

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

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.5
# Shutdown reasons that a quick retry would only repeat (reference §5): wait the longest.
QUOTA_REASONS = frozenset({"ConnectionQuotaReached", "IPQuotaReached"})

TokenProvider = Callable[[], str | None]
# (endpoint, body, tag): a request to send; the tag comes back with its answer.
Outgoing = tuple[str, object, object]


# Transport.


class Lost(Exception):
    """The connection is gone (or must be given up); the message says why."""


class WebSocket:
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
            raise Lost("the connection is closed")
        try:
            self._sock.sendall(self._ws.send(TextMessage(data=text)))
        except (OSError, LocalProtocolError) as exc:
            self._mark_closed()
            raise Lost(f"send failed ({type(exc).__name__}: {exc})") from exc

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


# The session loop.


class SocketClient:
    """One Tradovate WebSocket kept alive in a daemon thread; subclasses say what to ask.

    `token_provider()` is called before every connection, so a renewed token is used on
    the next reconnect. Times are measured with `clock` (monotonic seconds); `now` stamps
    what the status shows. The hooks run in the client's thread; those marked so run with
    the lock held (an RLock: they may take it again).
    """

    label = "socket"  # log prefix
    thread_name = "tradovate-socket"

    def __init__(
        self,
        url: str,
        token_provider: TokenProvider,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        heartbeat_interval: float = HEARTBEAT_SECONDS,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        request_timeout: float = 10.0,
        silence_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.heartbeat_interval = heartbeat_interval
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.request_timeout = request_timeout
        self.silence_timeout = silence_timeout
        self._token_provider = token_provider
        self._clock = clock
        self._now = now
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: WebSocket | None = None
        self._pending: dict[int, tuple[str, object]] = {}
        self._state = "stopped"
        self._authorized = False
        self._last_frame: float | None = None  # clock of the current session's last frame
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
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the socket and end the thread; what was asked for is kept for a later start."""
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

    def connection_status(self) -> dict[str, Any]:
        """The connection as the status indicator shows it."""
        with self._lock:
            retry_in = None
            if self._retry_at is not None:
                retry_in = round(max(self._retry_at - self._clock(), 0.0), 3)
            return {
                "url": self.url,
                "state": self._state,
                "connected": self._authorized,
                "last_message_at": (
                    self._last_message_at.isoformat() if self._last_message_at else None
                ),
                "last_error": self._last_error,
                "last_disconnect": self._last_disconnect,
                "shutdown_reason": self._shutdown_reason,
                "failures": self._failures,
                "reconnects": max(self._sessions - 1, 0),
                "retry_in": retry_in,
            }

    # Hooks.

    def _requests(self) -> list[Outgoing]:
        """What to send now; asked only while the session is authorized."""
        return []

    def _on_authorized(self) -> None:
        """The session was just authorized (the lock is held)."""

    def _on_answer(self, endpoint: str, tag: object, status: int, detail: object) -> None:
        """The answer to a request this subclass sent."""

    def _on_event(self, name: object, data: object) -> None:
        """An event other than `shutdown`."""

    def _on_idle(self, clock: float) -> None:
        """Called at least every `_idle_interval()` seconds while connected."""

    def _idle_interval(self) -> float:
        return 1.0

    def _on_refused_token(self, token: str) -> None:
        """Tradovate refused `token` on authorize."""

    def _on_disconnect(self) -> None:
        """The session ended (the lock is held)."""

    # The connection thread.

    def _send(
        self, conn: WebSocket, request_id: int, endpoint: str, body: object, tag: object
    ) -> None:
        payload = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        with self._lock:
            self._pending[request_id] = (endpoint, tag)
        conn.send(f"{endpoint}\n{request_id}\n\n{payload}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as exc:  # a bug must not end the socket for good
                logger.exception("%s: session failed", self.label)
                self._fail(f"{type(exc).__name__}: {exc}")
            if self._stop.is_set():
                break
            exponent = min(max(self._failures - 1, 0), 32)
            delay = min(self.backoff_max, self.backoff_initial * 2**exponent)
            with self._lock:
                self._state = "waiting"
                self._retry_at = self._clock() + delay
            logger.info("%s: reconnecting in %.2f s", self.label, delay)
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
            self._fail(f"no {self.label} token ({type(exc).__name__}: {exc})")
            return
        if not token:
            self._fail(f"no {self.label} token")
            return
        try:
            conn = WebSocket(self.url, self.request_timeout)
        except (OSError, ValueError, RemoteProtocolError, LocalProtocolError) as exc:
            self._fail(f"cannot connect to {self.url} ({type(exc).__name__}: {exc})")
            return
        with self._lock:
            self._conn = conn
            self._state = "authorizing"
        try:
            self._converse(conn, token)
        except Lost as exc:
            self._fail(str(exc))
        finally:
            conn.close()
            with self._lock:
                self._conn = None
                self._authorized = False
                self._last_frame = None
                self._pending.clear()
                self._on_disconnect()

    def _converse(self, conn: WebSocket, token: str) -> None:
        ids = itertools.count(1)
        now = self._clock()
        deadline: float | None = now + self.request_timeout  # for `o`, then the authorize answer
        next_heartbeat: float | None = None
        last_frame = now
        while not self._stop.is_set():
            now = self._clock()
            if self._authorized:
                for endpoint, body, tag in self._requests():
                    self._send(conn, next(ids), endpoint, body, tag)
            if next_heartbeat is not None and now >= next_heartbeat:
                conn.send("[]")
                next_heartbeat = now + self.heartbeat_interval
            if deadline is not None and now >= deadline:
                raise Lost(f"no answer to open/authorize within {self.request_timeout:g} s")
            if now - last_frame >= self.silence_timeout:
                raise Lost(f"the server sent nothing for {self.silence_timeout:g} s")
            self._on_idle(now)
            wakes = [last_frame + self.silence_timeout, now + self._idle_interval()]
            if next_heartbeat is not None:
                wakes.append(next_heartbeat)
            if deadline is not None:
                wakes.append(deadline)
            messages = conn.poll(min(wakes) - now)
            if messages:
                last_frame = self._clock()
                with self._lock:
                    self._last_frame = last_frame
                    self._last_message_at = self._now()
            for text in messages:
                if text == "o":
                    self._send(conn, next(ids), "authorize", token, token)
                    next_heartbeat = self._clock() + self.heartbeat_interval
                    deadline = self._clock() + self.request_timeout
                elif text.startswith("a"):
                    if self._on_frame(text) and deadline is not None:
                        deadline = None  # authorized
                elif text.startswith("c"):
                    raise Lost(f"the server closed the session: {text[1:] or 'no reason'}")
                elif text != "h":
                    logger.debug("%s: unknown frame %.200r", self.label, text)
            if conn.closed:
                code = f" ({conn.close_code})" if conn.close_code else ""
                raise Lost(f"connection closed{code}: {conn.close_reason or 'no reason given'}")

    def _on_frame(self, text: str) -> bool:
        """Handle an `a[...]` frame; True when it authorized the session."""
        try:
            messages = json.loads(text[1:], parse_float=Decimal)
        except ValueError:
            logger.warning("%s: unreadable frame %.200r", self.label, text)
            return False
        authorized = False
        for message in messages if isinstance(messages, list) else [messages]:
            if not isinstance(message, dict):
                continue
            if "e" in message:
                if message.get("e") == "shutdown":
                    self._on_shutdown(message.get("d"))
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
            endpoint, tag = self._pending.pop(request_id, (None, None))
        detail = message.get("d")
        if endpoint is None:
            return False
        if endpoint != "authorize":
            self._on_answer(endpoint, tag, status, detail)
            return False
        if not 200 <= status < 300:
            if status == 401 and isinstance(tag, str):
                self._on_refused_token(tag)
            raise Lost(f"authorize refused: {status} {detail or ''}".rstrip())
        with self._lock:
            self._authorized = True
            self._state = "connected"
            self._failures = 0
            self._last_error = None
            self._shutdown_reason = None
            self._on_authorized()
        logger.info("%s: authorized at %s", self.label, self.url)
        return True

    def _on_shutdown(self, data: object) -> None:
        details = data if isinstance(data, dict) else {}
        code = str(details.get("reasonCode") or "unknown")
        reason = details.get("reason")
        with self._lock:
            self._shutdown_reason = code
            if code in QUOTA_REASONS:
                self._failures = 64  # the next wait is backoff_max (the exponent is capped)
        logger.warning("%s: server shutdown %s %s", self.label, code, reason or "")
        raise Lost(f"server shutdown: {code}" + (f" ({reason})" if reason else ""))

    def _fail(self, message: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = self._last_disconnect = message
            self._authorized = False
        logger.warning("%s: %s", self.label, message)
