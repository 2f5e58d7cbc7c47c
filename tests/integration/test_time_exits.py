"""Time exits: an entry left unfilled past the strategy's timeout is cancelled, a position
held past its exit_after_minutes is closed (paper here; Tradovate holds the deadline too)."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.market import prices
from app.services.protection import monitor
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front


def tick(app, at: datetime):
    with app.app_context():
        status = monitor.tick(at)
    assert status.errors == 0, status.last_error
    return status


@pytest.fixture
def timed(api, app, make_account, make_strategy):
    account = make_account("Paper", starting_balance="50000.00")
    strategy = make_strategy("Scalper", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")

    class Timed:
        def configure(self, **fields):
            answer = api.put(f"/api/strategies/{strategy['id']}", fields)
            assert answer.status_code == 200, answer.get_json()
            return answer.get_json()

        def send(self, payload):
            answer = api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200, answer.get_json()
            return answer.get_json()

        def orders(self):
            return api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]

        def working(self):
            return [o for o in self.orders() if o["status"] == "working"]

        def positions(self):
            return api.get(f"/api/positions?account_id={account['id']}").get_json()["items"]

    timed = Timed()
    timed.account, timed.strategy = account, strategy
    return timed


def test_an_unfilled_entry_is_cancelled_after_the_timeout_with_its_exits(app, timed):
    assert timed.configure(entry_timeout_seconds=30)["entry_timeout_seconds"] == 30
    sent = datetime.now(UTC)
    timed.send({"action": "buy", "order_type": "limit", "price": 5990, "stop_loss": {"ticks": 8}})
    assert [(o["role"], o["status"]) for o in timed.orders()] == [
        ("stop_loss", "pending"),
        ("entry", "working"),
    ]
    tick(app, sent + timedelta(seconds=25))
    [entry] = [o for o in timed.working() if o["role"] == "entry"]
    tick(app, sent + timedelta(seconds=31))
    assert [(o["role"], o["status"]) for o in timed.orders()] == [
        ("stop_loss", "cancelled"),
        ("entry", "cancelled"),
    ]
    cancelled = next(o for o in timed.orders() if o["id"] == entry["id"])
    assert "entry timeout" in cancelled["reason"]


def test_a_filled_entry_is_left_alone_by_its_timeout(app, timed):
    timed.configure(entry_timeout_seconds=5)
    sent = datetime.now(UTC)
    timed.send({"action": "buy", "stop_loss": {"ticks": 8}})  # a market entry fills at once
    tick(app, sent + timedelta(seconds=10))
    assert [p["qty"] for p in timed.positions()] == [1]
    assert [o["role"] for o in timed.working()] == ["stop_loss"]


def test_a_position_is_closed_after_the_strategys_minutes(api, app, timed):
    timed.configure(exit_after_minutes=30)
    opened = datetime.now(UTC)
    timed.send({"action": "buy", "quantity": 2, "stop_loss": {"ticks": 8}})
    tick(app, opened + timedelta(minutes=29))
    assert [p["qty"] for p in timed.positions()] == [2]
    tick(app, opened + timedelta(minutes=31))
    assert timed.positions() == []
    assert timed.working() == []  # its stop withdrawn with it
    [trade] = api.get(f"/api/trades?account_id={timed.account['id']}").get_json()["items"]
    assert (trade["exit_reason"], trade["qty"]) == ("time_exit", 2)
    tick(app, opened + timedelta(minutes=32))  # nothing left to close, nothing sent
    assert len([o for o in timed.orders() if o["role"] == "exit"]) == 1


def test_time_exit_settings_are_checked(api, timed):
    for fields in ({"entry_timeout_seconds": 0}, {"exit_after_minutes": "soon"}):
        answer = api.put(f"/api/strategies/{timed.strategy['id']}", fields)
        assert answer.status_code == 400, fields
        assert answer.get_json()["error"]["code"] == "validation_error"
    cleared = timed.configure(entry_timeout_seconds=None, exit_after_minutes=None)
    assert (cleared["entry_timeout_seconds"], cleared["exit_after_minutes"]) == (None, None)


def test_tradovate_holds_the_entry_deadline_as_a_good_till_time(
    api, app, make_account, make_strategy, fake_tradovate
):
    account = make_account(
        "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
    )
    strategy = make_strategy("Dipper", symbol="MES1!", quantity=1, entry_timeout_seconds=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    fake_tradovate.set_price(front(), "6000")
    sent = datetime.now(UTC)
    answer = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"action": "buy", "order_type": "limit", "price": 5990}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.get_json()
    [body] = fake_tradovate.bodies("order/placeorder")
    assert body["timeInForce"] == "GTD"
    expires = datetime.fromisoformat(body["expireTime"].replace("Z", "+00:00"))
    assert timedelta(seconds=0.5) < expires - sent < timedelta(seconds=2)
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.05)
    with app.app_context():  # the exchange expired it: the poller hears so, nothing to cancel
        assert poll_accounts(app, datetime.now(UTC)) == {}
    [order] = api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]
    assert order["status"] == "cancelled"
    tick(app, datetime.now(UTC))
    assert fake_tradovate.calls("order/cancelorder") == []
