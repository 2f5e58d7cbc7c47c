"""The whole app under each kind of Tradovate fault (issue 14 item 5), seen from outside.

Alerts come in through the webhook (Flask test client), a Tradovate account trades
against the fake Tradovate over real sockets, and the position poller and the monitor
run by calling their job functions on a clock the test moves. Each kind injects its
fault in the middle of a burst of alerts (or of a trailing stop's life, for market data),
then lets it clear. For every kind the same three promises are checked:

- never a duplicate: each client order id reached the fake exchange at most once, and
  no alert made more than one order there;
- never a silent loss: every alert answered 2xx has its order rows, each with the
  broker's answer (a Tradovate id) or a recorded reason; every failed alert is in the
  audit log and told (a `signal_rejected` notification), an account the poller cannot
  read for BROKER_DOWN_AFTER is told (`broker_disconnected`); the fake holds no order
  DeskPilot has no row for;
- recovery by itself: once the fault clears, the next alert executes, the next poll
  mirrors the broker (our position is the fake's), the next quote moves the stop — no
  manual step.

`pytest -s tests/integration/test_faults.py` prints what each kind did ("faults injected
by kind": alerts sent, orders at the broker, duplicates, lost, recovered in).
"""

import functools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.brokers.tradovate import broker as tradovate_broker
from app.brokers.tradovate import market_data, user_sync
from app.extensions import db
from app.services.market import prices
from app.services.protection import monitor
from app.workers.position_poller import BROKER_DOWN_AFTER, poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front
from tests.fakes.tradovate_md import FakeMarketDataServer

MD_TOKEN = "md-token"
wait_for = FakeMarketDataServer.wait_for


@dataclass
class Row:
    kind: str
    alerts: int
    at_broker: int
    duplicates: int
    lost: int
    recovered: str


TABLE: list[Row] = []


@pytest.fixture(scope="module", autouse=True)
def _faults_by_kind():
    """Print the table of what each kind did once the module is done (shown with -s)."""
    yield
    if not TABLE:
        return
    print("\n\nfaults injected by kind")
    head = ("kind", "alerts", "at broker", "duplicates", "lost", "recovered in")
    print("{:<16} {:>6} {:>9} {:>10} {:>4}  {}".format(*head))
    for row in TABLE:
        print(
            f"{row.kind:<16} {row.alerts:>6} {row.at_broker:>9} {row.duplicates:>10} "
            f"{row.lost:>4}  {row.recovered}"
        )


class Desk:
    """One Tradovate account behind one strategy, the poller and the monitor on a clock
    the test moves (the Tradovate client's clock moves with it)."""

    def __init__(self, app, api, fake, account, strategy, kind: str) -> None:
        self.app, self.api, self.fake = app, api, fake
        self.account, self.strategy, self.kind = account, strategy, kind
        self.symbol = front()
        self.clock = datetime.now(UTC)
        self.answers: list[dict] = []

    # Driving.

    def alert(self, action: str = "buy", **fields) -> dict:
        """One alert through the webhook; it must be answered 2xx (its outcome inside)."""
        alert_id = f"{self.kind}-{len(self.answers) + 1}"
        body = {"action": action, "quantity": 1, "id": alert_id, **fields}
        response = self.api.client.post(
            f"/webhook/{self.strategy['webhook_token']}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        assert 200 <= response.status_code < 300, response.get_json()
        answer = response.get_json()
        self.answers.append(answer)
        return answer

    def advance(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)
        self.fake.client_clock.advance(timedelta(seconds=seconds))

    def poll(self, after: float = 0) -> dict[int, str]:
        """One run of the position poller `after` seconds on; the failures by account."""
        self.advance(after)
        with self.app.app_context():
            try:
                return poll_accounts(self.app, self.clock)
            finally:
                db.session.remove()

    def tick(self, price: str | None = None) -> str | None:
        """One monitor tick (after a print at `price`, at the exchange and in the price
        cache, as market data would bring it); the last row failure, if any."""
        if price is not None:
            self.fake.set_price(self.symbol, price)
            prices.update(self.symbol, Decimal(price), datetime.now(UTC), "tradovate")
        with self.app.app_context():
            try:
                return monitor.tick(datetime.now(UTC)).last_error
            finally:
                db.session.remove()

    def recover(self) -> int:
        """The fault has cleared: polls until the poller reads the account without a
        failure and our position is the broker's (how many it took), then a new alert
        executes at once."""
        polls = 0
        while polls < 3:
            polls += 1
            if self.poll(after=5) == {} and self.position() == self.broker_position():
                break
        else:
            raise AssertionError("the account did not recover by itself in 3 polls")
        answer = self.alert("buy")
        assert answer["status"] == "executed", answer
        assert self.poll(after=5) == {}
        # The market order's fill reaches the ledger on its own (a socket event or the
        # next read): on a loaded machine that may be a moment after the poll.
        assert wait_for(lambda: self.poll() == {} and self.position() == self.broker_position())
        return polls

    # Reading, from the outside: the API and the fake exchange.

    def every(self, path: str) -> list[dict]:
        items, url = [], path
        while url:
            page = self.api.get(url).get_json()
            items += page["items"]
            url = page.get("next")
        return items

    def orders(self) -> list[dict]:
        return self.every(f"/api/orders?account_id={self.account['id']}")

    def position(self) -> int:
        held = self.every(f"/api/positions?account_id={self.account['id']}")
        return sum(p["qty"] for p in held if p["symbol"] == self.symbol)

    def broker_position(self) -> int:
        found = self.fake.position(TRADOVATE_ACCOUNT, self.symbol)
        return found["netPos"] if found else 0

    def notifications(self, event_type: str) -> list[dict]:
        return [n for n in self.every("/api/notifications") if n["event_type"] == event_type]

    def logged(self, category: str) -> list[str]:
        return [e["message"] for e in self.every(f"/api/logs?category={category}")]

    def tally(self, recovered: str) -> Row:
        """Check the promises over everything this desk sent; the kind's row."""
        orders = self.orders()
        by_client = {o["client_order_id"]: o for o in orders}
        placed = dict(self.fake.placed)
        duplicates = sum(count - 1 for count in placed.values())
        orphans = [cl_ord_id for cl_ord_id in placed if cl_ord_id not in by_client]
        events = {e["id"]: e for e in self.every(f"/api/webhook-events?strategy_id={self.sid}")}
        lost = len(orphans)
        failed = []
        for answer in self.answers:
            event = events[answer["event_id"]]
            assert event["status"] != "received", event
            rows = [o for o in orders if o["webhook_event_id"] == event["id"]]
            decided = [o for o in rows if o["broker_order_id"] or _refused_with_reason(o)]
            if not rows or len(decided) < len(rows):
                lost += 1
            sent = [o for o in rows if o["role"] in ("entry", "exit") and o["broker_order_id"]]
            duplicates += max(len(sent) - 1, 0)  # one alert, one order at the broker
            if event["status"] == "failed":
                failed.append(event)
        signal_log = self.logged("signal")
        for event in failed:
            assert event["reason"], event
            assert any(m.startswith(f"alert {event['id']} failed: ") for m in signal_log)
        told = [n for n in self.notifications("signal_rejected") if "failed" in n["title"]]
        assert len(told) == len(failed), (told, failed)
        row = Row(self.kind, len(self.answers), len(placed), duplicates, lost, recovered)
        TABLE.append(row)
        return row

    @property
    def sid(self) -> int:
        return self.strategy["id"]


TRADOVATE_ACCOUNT = 720001  # the fake's first account: the one an empty account id trades


def _refused_with_reason(order: dict) -> bool:
    return order["status"] in ("failed", "rejected") and bool(order["reason"])


@pytest.fixture
def make_desk(app, api, make_account, make_strategy, fake_tradovate, hooked):
    def make(kind: str) -> Desk:
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        trader = {"strategy_id": strategy["id"], "account_id": account["id"]}
        assert api.post("/api/traders", trader).status_code == 201
        desk = Desk(app, api, fake_tradovate, account, strategy, kind)
        fake_tradovate.set_price(desk.symbol, "5000")
        prices.update(desk.symbol, Decimal("5000"), datetime.now(UTC), "tradovate")
        return desk

    return make


def failed_orders(answer: dict) -> list[dict]:
    return [o for o in answer["orders"] if o["status"] == "failed"]


# --- the kinds -------------------------------------------------------------------------------


def timeouts(desk: Desk) -> str:
    """An order that timed out before arriving is sent again once; one whose answer came too
    late is found by its clOrdId; a position read that times out every try fails its alert."""
    desk.alert("buy")
    desk.fake.fail_next("order/placeorder", timeout=True)
    assert desk.alert("sell")["status"] == "executed"
    desk.fake.fail_next("order/placeorder", drop=True)
    assert desk.alert("buy")["status"] == "executed"
    desk.fake.fail_next("position/list", timeout=True, times=3)
    answer = desk.alert("sell")
    assert answer["status"] == "failed"
    [order] = failed_orders(answer)
    assert "could not read the position" in order["reason"] and "in time" in order["reason"]
    assert desk.alert("sell")["status"] == "executed"
    return f"{desk.recover()} poll"


def resets(desk: Desk) -> str:
    """A connection reset after the order arrived: found by its clOrdId, never resent; reads
    reset every try fail the alert and the poll, and the next ones go through."""
    desk.alert("buy")
    desk.fake.fail_next("order/placeorder", reset=True)
    assert desk.alert("sell")["status"] == "executed"
    assert len(desk.fake.calls("order/placeorder")) == 2  # the reset one was not sent again
    desk.fake.fail_next("order/placeoso", reset=True)
    answer = desk.alert("buy", take_profit={"ticks": 8}, stop_loss={"ticks": 8})
    assert answer["status"] == "executed" and len(answer["orders"]) == 3
    assert len(desk.fake.calls("order/placeoso")) == 1
    desk.fake.fail_next("position/list", reset=True, times=3)
    answer = desk.alert("sell")
    assert answer["status"] == "failed"
    assert "ConnectionError" in failed_orders(answer)[0]["reason"]
    desk.fake.fail_next("cashbalance/getcashbalancesnapshot", reset=True, times=3)
    [why] = desk.poll().values()
    assert "ConnectionError" in why
    return f"{desk.recover()} poll"


def server_errors(desk: Desk) -> str:
    """5xx on an order is looked for before any resend; an order refused every try fails
    with "nothing was placed"; an account the poller cannot read for BROKER_DOWN_AFTER is
    told once, and its return too."""
    desk.alert("buy")
    desk.fake.fail_next("order/placeorder", status=502)
    assert desk.alert("sell")["status"] == "executed"
    desk.fake.fail_next("order/placeorder", status=500, times=3)
    answer = desk.alert("buy")
    assert answer["status"] == "failed"
    assert "nothing was placed" in failed_orders(answer)[0]["reason"]
    desk.fake.fail_next("cashbalance/getcashbalancesnapshot", status=503, times=1000)
    down = BROKER_DOWN_AFTER.total_seconds()
    assert "HTTP 503" in desk.poll()[desk.account["id"]]
    assert desk.poll(after=down - 1) and desk.notifications("broker_disconnected") == []
    assert desk.poll(after=1)
    assert len(desk.notifications("broker_disconnected")) == 1
    assert desk.alert("buy")["status"] == "executed"  # orders go through meanwhile
    assert desk.poll(after=10) and len(desk.notifications("broker_disconnected")) == 1
    desk.fake.clear_faults()
    polls = desk.recover()
    assert len(desk.notifications("broker_reconnected")) == 1
    # A trailing stop whose modification meets 5xx on every try: the broker's stop catches
    # up at the next tick once Tradovate answers, even without a new high.
    item = trailing(desk)
    desk.fake.fail_next("order/modifyorder", status=500, times=3)
    assert "HTTP 500" in desk.tick("5002")
    assert stop_price(desk, item) == Decimal("4998")
    assert any("could not modify stop_loss order" in m for m in desk.logged("order"))
    assert desk.tick("5002") is None
    assert stop_price(desk, item) == Decimal("5000")
    return f"{polls} poll, 1 tick"


def lockout(status: int, wait: int):
    def scenario(desk: Desk) -> str:
        """A 423/429 fails the order it met and locks every Tradovate call out for its
        wait: no alert, poll or retry reaches Tradovate meanwhile; the trader is told the
        account is not synced; after the wait everything works again unasked."""
        desk.alert("buy")
        desk.fake.fail_next("order/placeorder", status=status)
        answer = desk.alert("sell")
        assert answer["status"] == "failed"
        assert f"HTTP {status}" in failed_orders(answer)[0]["reason"]
        unchecked = [m for m in desk.logged("order") if "could not be read after" in m]
        assert len(unchecked) == 1  # the exits' check after the order, said, not a crash
        calls = len(desk.fake.calls())
        answer = desk.alert("sell")
        assert answer["status"] == "failed"
        assert "was not sent" in failed_orders(answer)[0]["reason"]
        for _ in range(4):
            assert "rate limited" in desk.poll(after=10)[desk.account["id"]]
        assert len(desk.fake.calls()) == calls  # no retry storm: nothing was sent
        assert len(desk.notifications("broker_disconnected")) == 1
        desk.advance(wait)
        polls = desk.recover()
        assert len(desk.notifications("broker_reconnected")) == 1
        return f"{polls} poll after {wait} s"

    return scenario


def penalties(desk: Desk) -> str:
    """A penalty ticket is waited out and the same order resent with it (once at the
    exchange); a read's penalty likewise; one too long to wait fails its order."""
    desk.alert("buy")
    desk.fake.penalize_next("order/placeorder", 2)
    assert desk.alert("sell")["status"] == "executed"
    first, second = desk.fake.bodies("order/placeorder")[-2:]
    assert second["p-ticket"] and second["clOrdId"] == first["clOrdId"]
    desk.fake.penalize_next("position/list", 1)
    assert desk.alert("buy")["status"] == "executed"
    desk.fake.penalize_next("order/placeorder", 600)
    answer = desk.alert("sell")
    assert answer["status"] == "failed"
    assert "wait 600 s" in failed_orders(answer)[0]["reason"]
    assert {2, 1} <= set(desk.fake.client_sleeps) and 600 not in desk.fake.client_sleeps
    desk.fake.penalize_next("order/placeorder", 2)  # the resent ticket is taken this time
    assert desk.alert("sell")["status"] == "executed"
    return f"{desk.recover()} poll"


def token_expiry(desk: Desk) -> str:
    """Mid-burst the token expires at Tradovate (401: one new login, the call sent again
    — it had not been done), later it is renewed on time (the client's clock 70 minutes
    on), then it expires at Tradovate again: every alert executes, each order once."""
    for number in range(9):
        if number in (3, 7):
            desk.fake.expire_tokens()
        if number == 5:
            desk.advance(70 * 60)
        assert desk.alert("buy" if number % 2 == 0 else "sell")["status"] == "executed"
    assert (desk.fake.logins, desk.fake.renewals) == (3, 1)
    refused = [c for c in desk.fake.calls() if not c.authorized and "auth/" not in c.path]
    assert len(refused) == 2  # the first call after each expiry, and only that one
    return f"{desk.recover()} poll"


def trailing(desk: Desk) -> dict:
    """A long position with a trailing stop of 8 ticks, its stop moved once by a quote."""
    answer = desk.alert("buy", trailing_stop={"ticks": 8})
    assert [o["role"] for o in answer["orders"]] == ["entry", "stop_loss"]
    [item] = desk.api.get("/api/orders/advanced").get_json()["items"]
    return item


def stop_price(desk: Desk, item: dict) -> Decimal:
    return desk.fake.order_for(item["orders"]["stop"]["client_order_id"])["stopPrice"]


def quote(desk: Desk, feed: FakeMarketDataServer, price: str) -> bool:
    """A print at the exchange, sent on the md socket; whether it reached the price cache
    (then a monitor tick ran)."""
    desk.fake.set_price(desk.symbol, price)
    feed.push_quote(desk.fake.contracts[desk.symbol]["id"], trade=price)
    heard = wait_for(lambda: prices.last(desk.symbol).price == Decimal(price), timeout=0.5)
    assert desk.tick() is None
    return heard


def md_fault(cut):
    def scenario(desk: Desk, feed: FakeMarketDataServer) -> str:
        """Market data stops mid-trail: prints meanwhile move nothing and alerts still
        trade; the client reconnects and resubscribes unasked and the next print moves
        the stop at the broker (modified, never placed again)."""
        item = trailing(desk)
        assert wait_for(lambda: feed.subscribed(desk.fake.contracts[desk.symbol]["id"]))
        assert quote(desk, feed, "5002") and stop_price(desk, item) == Decimal("5000")
        connections = len(feed.connections)
        started = time.monotonic()
        cut(feed)
        assert not quote(desk, feed, "5003")  # heard by nobody: the stop stays
        assert stop_price(desk, item) == Decimal("5000")
        assert desk.alert("buy")["status"] == "executed"  # orders do not need quotes
        if cut is FakeMarketDataServer.mute:
            assert wait_for(lambda: market_data.status()["connected"] is False, timeout=5)
            assert "sent nothing" in market_data.status()["last_disconnect"]
            feed.unmute()
        contract = desk.fake.contracts[desk.symbol]["id"]
        renewed = lambda: [c for c in feed.live() if c.number > connections]  # noqa: E731
        assert wait_for(lambda: any(contract in c.subscriptions for c in renewed()), timeout=5)
        assert quote(desk, feed, "5006")
        seconds = time.monotonic() - started
        assert stop_price(desk, item) == Decimal("5004")
        assert len(desk.fake.calls("order/placeorder")) == 3  # entry, stop, the alert's
        assert [m["stopPrice"] for m in desk.fake.bodies("order/modifyorder")] == [5000, 5004]
        desk.recover()
        return f"{seconds:.1f} s"

    return scenario


def user_sync_drop(desk: Desk, socket) -> str:
    """The user-data socket drops while a resting order fills: the poller reads the
    account over REST since the socket cannot vouch, books the fill, and once the socket
    is back it spares the reads again."""
    desk.app.config["TRADOVATE_USER_SYNC"] = True
    assert desk.poll() == {}
    assert wait_for(lambda: _quiet_poll(desk), timeout=5)  # synced: nothing changed, no read
    answer = desk.alert("buy", order_type="limit", price="4990")
    assert [o["status"] for o in answer["orders"]] == ["working"]
    assert desk.poll() == {}
    socket.drop()
    desk.fake.set_price(desk.symbol, "4990")  # it fills while nobody listens
    started, polls = time.monotonic(), 0
    while desk.position() != 1:  # a poll as soon as the client knows the socket is gone
        assert time.monotonic() - started < 5, "the fill was never booked"
        polls += 1
        assert desk.poll() == {}
        time.sleep(0.05)
    [order] = [o for o in desk.orders() if o["id"] == answer["orders"][0]["id"]]
    assert order["status"] == "filled"
    assert wait_for(lambda: _quiet_poll(desk), timeout=5)
    assert len(socket.syncs()) >= 2  # reconnected and synced again by itself
    desk.recover()
    return f"{polls} poll, {time.monotonic() - started:.1f} s"


def _quiet_poll(desk: Desk) -> bool:
    before = len(desk.fake.calls())
    assert desk.poll() == {}
    return len(desk.fake.calls()) == before


KINDS = {
    "timeout": timeouts,
    "reset": resets,
    "http_5xx": server_errors,
    "http_429": lockout(429, 3600),
    "http_423": lockout(423, 60),
    "penalty_ticket": penalties,
    "token_expiry": token_expiry,
    "md_drop": md_fault(FakeMarketDataServer.drop),
    "md_silent": md_fault(FakeMarketDataServer.mute),
    "user_sync_drop": user_sync_drop,
}


@pytest.fixture
def feed(app, fake_tradovate, monkeypatch):
    """Tradovate market data on: the fake md socket (heartbeats every 0.1 s), and the
    client's waits scaled to it (silence after 0.8 s, reconnect within 0.2 s)."""
    server = FakeMarketDataServer(token=MD_TOKEN, heartbeat_interval=0.1).start()
    fake_tradovate.md_token = MD_TOKEN
    app.config["TRADOVATE_MD_URL"] = server.url
    monkeypatch.setattr(tradovate_broker, "_market_data", lambda: market_data)
    monkeypatch.setattr(
        market_data,
        "MarketDataClient",
        functools.partial(
            market_data.MarketDataClient,
            heartbeat_interval=0.1,
            backoff_initial=0.05,
            backoff_max=0.2,
            request_timeout=0.5,
            silence_timeout=0.8,
        ),
    )
    yield server
    market_data.shutdown()
    server.stop()


@pytest.fixture
def user_socket(app, fake_tradovate, monkeypatch):
    """The fake's user-data socket with heartbeats every 0.1 s, the client scaled to it."""
    monkeypatch.setattr(
        user_sync,
        "UserSyncClient",
        functools.partial(
            user_sync.UserSyncClient,
            heartbeat_interval=0.1,
            backoff_initial=0.05,
            backoff_max=0.2,
            request_timeout=1.0,
            silence_timeout=0.8,
        ),
    )
    fake_tradovate.user_socket.heartbeat_interval = 0.1
    app.config["TRADOVATE_SYNC_STALE_SECONDS"] = 0.5
    yield fake_tradovate.user_socket
    user_sync.shutdown()


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_never_duplicates_never_loses_and_heals_by_itself(kind, make_desk, request):
    desk = make_desk(kind)
    scenario = KINDS[kind]
    if kind.startswith("md_"):
        recovered = scenario(desk, request.getfixturevalue("feed"))
    elif kind == "user_sync_drop":
        recovered = scenario(desk, request.getfixturevalue("user_socket"))
    else:
        recovered = scenario(desk)
    row = desk.tally(recovered)
    assert (row.duplicates, row.lost) == (0, 0), row
