"""The pusher: bus events and price ticks out to the owner's room over Socket.IO.

Publishers only hand over: a committed fill, an audit entry or a price tick is appended
here and one thread per process does the rest — emits, in the order they were heard,
through the server-level `socketio.emit` (with REDIS_URL, through the Redis queue, so
every process's browsers hear every process's events), reads an account again after its
positions, fills or trades changed, and figures `pnl` (pnl.py) at most once per
PNL_INTERVAL_SECONDS per account, and only when it changed. A tick costs a dictionary
look-up: it marks the accounts holding the symbol, never a query. It also marks the
symbol, whose open 1-minute bar (the bar book's) goes out as `bar` at most once per
PNL_INTERVAL_SECONDS, so an open chart moves with the price.
"""

import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from flask import Flask

from app.domain.bars import Bar
from app.domain.numbers import shown
from app.domain.trading_day import trading_day_start
from app.extensions import db, socketio
from app.services.live import OWNER_ROOM, pnl
from app.services.market import bars, prices
from app.services.records import events

logger = logging.getLogger(__name__)

PNL_INTERVAL_SECONDS = 1.0
FORWARDED = ("order", "fill", "position", "trade", "signal", "log", "price_alert")
RE_READ = ("position", "fill", "trade")  # an account's P&L copy is read again
STATUS_CHANGES = ("kill_switch",)  # the status is figured again and sent

StatusOf = Callable[[Flask], dict]


class Pusher:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._app: weakref.ref[Flask] | None = None
        self._status_of: StatusOf | None = None
        self._thread: threading.Thread | None = None
        self._outbox: deque[tuple[str, dict]] = deque()
        self._forget()

    def _forget(self) -> None:
        """Drop what was read from a database: a new app may have another."""
        self._copies: dict[int, pnl.AccountCopy] = {}
        self._holders: dict[str, set[int]] = {}  # symbol -> accounts holding it
        self._stale: set[int] = set()  # accounts to read again
        self._dirty: set[int] = set()  # accounts whose figures may have moved
        self._sent: dict[int, dict] = {}
        self._sent_at: dict[int, float] = {}
        self._priced: set[str] = set()  # symbols with a price since their last `bar`
        self._bar_sent_at: dict[str, float] = {}
        self._loaded = False  # every enabled account read once
        self._load_asked = False
        self._status_asked = False

    # --- wiring -----------------------------------------------------------------------------

    def wire(self, app: Flask, status_of: StatusOf) -> None:
        """Listen to the bus and the price cache (once per process) for `app`, the latest
        app built; `status_of(app)` figures the `status` event."""
        with self._cond:
            self._app = weakref.ref(app)
            self._status_of = status_of
            self._forget()
        for name in (*FORWARDED, *STATUS_CHANGES):
            events.subscribe(name, self.on_event)
        prices.subscribe(self.on_price)

    def on_event(self, name: str, payload: dict) -> None:
        with self._cond:
            if name in FORWARDED:
                self._outbox.append((name, payload))
            if name in RE_READ and payload.get("account_id") is not None:
                self._stale.add(payload["account_id"])
            if name in STATUS_CHANGES:
                self._status_asked = True
            self._wake()

    def on_price(self, symbol: str, _price: Decimal, _time: datetime) -> None:
        with self._cond:
            self._priced.add(symbol)
            if not self._loaded:
                self._load_asked = True
            else:
                self._dirty |= self._holders.get(symbol, set())
            self._wake()

    def send(self, name: str, payload: dict) -> None:
        """Emit `name` to the owner's room from the pusher's thread, after what came before."""
        with self._cond:
            self._outbox.append((name, payload))
            self._wake()

    def snapshot(self, now: datetime) -> list[dict]:
        """One `pnl` per enabled account, for a client that just connected (inside an
        app context: accounts not read yet are read now)."""
        found = []
        for account_id in pnl.enabled_account_ids():
            with self._cond:
                copy = self._copies.get(account_id)
            if copy is None:
                copy = pnl.read(account_id, now)
                if copy is None:
                    continue
                with self._cond:
                    self._keep(account_id, copy)
            found.append(pnl.figures(copy))
        return found

    # --- the thread ---------------------------------------------------------------------------

    def _wake(self) -> None:
        """Called holding the lock: start the thread on first need, else wake it."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="live-pusher", daemon=True)
            self._thread.start()
        self._cond.notify()

    def _run(self) -> None:
        while True:
            try:
                self._round()
            except Exception:  # the thread must outlive any one failure
                logger.exception("live pusher: a round failed")
                time.sleep(PNL_INTERVAL_SECONDS)

    def _round(self) -> None:
        with self._cond:
            while not self._has_work():  # a held-back account's time is figured anew
                self._cond.wait(self._wait_seconds())
            outbox = list(self._outbox)
            self._outbox.clear()
        for name, payload in outbox:
            socketio.emit(name, payload, to=OWNER_ROOM)
        self._read_what_changed()
        self._send_pnl(time.monotonic())
        self._send_bars(time.monotonic())

    def _has_work(self) -> bool:
        return bool(
            self._outbox
            or self._stale
            or self._load_asked
            or self._status_asked
            or self._due()
            or self._bars_due()
        )

    def _due(self) -> set[int]:
        now = time.monotonic()
        return {a for a in self._dirty if now - self._sent_at.get(a, 0.0) >= PNL_INTERVAL_SECONDS}

    def _bars_due(self) -> set[str]:
        now = time.monotonic()
        return {
            s for s in self._priced if now - self._bar_sent_at.get(s, 0.0) >= PNL_INTERVAL_SECONDS
        }

    def _wait_seconds(self) -> float | None:
        """Until the earliest held-back account or symbol may be sent again; forever
        without one."""
        last_sent = [self._sent_at.get(a, 0.0) for a in self._dirty]
        last_sent += [self._bar_sent_at.get(s, 0.0) for s in self._priced]
        if not last_sent:
            return None
        return max(min(last_sent) + PNL_INTERVAL_SECONDS - time.monotonic(), 0.0)

    def _read_what_changed(self) -> None:
        with self._cond:
            stale, self._stale = self._stale, set()
            load, self._load_asked = self._load_asked, False
            status, self._status_asked = self._status_asked, False
            app = self._app() if self._app else None
        if app is None or not (stale or load or status):
            return
        now = datetime.now(UTC)
        with app.app_context():
            try:
                if load:
                    stale |= set(pnl.enabled_account_ids())
                copies = {account_id: pnl.read(account_id, now) for account_id in stale}
                figured = self._status_of(app) if status and self._status_of else None
            finally:
                db.session.remove()
        with self._cond:
            self._loaded = self._loaded or load
            for account_id, copy in copies.items():
                self._keep(account_id, copy)
        if figured is not None:
            socketio.emit("status", figured, to=OWNER_ROOM)

    def _keep(self, account_id: int, copy: pnl.AccountCopy | None) -> None:
        """Called holding the lock: the account's new copy, and which ticks concern it."""
        for holders in self._holders.values():
            holders.discard(account_id)
        if copy is None:
            self._copies.pop(account_id, None)
            self._dirty.discard(account_id)
            return
        self._copies[account_id] = copy
        for symbol in copy.symbols:
            self._holders.setdefault(symbol, set()).add(account_id)
        self._dirty.add(account_id)

    def _send_pnl(self, now: float) -> None:
        with self._cond:
            due = self._due()
            self._dirty -= due
            copies = {a: self._copies[a] for a in due if a in self._copies}
        day_start = trading_day_start(datetime.now(UTC))
        for account_id, copy in copies.items():
            if copy.day_start != day_start:  # today's realized P&L starts again
                with self._cond:
                    self._stale.add(account_id)
                continue
            payload = pnl.figures(copy)
            if payload == self._sent.get(account_id):
                continue
            socketio.emit("pnl", payload, to=OWNER_ROOM)
            self._sent[account_id], self._sent_at[account_id] = payload, now

    def _send_bars(self, now: float) -> None:
        """The open minute of each symbol priced since its last `bar` (none when the bar
        writer closed the minute meanwhile: the next price opens the next one)."""
        with self._cond:
            due = self._bars_due()
            self._priced -= due
            for symbol in due:
                self._bar_sent_at[symbol] = now
        for symbol in sorted(due):
            bar = bars.book.open_bar(symbol)
            if bar is not None:
                socketio.emit("bar", bar_json(symbol, bar), to=OWNER_ROOM)


def bar_json(symbol: str, bar: Bar) -> dict:
    """The `bar` event: a symbol's open 1-minute bar, decimals as strings."""
    return {
        "symbol": symbol,
        "timeframe": "1m",
        "time": bar.time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "open": shown(bar.open),
        "high": shown(bar.high),
        "low": shown(bar.low),
        "close": shown(bar.close),
        "volume": bar.volume,
    }


_pusher = Pusher()

wire = _pusher.wire
send = _pusher.send
snapshot = _pusher.snapshot
