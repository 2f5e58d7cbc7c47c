"""The trace of a trade and of an alert: the alert as stored, each trader's risk decision,
the orders with our and the broker's ids, their fills, the stage timings and the slippage
from the alert's price — on the paper venue and the fake Tradovate alike."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.market import prices
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front

STAGES = ["received", "stored", "risk", "broker_accepted", "filled"]


class Desk:
    """One account and a strategy routed to it; prices reach both venues alike."""

    def __init__(self, app, api, account, strategy, fake=None) -> None:
        self.app, self.api, self.account, self.strategy, self.fake = (
            app,
            api,
            account,
            strategy,
            fake,
        )
        self.symbol = front()
        assert (
            api.post(
                "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
            ).status_code
            == 201
        )

    def price(self, value: str) -> None:
        if self.fake is not None:
            self.fake.set_price(self.symbol, value)
        prices.update(self.symbol, Decimal(value), datetime.now(UTC), "test")
        self.poll()

    def poll(self) -> None:
        if self.fake is not None:
            with self.app.app_context():
                assert poll_accounts(self.app, datetime.now(UTC)) == {}

    def alert(self, payload: dict) -> int:
        response = self.api.client.post(
            f"/webhook/{self.strategy['webhook_token']}",
            data=json.dumps({"symbol": "MES1!", **payload}),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()
        self.poll()
        return response.get_json()["event_id"]

    def trades(self) -> list[dict]:
        answer = self.api.get(f"/api/trades?account_id={self.account['id']}").get_json()
        return sorted(answer["items"], key=lambda item: item["id"])


@pytest.fixture
def paper_desk(app, api, make_account, make_strategy):
    app.config["PAPER_SLIPPAGE_TICKS"] = 1  # every market fill one tick against the trader
    app.config["PAPER_MAX_FILL_PER_PRINT"] = "1"
    return Desk(app, api, make_account("Paper"), make_strategy("Trend"))


@pytest.fixture
def tradovate_desk(app, api, make_account, make_strategy, fake_tradovate):
    fake_tradovate.max_fill_per_print = 1
    account = make_account("Tradovate", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    desk = Desk(app, api, account, make_strategy("Trend at Tradovate"), fake_tradovate)
    fake_tradovate.set_price(desk.symbol, "6000.25")  # where its market order will fill
    return desk


@pytest.fixture(params=["paper", "tradovate"])
def desk(request):
    return request.getfixturevalue(f"{request.param}_desk")


def _ms(stages: list[dict]) -> list[float]:
    return [stage["ms"] for stage in stages]


def test_a_bracketed_alert_trade_traces_its_alert_orders_fills_stages_and_slippage(desk):
    event_id = desk.alert(
        {
            "action": "buy",
            "quantity": 2,
            "price": "6000",
            "take_profit": {"ticks": 8},
            "stop_loss": {"ticks": 8},
        }
    )
    desk.price("6002.5")  # the take profit fills one of its two contracts
    desk.price("5999")
    desk.price("5998")  # the stop, cut to the one left, closes the trade
    (trade,) = desk.trades()

    trace = desk.api.get(f"/api/trades/{trade['id']}").get_json()

    assert trace["id"] == trade["id"] and trace["pnl"] == trade["pnl"]
    alert = trace["alert"]
    assert alert["id"] == event_id and [a["id"] for a in trace["alerts"]] == [event_id]
    assert '"price": "6000"' in alert["raw_body"]
    assert alert["signal"]["price"] == "6000" and alert["signal"]["charted"] is None
    (decision,) = alert["decisions"]
    assert decision["account_id"] == desk.account["id"]
    assert decision["decision"] == "passed" and decision["code"] is None
    assert [s["stage"] for s in decision["stages"]] == STAGES
    assert trace["stages"] == decision["stages"]
    assert _ms(trace["stages"]) == sorted(_ms(trace["stages"]))
    assert trace["alert_to_fill_ms"] == trace["stages"][-1]["ms"]

    orders = {o["role"]: o for o in trace["orders"]}
    assert set(orders) == {"entry", "take_profit", "stop_loss"}
    for order in orders.values():
        assert order["client_order_id"].startswith("dp-")
        assert order["broker_order_id"]
        assert order["webhook_event_id"] == event_id
    assert orders["take_profit"]["status"] == "cancelled"  # 1 of 2 filled, the rest OCO'd
    assert orders["stop_loss"]["status"] == "filled"

    fills = trace["fills"]
    assert [(f["part"], f["order_id"], f["qty"]) for f in fills] == [
        ("entry", orders["entry"]["id"], 2),
        ("exit", orders["take_profit"]["id"], 1),
        ("exit", orders["stop_loss"]["id"], 1),
    ]
    assert [o["fill_ids"] for o in orders.values()] == [[f["id"]] for f in fills]
    entry = fills[0]
    assert entry["price"] == "6000.25" and entry["alert_price"] == "6000"
    assert entry["slippage_ticks"] == "1" and entry["slippage"] == "2.50"  # 1 tick × 2 MES
    assert entry["broker_fill_id"]
    assert all(f["slippage"] is None and f["alert_price"] is None for f in fills[1:])
    assert trace["slippage_ticks"] == "1" and trace["slippage"] == "2.50"
    assert [e["exit_reason"] for e in trace["exits"]] == ["take_profit", "stop_loss"]

    led = desk.api.get(f"/api/webhook-events/{event_id}/trace").get_json()
    assert [t["id"] for t in led["trades"]] == [trade["id"]]
    assert [o["id"] for o in led["orders"]] == [o["id"] for o in trace["orders"]]
    assert [f["id"] for f in led["fills"]] == [f["id"] for f in fills]
    assert led["slippage"] == "2.50" and led["alert"]["decisions"] == alert["decisions"]
    assert "part" not in led["fills"][0]


def test_a_scaled_in_trade_shows_every_alert_and_only_its_own_fills(paper_desk):
    desk = paper_desk
    first = desk.alert({"action": "buy", "quantity": 1, "price": "6000"})
    second = desk.alert({"action": "buy", "quantity": 1, "price": "6001"})
    closing = desk.alert({"action": "exit", "price": "6002"})
    desk.alert({"action": "buy", "quantity": 1, "price": "6003"})  # the next round trip
    desk.alert({"action": "exit", "price": "6004"})
    one, two = desk.trades()

    trace = desk.api.get(f"/api/trades/{one['id']}").get_json()

    assert trace["alert"]["id"] == first
    assert [a["id"] for a in trace["alerts"]] == [first, second, closing]
    assert [(f["part"], f["side"], f["qty"], f["price"]) for f in trace["fills"]] == [
        ("entry", "buy", 1, "6000.25"),
        ("entry", "buy", 1, "6001.25"),
        ("exit", "sell", 2, "6001.75"),
    ]
    assert [f["slippage_ticks"] for f in trace["fills"]] == ["1", "1", "1"]
    assert [f["slippage"] for f in trace["fills"]] == ["1.25", "1.25", "2.50"]
    assert trace["slippage_ticks"] == "1" and trace["slippage"] == "5.00"
    assert [o["role"] for o in trace["orders"]] == ["entry", "entry", "exit"]
    assert trace["exit_reason"] == "signal"

    later = desk.api.get(f"/api/trades/{two['id']}").get_json()
    assert [f["price"] for f in later["fills"]] == ["6003.25", "6003.75"]
    assert [f["slippage"] for f in later["fills"]] == ["1.25", "1.25"]
    led = desk.api.get(f"/api/webhook-events/{second}/trace").get_json()
    assert [t["id"] for t in led["trades"]] == [one["id"]]


def test_an_alert_trace_gives_each_traders_risk_decision(paper_desk, api, make_account):
    desk = paper_desk
    halted = make_account("Halted")
    api.post("/api/traders", {"strategy_id": desk.strategy["id"], "account_id": halted["id"]})
    assert api.post(f"/api/accounts/{halted['id']}/halt", {"reason": "lunch"}).status_code == 200
    event_id = desk.alert({"action": "buy", "quantity": 1, "price": "6000"})

    led = api.get(f"/api/webhook-events/{event_id}/trace").get_json()

    decisions = {d["account_id"]: d for d in led["alert"]["decisions"]}
    assert decisions[desk.account["id"]]["decision"] == "passed"
    refused = decisions[halted["id"]]
    assert refused["decision"] == "refused" and refused["code"] == "halted"
    assert "lunch" in refused["reason"]
    assert [s["stage"] for s in refused["stages"]] == ["received", "stored", "risk"]
    assert led["trades"] == []  # the position is still open


def test_a_manual_trade_has_a_trace_without_an_alert(paper_desk, api):
    desk = paper_desk
    desk.price("6000")
    body = {
        "account_id": desk.account["id"],
        "symbol": "MES1!",
        "side": "buy",
        "qty": 1,
        "order_type": "market",
    }
    assert api.post("/api/orders", body).status_code == 201
    (position,) = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    assert api.post(f"/api/positions/{position['id']}/close").status_code == 200
    (trade,) = desk.trades()

    trace = api.get(f"/api/trades/{trade['id']}").get_json()

    assert trace["alert"] is None and trace["alerts"] == [] and trace["stages"] == []
    assert trace["slippage"] is None and trace["slippage_ticks"] is None
    assert trace["alert_to_fill_ms"] is None
    assert [f["part"] for f in trace["fills"]] == ["entry", "exit"]
    assert all(o["webhook_event_id"] is None and o["client_order_id"] for o in trace["orders"])
    assert [f["order_id"] for f in trace["fills"]] == [o["id"] for o in trace["orders"]]


def test_the_trades_page_links_each_trade_to_its_trace_page(paper_desk, auth, client):
    desk = paper_desk
    event_id = desk.alert({"action": "buy", "quantity": 1, "price": "6000"})
    desk.alert({"action": "exit", "price": "6001"})
    (trade,) = desk.trades()
    auth.login()

    listing = client.get("/trades").get_data(as_text=True)
    assert f'data-trade-id="{trade["id"]}"' in listing
    assert f'href="/trades/{trade["id"]}"' in listing
    page = client.get(f"/trades/{trade['id']}").get_data(as_text=True)
    trace = desk.api.get(f"/api/trades/{trade['id']}").get_json()
    for order in trace["orders"]:
        assert order["client_order_id"] in page and order["broker_order_id"] in page
    assert "1 tick · 1.25 USD" in page
    alert_page = client.get(f"/alerts/{event_id}").get_data(as_text=True)
    assert f'href="/trades/{trade["id"]}"' in alert_page
    assert f'href="/alerts/{event_id}"' in client.get("/alerts").get_data(as_text=True)


def test_unknown_ids_answer_404(api, auth, client):
    for path in ("/api/trades/999", "/api/webhook-events/999/trace"):
        response = api.get(path)
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    auth.login()
    assert client.get("/trades/999").status_code == 404
    assert client.get("/alerts/999").status_code == 404
