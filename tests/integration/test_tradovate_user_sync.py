"""Tradovate account data streamed over the user-data socket (`user/syncrequest`, `props`)
instead of polled: the position poller reads over REST only when the socket says the
account changed, and falls back to reading every tick when the socket cannot vouch.

Against the fake Tradovate on 127.0.0.1: its REST API and, beside it at /v1/websocket, its
user-data socket (real o/h/a[...] frames) that pushes what the REST calls and the fake
exchange change."""

import functools
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.brokers.tradovate import user_sync
from app.extensions import db
from app.models import Fill, Order, Position
from app.services.market import prices
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front

INTERVAL = 0.3  # the poll interval these tests stand for, in real seconds
TICK = timedelta(seconds=5)  # ... and on the poller's clock (the production default)
TICKS_PER_MINUTE = 12


def until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


@pytest.fixture
def desk(app, api, make_account, make_strategy, fake_tradovate, monkeypatch):
    app_ = app
    monkeypatch.setattr(
        user_sync,
        "UserSyncClient",
        functools.partial(
            user_sync.UserSyncClient,
            heartbeat_interval=0.1,
            backoff_initial=0.05,
            backoff_max=0.2,
            request_timeout=2.0,
            silence_timeout=1.5,
        ),
    )
    fake_tradovate.user_socket.heartbeat_interval = 0.1
    app.config["TRADOVATE_SYNC_STALE_SECONDS"] = 0.5

    class Desk:
        fake = fake_tradovate
        socket = fake_tradovate.user_socket
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
        symbol = front()
        clock = datetime.now(UTC)
        app = app_

        def streamed(self, on: bool = True) -> None:
            app.config["TRADOVATE_USER_SYNC"] = on

        def tick(self) -> int:
            """One poll on the poller's clock; how many REST calls it made."""
            before = len(self.fake.calls())
            self.clock += TICK
            with app.app_context():
                try:
                    assert poll_accounts(app, self.clock) == {}
                finally:
                    db.session.remove()
            return len(self.fake.calls()) - before

        def ticks(self, count: int) -> list[int]:
            calls = []
            for _ in range(count):
                calls.append(self.tick())
                time.sleep(0.02)
            return calls

        def client(self) -> user_sync.UserSyncClient:
            [client] = user_sync.clients()
            return client

        def settle(self) -> None:
            """Start the socket and tick until the poller trusts it (a tick with no read)."""
            self.tick()
            assert until(lambda: self.client().status()["fresh"]), self.client().status()
            assert until(lambda: self.tick() == 0, timeout=3)

        def send(self, payload: dict) -> dict:
            response = api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def rows(self):
            with app.app_context():
                orders = {o.role: o.status for o in db.session.scalars(select(Order))}
                fills = len(db.session.scalars(select(Fill)).all())
                position = db.session.scalar(select(Position))
                return orders, fills, position.quantity if position else 0

    desk = Desk()
    desk.fake.set_price(desk.symbol, "5000")
    prices.update(desk.symbol, Decimal("5000"), datetime.now(UTC), "tradovate")
    yield desk
    user_sync.shutdown()


def long_with_a_stop(desk) -> None:
    answer = desk.send({"action": "buy", "quantity": 1, "stop_loss": {"ticks": 8}})
    assert [(o["role"], o["status"]) for o in answer["orders"]] == [
        ("entry", "filled"),
        ("stop_loss", "working"),
    ]


def test_the_socket_spares_the_poll_reads_and_a_fill_still_lands_within_one_interval(desk):
    long_with_a_stop(desk)
    desk.streamed(False)
    desk.tick()  # the fills' first read; then what an idle minute costs
    polled = desk.ticks(TICKS_PER_MINUTE)
    assert all(calls > 0 for calls in polled), polled

    desk.streamed(True)
    desk.settle()
    streamed = desk.ticks(TICKS_PER_MINUTE)
    print(f"\nREST calls per idle minute: polled {sum(polled)}, streamed {sum(streamed)}")
    assert sum(streamed) == 0

    desk.fake.set_price(desk.symbol, "4998")  # the exchange fills the stop
    time.sleep(INTERVAL)
    active = desk.tick()
    assert active > 0  # the pushed change started the reconcile
    orders, fills, held = desk.rows()
    assert orders == {"entry": "filled", "stop_loss": "filled"}
    assert (fills, held) == (2, 0)
    assert desk.ticks(3) == [0, 0, 0]


def test_the_socket_authorizes_with_the_rest_token_and_syncs_the_login(desk):
    desk.streamed(True)
    desk.settle()

    [authorize] = desk.socket.sent(1, endpoint="authorize")
    assert authorize.request[3] in desk.fake.tokens  # the REST session's own token
    [sync] = desk.socket.syncs()
    body = json.loads(sync.request[3])
    assert body["users"] == [desk.fake.users[TRADOVATE_CREDENTIALS["username"]].user_id]
    assert set(body["entityTypes"]) == {"order", "fill", "position", "cashBalance"}
    assert desk.fake.logins == 1  # the socket opened no session of its own
    assert until(lambda: len(desk.socket.sent(1, endpoint="[]")) >= 2)  # client heartbeats


def test_a_silent_socket_falls_back_to_polling_and_a_fill_lands_meanwhile(desk):
    long_with_a_stop(desk)
    desk.streamed(True)
    desk.settle()

    desk.socket.mute()  # no heartbeat, no event: the socket can no longer vouch
    assert until(lambda: not desk.client().status()["fresh"])
    assert all(calls > 0 for calls in desk.ticks(3))
    desk.fake.set_price(desk.symbol, "4998")  # its event is held back with the rest
    assert desk.tick() > 0
    assert desk.rows() == ({"entry": "filled", "stop_loss": "filled"}, 2, 0)

    desk.socket.unmute()
    assert until(lambda: desk.client().status()["fresh"])
    assert until(lambda: desk.tick() == 0, timeout=3)


def test_a_dropped_socket_reconnects_reauthorizes_and_syncs_again(desk):
    desk.streamed(True)
    desk.settle()
    syncs = desk.client().status()["syncs"]

    desk.socket.drop()
    assert until(lambda: desk.client().status()["syncs"] == syncs + 1)
    assert [r.endpoint for r in desk.socket.sent(2) if r.request] == [
        "authorize",
        "user/syncrequest",
    ]
    # Changes may have been missed while it was down: the new sync is read once.
    assert desk.tick() > 0
    assert until(lambda: desk.tick() == 0, timeout=3)
    long_with_a_stop(desk)  # a trade after the reconnect still moves the mark
    time.sleep(INTERVAL)
    assert desk.tick() > 0
    assert desk.rows()[1] == 1


def test_a_renewed_token_is_the_one_the_socket_authorizes_with_after_a_drop(desk):
    desk.streamed(True)
    desk.settle()
    [first] = desk.socket.sent(1, endpoint="authorize")
    old = first.request[3]

    desk.fake.client_clock.advance(timedelta(minutes=70))  # past the renewal point
    desk.socket.drop()
    assert until(lambda: desk.client().status()["syncs"] == 2)
    [second] = desk.socket.sent(2, endpoint="authorize")
    assert desk.fake.renewals == 1 and desk.fake.logins == 1
    assert second.request[3] != old and second.request[3] in desk.fake.tokens


def test_a_token_refused_on_authorize_logs_in_again(desk):
    desk.streamed(True)
    desk.settle()

    [first] = desk.socket.sent(1, endpoint="authorize")
    desk.fake.revoke_tokens()  # e.g. a third session closed ours
    desk.socket.drop()
    assert until(lambda: desk.client().status()["syncs"] == 2)
    tokens = [r.request[3] for r in desk.socket.sent(endpoint="authorize")]
    assert tokens[1] == first.request[3]  # refused with 401 ...
    assert tokens[-1] != first.request[3] and tokens[-1] in desk.fake.tokens  # ... so a login
    assert desk.fake.logins == 2 and desk.client().status()["connected"] is True


@pytest.mark.parametrize(
    ("api_url", "socket_url"),
    [
        ("https://demo.tradovateapi.com/v1", "wss://demo.tradovateapi.com/v1/websocket"),
        ("https://live.tradovateapi.com/v1/", "wss://live.tradovateapi.com/v1/websocket"),
        ("http://127.0.0.1:5123/v1", "ws://127.0.0.1:5123/v1/websocket"),
    ],
)
def test_the_user_socket_lives_beside_the_rest_base(api_url, socket_url):
    assert user_sync.user_url(api_url) == socket_url


def test_fills_whose_fees_are_not_posted_are_read_every_tick_until_they_are(desk):
    desk.fake.fees = {"commission": Decimal("0.59")}
    desk.fake.hold_fees = True  # no event will say when Tradovate posts them
    desk.streamed(True)
    desk.settle()

    long_with_a_stop(desk)
    time.sleep(INTERVAL)
    assert all(calls > 0 for calls in desk.ticks(3))
    desk.fake.post_fees()
    assert desk.tick() > 0
    with desk.app.app_context():
        [fill] = db.session.scalars(select(Fill)).all()
        assert fill.commission == Decimal("0.59")
    assert desk.ticks(2) == [0, 0]


def test_a_streamed_account_is_still_read_in_full_now_and_then(desk):
    desk.app.config["STREAMED_FULL_POLL_SECONDS"] = 3 * TICK.total_seconds()
    desk.streamed(True)
    desk.settle()

    reads = [calls > 0 for calls in desk.ticks(6)]
    assert reads == [False, True, False, False, True, False]  # settled one tick after a read
