"""Trailing stops and OCO pairs on a Tradovate account, against the fake over real sockets:
prices move at the fake exchange and in the price cache (as market data would), the
position poller mirrors the broker, the monitor drives the broker's orders."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app import create_app
from app.brokers.paper.broker import reset_venues
from app.brokers.tradovate import broker as tradovate_broker
from app.brokers.tradovate import market_data
from app.errors import AppError
from app.extensions import db
from app.models import AdvancedOrder, Order
from app.services.market import prices
from app.services.protection import monitor
from app.services.trading import manual
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front, make_config
from tests.fakes.tradovate_md import FakeMarketDataServer


@pytest.fixture
def desk(app, api, make_account, make_strategy, fake_tradovate):
    class Desk:
        fake = fake_tradovate
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
        symbol = front()
        current_app = app

        def move(self, *path, poll=False):
            """A print at the exchange and in the price cache, a poll if asked, a tick."""
            for price in path:
                self.fake.set_price(self.symbol, price)
                prices.update(self.symbol, Decimal(str(price)), datetime.now(UTC), "tradovate")
                if poll:
                    self.poll()
                with self.current_app.app_context():
                    status = monitor.tick(datetime.now(UTC))
                    assert status.errors == 0, status.last_error

        def poll(self):
            with self.current_app.app_context():
                assert poll_accounts(self.current_app, datetime.now(UTC)) == {}

        def send(self, payload):
            response = api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def one(self):
            [item] = api.get("/api/orders/advanced").get_json()["items"]
            return item

        def trades(self):
            return api.get(f"/api/trades?account_id={self.account['id']}").get_json()["items"]

    desk = Desk()
    desk.fake.set_price(desk.symbol, "5000")
    prices.update(desk.symbol, Decimal("5000"), datetime.now(UTC), "tradovate")
    return desk


def test_the_trailing_stop_at_tradovate_is_modified_never_placed_again(desk):
    answer = desk.send({"action": "buy", "quantity": 2, "trailing_stop": {"ticks": 8}})
    assert [(o["role"], o["status"]) for o in answer["orders"]] == [
        ("entry", "filled"),
        ("stop_loss", "working"),
    ]
    stop_id = desk.one()["orders"]["stop"]["client_order_id"]
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4998")
    assert len(desk.fake.calls("order/placeorder")) == 2  # the entry and the stop
    desk.move(5001, 5003, 5002.5, 5004)
    item = desk.one()
    assert (item["best_price"], item["stop_price"]) == ("5004", "5002")
    assert len(desk.fake.calls("order/placeorder")) == 2  # never re-created
    modifies = desk.fake.bodies("order/modifyorder")
    assert [m["stopPrice"] for m in modifies] == [4999, 5001, 5002]  # the dip sent nothing
    assert all(m["orderType"] == "Stop" and m["orderQty"] == 2 for m in modifies)
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("5002")
    assert desk.fake.placed[stop_id] == 1
    desk.move(5001.75)  # the exchange fills the stop; the row learns it at the next poll
    assert desk.one()["status"] == "active"
    assert len(desk.fake.calls("order/placeorder")) == 2  # the broker's stop works, no exit
    desk.move(5001.75, poll=True)
    item = desk.one()
    assert item["status"] == "done" and item["orders"]["stop"]["status"] == "filled"
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"], trade["qty"]) == (
        "trailing_stop",
        "5001.75",
        2,
    )


def test_a_short_trail_at_tradovate_from_the_api(desk, api):
    desk.send({"action": "sell", "quantity": 1})
    desk.poll()
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    response = api.post("/api/orders/trailing-stop", {"position_id": position["id"], "points": 3})
    assert response.status_code == 201, response.get_json()
    stop_id = response.get_json()["orders"]["stop"]["client_order_id"]
    assert desk.fake.order_for(stop_id)["action"] == "Buy"
    desk.move(4998, 4995.5, 4996)
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4998.5")
    assert [m["stopPrice"] for m in desk.fake.bodies("order/modifyorder")] == [5001, 4998.5]


def test_a_restart_mid_trail_at_tradovate_resumes_and_modifies_the_same_order(desk, tmp_path, app):
    desk.send({"action": "buy", "quantity": 1, "trailing_stop": {"ticks": 4}})
    desk.move(5003)
    before = desk.one()
    assert (before["best_price"], before["stop_price"]) == ("5003", "5002")
    with app.app_context():
        monitor.forget()
        reset_venues()
    tradovate_broker.DIRECTORY.clear()  # the new process knows no Tradovate order id yet
    prices.clear()
    restarted = create_app(make_config(tmp_path, TRADOVATE_API_URL=desk.fake.url))
    desk.current_app = restarted
    with restarted.app_context():
        row = db.session.get(AdvancedOrder, before["id"])
        assert (row.best_price, row.stop_price) == (Decimal("5003"), Decimal("5002"))
    desk.move(5004.5)
    with restarted.app_context():
        row = db.session.get(AdvancedOrder, before["id"])
        stop = db.session.get(Order, row.stop_order_id)
        assert (row.best_price, row.stop_price, stop.stop_price) == (
            Decimal("5004.5"),
            Decimal("5003.5"),
            Decimal("5003.5"),
        )
    assert len(desk.fake.calls("order/placeorder")) == 2
    assert desk.fake.order_for(before["orders"]["stop"]["client_order_id"])["stopPrice"] == (
        Decimal("5003.5")
    )


def oco(desk, api, **fields) -> dict:
    """An OCO pair at 5010 / 4990 on the account's position; returns the advanced order."""
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    body = {"position_id": position["id"], "take_profit_price": "5010", "stop_loss_price": "4990"}
    response = api.post("/api/orders/oco", {**body, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_oco_pair_at_tradovate_is_native_and_the_monitor_closes_it(desk, api):
    desk.send({"action": "buy", "quantity": 2})
    desk.poll()
    pair = oco(desk, api, qty=1)
    [body] = desk.fake.bodies("order/placeoco")
    assert (body["orderType"], body["price"], body["orderQty"]) == ("Limit", 5010, 1)
    assert (body["other"]["orderType"], body["other"]["stopPrice"]) == ("Stop", 4990)
    assert body["clOrdId"] == pair["orders"]["take_profit"]["client_order_id"]
    desk.move(4989.75, poll=True)
    item = desk.one()
    assert item["status"] == "done" and item["orders"]["take_profit"]["status"] == "cancelled"
    assert desk.fake.order_for(pair["orders"]["take_profit"]["client_order_id"])["ordStatus"] == (
        "Canceled"
    )
    assert desk.fake.position(720001, desk.symbol)["netPos"] == 1
    cancel = api.delete(f"/api/orders/oco/{pair['id']}")
    assert cancel.status_code == 409


def test_cancelling_an_oco_at_tradovate_cancels_both_legs(desk, api):
    desk.send({"action": "buy", "quantity": 1})
    desk.poll()
    pair = oco(desk, api)
    response = api.delete(f"/api/orders/oco/{pair['id']}")
    assert response.status_code == 200
    for leg in ("take_profit", "stop"):
        client_id = pair["orders"][leg]["client_order_id"]
        assert desk.fake.order_for(client_id)["ordStatus"] == "Canceled"


def test_break_even_at_tradovate_modifies_the_stop_leg_in_place(desk, api):
    desk.send({"action": "buy", "quantity": 1})  # at 5000
    desk.poll()
    pair = oco(desk, api, break_even={"trigger": {"ticks": 8}, "offset": {"ticks": 1}})
    stop_id = pair["orders"]["stop"]["client_order_id"]
    desk.move(5002)
    [modify] = desk.fake.bodies("order/modifyorder")
    assert (modify["orderType"], modify["stopPrice"], modify["orderQty"]) == ("Stop", 5000.25, 1)
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("5000.25")
    assert len(desk.fake.calls("order/placeoco")) == 1  # moved, never placed again
    desk.move(5000.25, poll=True)
    item = desk.one()
    assert item["status"] == "done" and item["orders"]["take_profit"]["status"] == "cancelled"
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"]) == ("break_even", "5000.25")


def test_an_alerts_bracket_at_tradovate_moves_its_stop_to_break_even(desk):
    answer = desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "take_profit": {"ticks": 40},
            "stop_loss": {"ticks": 40},
            "break_even": {"trigger": {"ticks": 8}, "offset": {"ticks": 1}},
        }
    )
    stop = next(o for o in answer["orders"] if o["role"] == "stop_loss")
    assert desk.one()["break_even"] == {"trigger_price": "5002", "stop_price": "5000.25"}
    desk.poll()
    desk.move(5002)
    [modify] = desk.fake.bodies("order/modifyorder")
    assert (modify["orderType"], modify["stopPrice"]) == ("Stop", 5000.25)
    client_id = desk.one()["orders"]["stop"]["client_order_id"]
    assert desk.fake.order_for(client_id)["stopPrice"] == Decimal("5000.25")
    assert desk.one()["orders"]["stop"]["id"] == stop["id"]


# --- scale-out targets: each an OCO pair with its share of the stop -------------------------

TWO_TARGETS = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]


def exits_at_exchange(desk) -> list[tuple]:
    """What the exchange works: (type, side, qty, price) with stops priced by stopPrice."""
    return sorted(
        (
            o["orderType"],
            o["action"],
            o["orderQty"],
            format(o["stopPrice" if o["orderType"] == "Stop" else "price"].normalize(), "f"),
        )
        for o in desk.fake.working()
    )


def net(desk) -> int:
    position = desk.fake.position(720001, desk.symbol)
    return position["netPos"] if position else 0


def send_targets(desk, **extra) -> dict:
    return desk.send(
        {
            "action": "buy",
            "quantity": 2,
            "take_profit": TWO_TARGETS,
            "stop_loss": {"ticks": 16},
            **extra,
        }
    )


def test_two_targets_at_tradovate_are_two_one_lot_pairs_whose_stops_cover_two(desk):
    answer = send_targets(desk)
    assert answer["status"] == "executed"
    shape = [(o["role"], o["qty"], o["status"]) for o in answer["orders"]]
    assert shape == [
        ("entry", 2, "filled"),
        ("stop_loss", 2, "cancelled"),  # the bracket's stop, replaced by the pairs' stops
        ("take_profit", 1, "working"),
        ("stop_loss", 1, "working"),
        ("take_profit", 1, "working"),
        ("stop_loss", 1, "working"),
    ]
    assert exits_at_exchange(desk) == [
        ("Limit", "Sell", 1, "5002"),
        ("Limit", "Sell", 1, "5004"),
        ("Stop", "Sell", 1, "4996"),
        ("Stop", "Sell", 1, "4996"),
    ]
    assert len(desk.fake.calls("order/placeoco")) == 2  # linked at the exchange
    desk.move(5002, poll=True)  # the first target fills: the exchange cancels its stop
    assert net(desk) == 1
    assert exits_at_exchange(desk) == [("Limit", "Sell", 1, "5004"), ("Stop", "Sell", 1, "4996")]
    desk.move(5004, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []
    [trade] = desk.trades()
    assert (trade["qty"], trade["exit_price"], trade["pnl"]) == (2, "5003", "30.00")


def test_a_gap_through_both_targets_at_tradovate_closes_the_position_once(desk):
    send_targets(desk)
    desk.move(5006, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []
    sells = [f for f in desk.fake.fills if f["action"] == "Sell"]
    assert sum(f["qty"] for f in sells) == 2  # never more than the position


def test_the_stop_at_tradovate_closes_the_whole_position_and_the_targets_go(desk):
    send_targets(desk)
    desk.move(4996, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []
    [trade] = desk.trades()
    assert (trade["qty"], trade["exit_reason"], trade["pnl"]) == (2, "stop_loss", "-40.00")


def test_break_even_beside_targets_at_tradovate_moves_each_remaining_stop(desk):
    desk.fake.fees = {"commission": Decimal("0.35"), "exchangeFee": Decimal("0.02")}
    send_targets(desk, break_even={"trigger": "first_target"})
    desk.move(5002, poll=True)  # the first target fills: the other pair's stop to entry
    assert exits_at_exchange(desk) == [("Limit", "Sell", 1, "5004"), ("Stop", "Sell", 1, "5000")]
    assert len(desk.fake.calls("order/placeoco")) == 2  # moved in place, never placed again
    desk.move(5001, 5000, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []
    [trade] = desk.trades()
    assert (trade["exit_price"], trade["exit_reason"], trade["gross_pnl"]) == (
        "5001",
        "break_even",
        "10.00",
    )
    assert trade["commission"] == "1.48"  # 0.37 a contract, in and out, for 2
    parts = [
        (e["qty"], e["price"], e["exit_reason"], e["target"], e["gross_pnl"], e["pnl"])
        for e in trade["exits"]
    ]
    assert parts == [
        (1, "5002", "take_profit", 1, "10.00", "9.26"),
        (1, "5000", "break_even", None, "0.00", "-0.74"),
    ]


def test_a_restart_between_two_targets_at_tradovate_resumes(desk, tmp_path, app):
    send_targets(desk, break_even={"trigger": "first_target"})
    desk.move(5002, poll=True)
    with app.app_context():
        monitor.forget()
        reset_venues()
    tradovate_broker.DIRECTORY.clear()
    prices.clear()
    desk.current_app = create_app(make_config(tmp_path, TRADOVATE_API_URL=desk.fake.url))
    desk.move(5003, 5004, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []
    with desk.current_app.app_context():
        rows = db.session.scalars(select(Order).where(Order.account_id == desk.account["id"]))
        states = sorted((o.role, o.status, o.quantity) for o in rows)
    assert states == [
        ("entry", "filled", 2),
        ("stop_loss", "cancelled", 1),
        ("stop_loss", "cancelled", 1),
        ("stop_loss", "cancelled", 2),
        ("take_profit", "filled", 1),
        ("take_profit", "filled", 1),
    ]


def test_a_refused_pair_at_tradovate_leaves_the_whole_stop(desk):
    desk.fake.reject_next("order/placeoco", "InvalidPrice", "Price is out of range")
    answer = send_targets(desk)
    stops = [o for o in answer["orders"] if o["role"] == "stop_loss" and o["status"] == "working"]
    assert [o["qty"] for o in stops] == [2]
    assert exits_at_exchange(desk) == [("Stop", "Sell", 2, "4996")]


def test_targets_on_a_tradovate_position_go_as_pairs(desk, api):
    desk.send({"action": "buy", "quantity": 2})
    desk.poll()
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    body = {"position_id": position["id"], "targets": TWO_TARGETS, "stop_loss_price": "4990"}
    response = api.post("/api/orders/targets", body)
    assert response.status_code == 201, response.get_json()
    assert exits_at_exchange(desk) == [
        ("Limit", "Sell", 1, "5002"),
        ("Limit", "Sell", 1, "5004"),
        ("Stop", "Sell", 1, "4990"),
        ("Stop", "Sell", 1, "4990"),
    ]
    desk.move(5006, poll=True)
    assert net(desk) == 0 and desk.fake.working() == []


def test_an_entry_unfilled_when_answered_keeps_its_whole_stop_and_the_log_says_so(desk, api):
    desk.fake.prices.clear()  # the exchange has no print: the market entry rests unfilled
    answer = send_targets(desk)
    assert [(o["role"], o["status"]) for o in answer["orders"]] == [
        ("entry", "working"),
        ("stop_loss", "pending"),  # held by the exchange until the entry fills
    ]
    logged = [e["message"] for e in api.get("/api/logs?category=order").get_json()["items"]]
    assert any("not placed: it had not filled when the broker answered" in m for m in logged)


def test_a_market_entry_filled_just_after_its_answer_still_gets_its_targets(desk):
    desk.fake.market_fill_reads = 3  # Tradovate answers placeoso before the entry fills
    answer = send_targets(desk)
    assert [(o["role"], o["status"]) for o in answer["orders"]][:2] == [
        ("entry", "filled"),
        ("stop_loss", "cancelled"),
    ]
    assert len(exits_at_exchange(desk)) == 4  # two pairs
    assert desk.fake.client_sleeps[:2] == [0.1, 0.1]  # read again, briefly


def test_replacing_a_tradovate_positions_pairs_with_one_oco(desk, api):
    send_targets(desk)
    desk.poll()
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    body = {"position_id": position["id"], "take_profit_price": "5010", "stop_loss_price": "4990"}
    assert api.post("/api/orders/oco", body).status_code == 409  # the pairs cover it
    assert api.post("/api/orders/oco", {**body, "replace": True}).status_code == 201
    assert exits_at_exchange(desk) == [("Limit", "Sell", 2, "5010"), ("Stop", "Sell", 2, "4990")]


def test_flat_at_a_set_time_at_tradovate_then_the_next_entry_is_refused(desk, api):
    api.put(f"/api/risk/{desk.account['id']}", {"flatten_at": "15:55"})
    send_targets(desk)  # 2 contracts, two target pairs working
    desk.poll()
    flat_by = datetime(2026, 12, 3, 21, 55, tzinfo=UTC)  # 15:55 in Chicago
    with desk.current_app.app_context():
        status = monitor.tick(flat_by)
    assert status.halted_accounts == [desk.account["id"]], status.last_error
    assert net(desk) == 0 and desk.fake.working() == []
    refused = api.client.post(
        f"/webhook/{desk.strategy['webhook_token']}",
        data=json.dumps({"action": "buy", "quantity": 1}),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 423
    reason = refused.get_json()["error"]["fields"][str(desk.account["id"])]
    assert "flat by 15:55 America/Chicago" in reason
    assert len(desk.fake.calls("order/placeorder")) == 0  # nothing reached Tradovate


def desk_orders(api, desk) -> list[dict]:
    return api.get(f"/api/orders?account_id={desk.account['id']}").get_json()["items"]


def test_a_protective_stop_rejected_after_acceptance_halts_the_account(desk, api):
    answer = desk.send(
        {"action": "buy", "quantity": 1, "take_profit": {"ticks": 40}, "stop_loss": {"ticks": 16}}
    )
    stop_id = next(o["id"] for o in answer["orders"] if o["role"] == "stop_loss")
    stop = api.get(f"/api/orders/{stop_id}").get_json()
    desk.poll()
    desk.fake.reject_working(stop["client_order_id"])
    desk.poll()
    with desk.current_app.app_context():
        status = monitor.tick(datetime.now(UTC))
    assert status.halted_accounts == [desk.account["id"]]
    risk = api.get(f"/api/risk/{desk.account['id']}").get_json()
    assert (risk["halted"], risk["halted_by"]) == (True, "manual")
    assert "protective stop rejected after acceptance" in risk["halt_reason"]
    logged = api.get("/api/logs?category=order").get_json()["items"]
    [critical] = [e for e in logged if e["severity"] == "critical"]
    assert "was rejected by the broker after it had accepted it" in critical["message"]
    [stop_row] = [o for o in desk_orders(api, desk) if o["id"] == stop_id]
    assert (stop_row["status"], stop_row["reject_code"]) == ("rejected", "broker_rejected")
    with desk.current_app.app_context():  # acted on once
        assert monitor.tick(datetime.now(UTC)).halted_accounts == []


def test_the_session_guard_refuses_entries_when_the_market_is_closed(desk, api, app):
    app.config["SESSION_GUARD_TRADOVATE"] = True  # as in production
    risk = api.get(f"/api/risk/{desk.account['id']}").get_json()
    assert risk["session_guard"] is True  # a Tradovate account's default
    order = {"account_id": desk.account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}

    def buy_at(now: datetime) -> str | None:
        """The refusal a manual buy meets at `now`, or None when it was placed."""
        with app.test_request_context(), app.app_context():
            try:
                manual.place_manual_order(dict(order), now)
            except AppError as refusal:
                return refusal.message
            return None

    christmas = datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
    assert "the market is closed" in buy_at(christmas)
    assert "it opens Sun 27 Dec 23:00 UTC" in buy_at(christmas)
    assert "the market is closed" in buy_at(datetime(2026, 12, 3, 22, 30, tzinfo=UTC))  # break
    assert "market is closed" in buy_at(datetime(2026, 12, 5, 1, 0, tzinfo=UTC))  # Friday night
    assert desk.fake.calls("order/placeorder") == []  # nothing reached Tradovate
    api.put(f"/api/risk/{desk.account['id']}", {"session_guard": False})
    assert buy_at(christmas) is None  # the trader's choice


def test_a_pair_tradovate_cannot_be_reached_for_undoes_the_pairs_and_keeps_the_stop(desk):
    desk.fake.fail_next("order/placeoco", status=503, times=9, after=1)  # the 2nd pair on
    answer = send_targets(desk)
    stops = [o for o in answer["orders"] if o["role"] == "stop_loss"]
    assert (stops[0]["qty"], stops[0]["status"]) == (2, "working")  # the whole stop stays
    assert exits_at_exchange(desk) == [("Stop", "Sell", 2, "4996")]  # the first pair undone


# --- delayed market data: prices ten minutes late move no stop ------------------------------


@pytest.fixture
def feed(desk, app, monkeypatch):
    """Tradovate market data for the desk: the fake md socket the adapter subscribes the
    symbol on (the fake_tradovate fixture leaves market data out)."""
    server = FakeMarketDataServer(token="md-token").start()
    desk.fake.md_token = "md-token"
    app.config["TRADOVATE_MD_URL"] = server.url
    monkeypatch.setattr(tradovate_broker, "_market_data", lambda: market_data)
    yield server
    market_data.shutdown()
    server.stop()


def contract_id(desk) -> int:
    return desk.fake.contracts[desk.symbol]["id"]


def quote(desk, feed, *path):
    """Prints at the exchange that reach DeskPilot through market data, a tick after each."""
    for price in path:
        desk.fake.set_price(desk.symbol, price)
        feed.push_quote(contract_id(desk), trade=str(price))
        heard = Decimal(str(price))
        assert feed.wait_for(lambda heard=heard: prices.last(desk.symbol).price == heard)
        with desk.current_app.app_context():
            status = monitor.tick(datetime.now(UTC))
            assert status.errors == 0, status.last_error


def delayed_warnings(api) -> list[str]:
    logged = api.get("/api/logs?category=system").get_json()["items"]
    return [e["message"] for e in logged if "is delayed (~10 min)" in e["message"]]


@pytest.mark.parametrize("delayed", [True, False], ids=["delayed", "real-time"])
def test_a_delayed_feed_never_moves_the_trailing_stop_a_real_time_one_does(
    desk, feed, api, delayed
):
    feed.serve_delayed(contract_id(desk), delayed)
    desk.send({"action": "buy", "quantity": 1, "trailing_stop": {"ticks": 8}})
    assert feed.wait_for(lambda: feed.subscribed(contract_id(desk)))  # the alert asked for it
    assert feed.wait_for(lambda: market_data.client().is_delayed(desk.symbol) is delayed)
    stop_id = desk.one()["orders"]["stop"]["client_order_id"]
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4998")
    quote(desk, feed, 5001, 5003, 5004)
    assert prices.last(desk.symbol).delayed is delayed
    modifies = [m["stopPrice"] for m in desk.fake.bodies("order/modifyorder")]
    item = desk.one()
    if delayed:
        assert modifies == []  # the stop stays where it is
        assert (item["best_price"], item["stop_price"]) == ("5000", "4998")
        assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4998")
        assert delayed_warnings(api) == [  # said once, not at every tick
            f"market data for {desk.symbol} is delayed (~10 min): its trailing stops, "
            "break-even and take profits watched in-app hold, the stops at the broker stay "
            "where they are"
        ]
    else:
        assert modifies == [4999, 5001, 5002]
        assert (item["best_price"], item["stop_price"]) == ("5004", "5002")
        assert delayed_warnings(api) == []


def test_a_trail_held_by_a_delayed_feed_follows_once_it_is_real_time(desk, feed):
    feed.serve_delayed(contract_id(desk))
    desk.send({"action": "buy", "quantity": 1, "trailing_stop": {"ticks": 8}})
    assert feed.wait_for(lambda: market_data.client().is_delayed(desk.symbol))
    quote(desk, feed, 5003)
    assert desk.fake.calls("order/modifyorder") == []
    feed.serve_delayed(contract_id(desk), False)  # the trader subscribed to real-time data
    feed.drop()  # the client reconnects and subscribes again
    assert feed.wait_for(lambda: not market_data.client().is_delayed(desk.symbol), timeout=5)
    quote(desk, feed, 5004)
    assert [m["stopPrice"] for m in desk.fake.bodies("order/modifyorder")] == [5002]


def test_a_new_trailing_stop_on_a_delayed_feed_is_refused_and_the_fixed_stop_stays(desk, feed, api):
    feed.serve_delayed(contract_id(desk))
    answer = desk.send({"action": "buy", "quantity": 1, "stop_loss": {"ticks": 16}})
    stop = next(o for o in answer["orders"] if o["role"] == "stop_loss")
    desk.poll()
    assert feed.wait_for(lambda: market_data.client().is_delayed(desk.symbol))
    feed.push_quote(contract_id(desk), trade="5002")
    assert feed.wait_for(lambda: prices.last(desk.symbol).delayed)
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    placed = len(desk.fake.calls("order/placeorder"))

    response = api.post("/api/orders/trailing-stop", {"position_id": position["id"], "ticks": 8})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "market_data_delayed"
    assert error["message"].startswith(
        f"Market data for {desk.symbol} is delayed (~10 min): trailing refused, the fixed "
        "stop stays."
    )
    assert api.get("/api/orders/advanced").get_json()["items"] == []
    assert len(desk.fake.calls("order/placeorder")) == placed  # nothing new at Tradovate
    assert desk.fake.calls("order/modifyorder") == []
    [working] = desk.fake.working()
    assert (working["orderType"], working["stopPrice"]) == ("Stop", Decimal("4996"))
    assert api.get(f"/api/orders/{stop['id']}").get_json()["status"] == "working"
    logged = [e["message"] for e in api.get("/api/logs?category=order").get_json()["items"]]
    assert any("trailing refused, the fixed stop stays" in m for m in logged)


def test_a_delayed_feed_never_triggers_break_even(desk, feed, api):
    feed.serve_delayed(contract_id(desk))
    desk.send({"action": "buy", "quantity": 1})  # at 5000
    desk.poll()
    assert feed.wait_for(lambda: market_data.client().is_delayed(desk.symbol))
    pair = oco(desk, api, break_even={"trigger": {"ticks": 8}, "offset": {"ticks": 1}})
    quote(desk, feed, 5002, 5003)  # past the trigger, ten minutes ago
    assert desk.fake.calls("order/modifyorder") == []
    stop_id = pair["orders"]["stop"]["client_order_id"]
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4990")


# --- the request budget: a stop is modified at most once every STOP_MODIFY_MIN_SECONDS ------


def test_stop_modifications_are_spaced_and_the_stop_catches_up_after_the_interval(desk, app):
    app.config["STOP_MODIFY_MIN_SECONDS"] = 2
    desk.send({"action": "buy", "quantity": 1, "trailing_stop": {"ticks": 8}})
    stop_id = desk.one()["orders"]["stop"]["client_order_id"]
    start = datetime.now(UTC)

    def tick_at(seconds: float, price) -> None:
        desk.fake.set_price(desk.symbol, price)
        prices.update(desk.symbol, Decimal(str(price)), datetime.now(UTC), "tradovate")
        with desk.current_app.app_context():
            status = monitor.tick(start + timedelta(seconds=seconds))
            assert status.errors == 0, status.last_error

    def sent() -> list:
        return [m["stopPrice"] for m in desk.fake.bodies("order/modifyorder")]

    tick_at(0, 5001)  # the first move goes at once
    tick_at(0.5, 5002)
    tick_at(1.0, 5003)
    assert sent() == [4999]  # three rising ticks inside the interval: one modification
    item = desk.one()
    assert (item["best_price"], item["stop_price"]) == ("5003", "5001")  # the trail kept up
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("4999")
    tick_at(2.0, 5002.5)  # no new high, but the interval is over: the stop catches up
    assert sent() == [4999, 5001]
    assert desk.fake.order_for(stop_id)["stopPrice"] == Decimal("5001")
    tick_at(2.5, 5004)
    assert sent() == [4999, 5001]
    with app.app_context():
        monitor.forget()  # a restart keeps the budget and the lag: they live in the rows
        row = db.session.get(AdvancedOrder, item["id"])
        assert row.stop_modified_at == start + timedelta(seconds=2)
        assert (row.best_price, row.stop_price) == (Decimal("5004"), Decimal("5002"))
        assert db.session.get(Order, row.stop_order_id).stop_price == Decimal("5001")
    tick_at(3.5, 5003.5)
    assert sent() == [4999, 5001]
    tick_at(4.0, 5003.5)
    assert sent() == [4999, 5001, 5002]  # never looser, a tick at least each time
    tick_at(4.1, 5003.5)
    tick_at(6.5, 5003.5)
    assert sent() == [4999, 5001, 5002]  # caught up: nothing more to send
