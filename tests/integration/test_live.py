"""Socket.IO for the owner (DESIGN §4 "Live P&L", §5.5): who may connect, the snapshot a
client hears first, the events of an alert that fills on paper and at the fake
Tradovate, and `pnl` held to once a second per account and to changes."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.vocabulary import AuditCategory
from app.extensions import db, socketio
from app.services.market import prices
from app.services.records import audit
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front

WAIT_SECONDS = 5


class Listener:
    """A Socket.IO test client of the app, and everything it heard so far."""

    def __init__(self, app, flask_client) -> None:
        self.client = socketio.test_client(app, flask_test_client=flask_client)
        self.heard: list[tuple[str, dict]] = []

    def take(self) -> list[tuple[str, dict]]:
        fresh = [(m["name"], m["args"][0]) for m in self.client.get_received()]
        self.heard.extend(fresh)
        return fresh

    def wait_for(self, name: str, match=lambda payload: True) -> dict:
        """The first `name` heard (from now on or before) that matches."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            self.take()
            for heard, payload in self.heard:
                if heard == name and match(payload):
                    return payload
            if time.monotonic() > deadline:
                raise AssertionError(f"no {name} heard; heard {[n for n, _ in self.heard]}")
            time.sleep(0.02)

    def names(self) -> list[str]:
        return [name for name, _ in self.heard]

    def pnl_of(self, account_id: int) -> list[dict]:
        return [p for n, p in self.heard if n == "pnl" and p["account_id"] == account_id]


@pytest.fixture
def listen(app, client, auth):
    """The owner logged in through the form, then connected over Socket.IO."""
    auth.login()
    opened: list[Listener] = []

    def connect() -> Listener:
        listener = Listener(app, client)
        opened.append(listener)
        return listener

    yield connect
    for listener in opened:
        if listener.client.is_connected():
            listener.client.disconnect()


def alert(api, strategy: dict, payload: dict) -> dict:
    response = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", **payload}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def tick(symbol: str, price: str) -> None:
    prices.update(symbol, Decimal(price), datetime.now(UTC), "test")


@pytest.fixture
def paper(api, make_account, make_strategy):
    account = make_account("Paper", starting_balance="10000")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    return account, strategy


def test_an_anonymous_client_is_refused(app, client):
    anonymous = socketio.test_client(app, flask_test_client=client)
    assert not anonymous.is_connected()


def test_a_client_without_the_session_cookie_is_refused(app, auth):
    auth.login()
    assert not socketio.test_client(app).is_connected()


def test_logging_out_ends_every_open_page_s_live_updates(app, listen, client, auth):
    other_page = listen()

    def note(message: str) -> None:
        with app.app_context():
            audit.record(AuditCategory.SYSTEM, message)
            db.session.commit()

    note("before the logout")
    other_page.wait_for("log", lambda entry: entry["message"] == "before the logout")
    client.post("/logout", data={"csrf_token": auth.csrf()})
    other_page.wait_for("session_ended")
    note("after the logout")
    time.sleep(0.5)  # the pusher's thread sends a log entry within milliseconds
    assert "after the logout" not in [p.get("message") for _, p in other_page.take()]


def test_the_owner_hears_the_snapshot_first(listen, paper, make_account):
    account, _ = paper
    make_account("Paper off", starting_balance="5000", enabled=False)
    listener = listen()
    assert listener.client.is_connected()
    first = listener.take()
    assert [name for name, _ in first] == ["status", "pnl"]
    status, pnl = first[0][1], first[1][1]
    assert status["kill_switch"] is False
    assert set(status) == {
        "scheduler",
        "broker_connections",
        "kill_switch",
        "last_monitor_tick",
        "market_data",
        "market_data_quiet",
        "notifications",
    }
    assert pnl == {
        "account_id": account["id"],
        "realized_today": "0",
        "unrealized": "0",
        "equity": "10000",
        "positions": [],
    }


def test_an_alert_that_fills_on_paper_is_heard_through_to_the_trade(listen, api, paper):
    account, strategy = paper
    mes = front("MES")
    tick(mes, "5000")
    listener = listen()
    listener.take()
    alert(api, strategy, {"action": "buy", "quantity": 2, "price": "5000"})

    signal = listener.wait_for("signal")
    assert (signal["strategy_id"], signal["status"]) == (strategy["id"], "executed")
    assert listener.wait_for("order", lambda o: o["status"] == "filled")["qty"] == 2
    assert listener.wait_for("fill")["price"] == "5000"
    assert listener.wait_for("position")["qty"] == 2
    log = listener.wait_for("log", lambda e: e["category"] == "order")
    assert set(log) == {
        "id",
        "time",
        "category",
        "severity",
        "message",
        "account_id",
        "strategy_id",
    }
    held = listener.wait_for("pnl", lambda p: p["positions"])
    assert held["account_id"] == account["id"]
    assert held["positions"] == [
        {"symbol": mes, "qty": 2, "avg_price": "5000", "last": "5000", "unrealized": "0"}
    ]

    tick(mes, "5001.25")  # MES: $5 a point, 2 contracts
    moved = listener.wait_for("pnl", lambda p: p["unrealized"] == "12.5")
    assert moved["positions"][0]["last"] == "5001.25"
    assert moved["equity"] == "10012.5"

    alert(api, strategy, {"action": "exit", "price": "5001.25"})
    trade = listener.wait_for("trade")
    assert (trade["account_id"], trade["qty"], trade["exit_price"]) == (account["id"], 2, "5001.25")
    flat = listener.wait_for("pnl", lambda p: p["realized_today"] != "0")
    assert flat["realized_today"] == trade["pnl"]
    assert (flat["positions"], flat["unrealized"]) == ([], "0")
    # The ledger's events reach the room in the order they were committed.
    names = listener.names()
    assert names.index("fill") < names.index("trade")


def test_an_alert_that_fills_at_tradovate_is_heard_alike(
    app, listen, api, make_account, make_strategy, fake_tradovate
):
    account = make_account("Tradovate", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    strategy = make_strategy("Trend at Tradovate", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    mes = front("MES")
    fake_tradovate.set_price(mes, "6000")
    tick(mes, "6000")
    listener = listen()
    listener.take()

    alert(api, strategy, {"action": "buy", "quantity": 1})
    with app.app_context():
        assert poll_accounts(app, datetime.now(UTC)) == {}

    assert listener.wait_for("signal")["status"] == "executed"
    assert listener.wait_for("order", lambda o: o["status"] == "filled")["role"] == "entry"
    assert listener.wait_for("fill")["price"] == "6000"
    assert listener.wait_for("position")["qty"] == 1
    held = listener.wait_for("pnl", lambda p: p["account_id"] == account["id"] and p["positions"])
    assert held["positions"][0]["avg_price"] == "6000"

    fake_tradovate.set_price(mes, "5999")
    tick(mes, "5999")
    alert(api, strategy, {"action": "exit"})
    with app.app_context():
        assert poll_accounts(app, datetime.now(UTC)) == {}
    trade = listener.wait_for("trade")
    assert (trade["exit_price"], trade["exit_reason"]) == ("5999", "signal")
    flat = listener.wait_for("pnl", lambda p: p["realized_today"] != "0")
    assert (flat["account_id"], flat["realized_today"]) == (account["id"], trade["pnl"])
    assert flat["positions"] == []


def test_pnl_is_sent_at_most_once_a_second_and_only_when_it_changed(listen, api, paper):
    account, strategy = paper
    mes = front("MES")
    tick(mes, "5000")
    listener = listen()
    alert(api, strategy, {"action": "buy", "quantity": 1, "price": "5000"})
    listener.wait_for("pnl", lambda p: p["positions"])
    told = len(listener.pnl_of(account["id"]))

    # Nothing moved: prints at the same price tell nothing.
    for _ in range(5):
        tick(mes, "5000")
    time.sleep(1.5)
    listener.take()
    assert listener.pnl_of(account["id"])[told:] == []

    # Ten prints within a moment: one `pnl` at once, the rest held to the next second,
    # which tells the last price only.
    for step in range(1, 11):
        tick(mes, str(Decimal("5000") + Decimal("0.25") * step))
    listener.wait_for("pnl", lambda p: p["positions"] and p["positions"][0]["last"] == "5002.5")
    time.sleep(1.2)
    listener.take()
    sent = listener.pnl_of(account["id"])[told:]
    assert 1 <= len(sent) <= 2
    assert sent[-1]["positions"][0]["last"] == "5002.5"
