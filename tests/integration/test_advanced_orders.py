"""Trailing stops and OCO pairs on the paper broker: the API, alerts, manual orders and the
monitor driving real broker orders as prices move (issue: exits that protect)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app import create_app
from app.brokers.errors import OrderRejected
from app.brokers.paper import broker as paper
from app.brokers.paper.broker import PaperBroker, reset_venues
from app.extensions import db
from app.models import AdvancedOrder, AuditEntry, Order, Position
from app.services.market import prices
from app.services.protection import advanced_orders, monitor
from tests.conftest import front, make_config


@pytest.fixture
def desk(app, api, make_account, make_strategy):
    """A paper account with a trader on an MES strategy; prices move through the cache and
    each move is followed by one monitor tick."""

    class Desk:
        account = make_account("Paper", starting_balance="100000.00")
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
        symbol = front()

        def move(self, *path):
            """Each price through the cache (the paper venue fills on it), then a tick."""
            status = None
            for price in path:
                now = datetime.now(UTC)
                prices.update(self.symbol, Decimal(str(price)), now, "test")
                with app.app_context():
                    status = monitor.tick(now)
            return status

        def buy(self, qty=1, side="buy", **fields):
            body = {"account_id": self.account["id"], "symbol": "MES1!", "side": side, "qty": qty}
            response = api.post("/api/orders", {**body, **fields})
            assert response.status_code == 201, response.get_json()
            return response.get_json()

        def position(self):
            items = api.get(f"/api/positions?account_id={self.account['id']}").get_json()["items"]
            return items[0] if items else None

        def advanced(self):
            return api.get("/api/orders/advanced").get_json()["items"]

        def one(self):
            [item] = self.advanced()
            return item

        def orders(self):
            return api.get(f"/api/orders?account_id={self.account['id']}").get_json()["items"]

        def trades(self):
            return api.get(f"/api/trades?account_id={self.account['id']}").get_json()["items"]

        def send(self, payload):
            response = api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

    desk = Desk()
    desk.move(5000)
    return desk


def trail(api, desk, **fields):
    response = api.post(
        "/api/orders/trailing-stop", {"position_id": desk.position()["id"], **fields}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- trailing stops ---------------------------------------------------------------------------


def test_a_long_trailing_stop_ratchets_up_and_exits_as_a_trailing_stop_trade(api, desk):
    desk.buy(2)
    created = trail(api, desk, ticks=8)
    assert (created["status"], created["side"], created["qty"]) == ("active", "long", 2)
    assert (created["best_price"], created["stop_price"]) == ("5000", "4998")
    stop = created["orders"]["stop"]
    assert (stop["status"], stop["stop_price"], stop["qty"], stop["role"]) == (
        "working",
        "4998",
        2,
        "stop_loss",
    )
    desk.move(5001, 5003.25, 5002.5)
    item = desk.one()
    assert (item["best_price"], item["stop_price"]) == ("5003.25", "5001.25")
    assert item["orders"]["stop"]["stop_price"] == "5001.25"  # moved at the broker
    desk.move(5004, 5001.75)  # stop 5002: the print gaps through it
    item = desk.one()
    assert item["status"] == "done" and item["reason"].startswith("stop filled at 5001.75")
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"], trade["qty"]) == (
        "trailing_stop",
        "5001.75",
        2,
    )
    assert desk.position() is None


def test_a_short_trailing_stop_ratchets_down_and_exits(api, desk):
    desk.buy(1, side="sell")
    created = trail(api, desk, points="2")
    assert (created["side"], created["stop_price"]) == ("short", "5002")
    assert created["orders"]["stop"]["stop_price"] == "5002"
    desk.move(4998, 4996.5, 4997)
    assert desk.one()["stop_price"] == "4998.5"
    desk.move(4998.5)
    assert desk.one()["status"] == "done"
    [trade] = desk.trades()
    assert (trade["side"], trade["exit_reason"], trade["pnl"]) == ("short", "trailing_stop", "7.50")


@pytest.mark.parametrize(
    ("fields", "stop"),
    [({"ticks": 8}, "4998"), ({"points": "3.1"}, "4997"), ({"percent": "0.1"}, "4995")],
)
def test_ticks_points_and_percent_trails_round_toward_the_price(api, desk, fields, stop):
    desk.buy(1)
    assert trail(api, desk, **fields)["stop_price"] == stop


def test_activation_waits_with_no_stop_at_the_broker_then_places_it(api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=4, activation_price="5005")
    assert (created["activated"], created["stop_price"], created["orders"]["stop"]) == (
        False,
        None,
        None,
    )
    desk.move(5003, 4990, 5004.75)
    item = desk.one()
    assert item["activated"] is False and item["orders"]["stop"] is None
    assert not [o for o in desk.orders() if o["role"] == "stop_loss"]
    desk.move(5006)
    item = desk.one()
    assert item["activated"] is True and item["activated_at"]
    assert (item["best_price"], item["stop_price"]) == ("5006", "5005")
    assert item["orders"]["stop"]["status"] == "working"


def test_the_broker_stop_is_modified_in_place_never_replaced(app, api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=4)
    client_id = created["orders"]["stop"]["client_order_id"]
    desk.move(5001, 5002, 5001.5, 5003)
    stops = [o for o in desk.orders() if o["role"] == "stop_loss"]
    assert len(stops) == 1 and stops[0]["client_order_id"] == client_id
    assert (stops[0]["status"], stops[0]["stop_price"]) == ("working", "5002")
    with app.app_context():
        modified = db.session.scalars(
            select(AuditEntry.message).where(AuditEntry.message.like("%modified%"))
        ).all()
    assert len(modified) == 3  # one modify per tightening; the dip sent nothing


def test_a_restart_mid_trail_resumes_with_the_same_best_price_and_stop(tmp_path, app, api, desk):
    desk.buy(1)
    trail(api, desk, ticks=8)
    desk.move(5006, 5005)
    before = desk.one()
    assert (before["best_price"], before["stop_price"]) == ("5006", "5004")
    # The process dies: memory (monitor, paper books, price cache) is gone; the rows stay.
    with app.app_context():
        monitor.forget()
        reset_venues()
    prices.clear()
    restarted = create_app(make_config(tmp_path))
    with restarted.app_context():
        status = monitor.tick(datetime.now(UTC))  # no price yet: nothing moves
        assert (status.loaded, status.broker_actions) == (1, 0)
        row = db.session.get(AdvancedOrder, before["id"])
        assert (row.best_price, row.stop_price) == (Decimal("5006"), Decimal("5004"))
    for price, best, stop in (("5005", "5006", "5004"), ("5007", "5007", "5005")):
        prices.update(desk.symbol, Decimal(price), datetime.now(UTC), "test")
        with restarted.app_context():
            monitor.tick(datetime.now(UTC))
            row = db.session.get(AdvancedOrder, before["id"])
            stop_row = db.session.get(Order, row.stop_order_id)
            assert (row.best_price, row.stop_price) == (Decimal(best), Decimal(stop))
            assert stop_row.stop_price == Decimal(stop)  # the restored book moved it
            assert stop_row.client_order_id == before["orders"]["stop"]["client_order_id"]
    prices.update(desk.symbol, Decimal("5004.75"), datetime.now(UTC), "test")
    with restarted.app_context():
        monitor.tick(datetime.now(UTC))
        assert db.session.get(AdvancedOrder, before["id"]).status == "done"


def test_a_gap_through_a_stop_the_broker_did_not_move_exits_at_the_market(api, desk, monkeypatch):
    desk.buy(1)
    trail(api, desk, ticks=4)  # stop 4999
    monkeypatch.setattr(
        PaperBroker,
        "modify_stops",
        lambda self, changes: [OrderRejected("venue busy") for _ in changes],
    )
    desk.move(5004)  # the trail wants 5003; the broker kept 4999
    item = desk.one()
    assert item["stop_price"] == "5003" and item["orders"]["stop"]["stop_price"] == "4999"
    desk.move(5002)  # through the trail's stop, above the broker's
    item = desk.one()
    assert item["status"] == "done", item
    assert item["orders"]["stop"]["status"] == "cancelled"
    assert (item["orders"]["exit"]["order_type"], item["orders"]["exit"]["status"]) == (
        "market",
        "filled",
    )
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"]) == ("trailing_stop", "5002")
    assert desk.position() is None


def test_closing_the_position_ends_its_trailing_stop(api, desk):
    desk.buy(1)
    trail(api, desk, ticks=8)
    closing = api.post(f"/api/positions/{desk.position()['id']}/close")
    assert closing.status_code == 200
    desk.move(5001)
    item = desk.one()
    assert item["status"] == "cancelled" and item["orders"]["stop"]["status"] == "cancelled"
    assert [t["exit_reason"] for t in desk.trades()] == ["manual"]


def test_cancelling_a_trailing_stop_withdraws_its_stop(api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=8)
    response = api.delete(f"/api/orders/trailing-stop/{created['id']}")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert response.get_json()["orders"]["stop"]["status"] == "cancelled"
    assert api.delete(f"/api/orders/trailing-stop/{created['id']}").status_code == 409
    assert api.delete(f"/api/orders/oco/{created['id']}").status_code == 404
    assert desk.position()["qty"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "body"),
        ({"ticks": 8, "points": 2}, "body"),
        ({"ticks": "8.5"}, "body"),
        ({"ticks": 0}, "ticks"),
        ({"percent": 100}, "body"),
        ({"points": "0.1"}, "points"),  # narrower than one tick
        ({"points": 2000}, "points"),  # over 25% of the price
        ({"ticks": 8, "activation_price": "-1"}, "activation_price"),
        ({"ticks": 8, "trail": 2}, "trail"),
    ],
)
def test_bad_trailing_stops_are_400(api, desk, fields, field):
    desk.buy(1)
    response = api.post(
        "/api/orders/trailing-stop", {"position_id": desk.position()["id"], **fields}
    )
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert desk.advanced() == []


def test_trailing_stop_for_a_missing_or_flat_position(api, desk):
    assert api.post("/api/orders/trailing-stop", {"position_id": 99, "ticks": 8}).status_code == 404
    desk.buy(1)
    position_id = desk.position()["id"]
    desk.buy(1, side="sell")
    response = api.post("/api/orders/trailing-stop", {"position_id": position_id, "ticks": 8})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "position_flat"


# --- trailing stops from alerts and manual orders ---------------------------------------------


def test_an_alert_with_a_trailing_stop_creates_the_trail_and_its_broker_stop(desk):
    answer = desk.send(
        {"action": "buy", "quantity": 2, "price": "5000", "trailing_stop": {"ticks": 8}}
    )
    assert answer["status"] == "executed"
    assert [(o["role"], o["status"]) for o in answer["orders"]] == [
        ("entry", "filled"),
        ("stop_loss", "working"),
    ]
    item = desk.one()
    assert (item["strategy_id"], item["qty"], item["stop_price"]) == (
        desk.strategy["id"],
        2,
        "4998",
    )
    assert item["entry_order_id"] == answer["orders"][0]["id"]
    desk.move(5010, 5007.75)
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"], trade["strategy_id"]) == (
        "trailing_stop",
        "5007.75",
        desk.strategy["id"],
    )


def test_an_alert_trail_with_an_activation_offset_counts_from_the_fill(desk):
    desk.send(
        {
            "action": "sell",
            "quantity": 1,
            "price": "5000",
            "trailing_stop": {"points": 2, "activation": {"ticks": 8}},
        }
    )
    item = desk.one()
    assert (item["activation_price"], item["activated"], item["orders"]["stop"]) == (
        "4998",
        False,
        None,
    )
    assert item["trail"] == {"points": "2", "activation": {"ticks": "8"}}
    desk.move(4998)
    item = desk.one()
    assert (item["activated"], item["stop_price"]) == (True, "5000")


def test_a_strategy_default_trailing_stop_applies_to_its_alerts(api, desk):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"trailing_stop": {"percent": "0.1"}})
    answer = desk.send({"action": "buy", "quantity": 1, "price": "5000"})
    assert [o["role"] for o in answer["orders"]] == ["entry", "stop_loss"]
    assert desk.one()["stop_price"] == "4995"


def test_a_working_limit_entry_starts_its_trail_when_it_fills(desk):
    placed = desk.buy(
        1, order_type="limit", limit_price="4995", trailing_stop={"ticks": 8, "activation": 4}
    )
    assert (placed["status"], placed["exits"]) == ("working", [])
    item = desk.one()
    assert (item["status"], item["activated"], item["orders"]["stop"]) == ("active", False, None)
    desk.move(4999)
    assert desk.one()["orders"]["stop"] is None
    desk.move(4995)  # the limit fills: the trail starts from its fill, activation 4 points up
    item = desk.one()
    assert (item["activation_price"], item["activated"]) == ("4999", False)
    desk.move(4999.5)
    item = desk.one()
    assert (item["activated"], item["best_price"], item["stop_price"]) == (True, "4999.5", "4997.5")
    assert item["orders"]["stop"]["status"] == "working"


def test_a_cancelled_entry_cancels_its_waiting_trail(api, desk):
    placed = desk.buy(1, order_type="limit", limit_price="4990", trailing_stop={"ticks": 8})
    assert api.delete(f"/api/orders/{placed['id']}").status_code == 200
    desk.move(5001)
    item = desk.one()
    assert item["status"] == "cancelled" and f"entry order {placed['id']}" in item["reason"]


def test_a_manual_order_with_a_trailing_stop_protects_its_fill(api, desk):
    placed = desk.buy(1, trailing_stop={"points": 2}, stop_loss={"points": 5})
    assert [e["role"] for e in placed["exits"]] == ["stop_loss", "stop_loss"]
    item = desk.one()
    assert (item["stop_price"], item["strategy_id"]) == ("4998", None)
    desk.move(5003, 5000.75)
    [trade] = desk.trades()
    assert trade["exit_reason"] == "trailing_stop"
    fixed = [o for o in desk.orders() if o["role"] == "stop_loss" and o["stop_price"] == "4995"]
    assert fixed[0]["status"] == "cancelled"  # the bracket's stop left with the position


def test_a_manual_order_that_only_reduces_cannot_carry_a_trailing_stop(api, desk):
    desk.buy(2)
    response = api.post(
        "/api/orders",
        {
            "account_id": desk.account["id"],
            "symbol": "MES1!",
            "side": "sell",
            "qty": 1,
            "trailing_stop": {"ticks": 8},
        },
    )
    assert response.status_code == 400
    assert "trailing_stop" in response.get_json()["error"]["fields"]
    assert desk.position()["qty"] == 2


# --- OCO pairs --------------------------------------------------------------------------------


def oco(api, desk, **fields):
    body = {"position_id": desk.position()["id"], **fields}
    response = api.post("/api/orders/oco", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_oco_take_profit_fill_cancels_the_stop_leg(api, desk):
    desk.buy(2)
    pair = oco(api, desk, take_profit_price="5010", stop_loss_price="4990")
    legs = pair["orders"]
    assert (legs["take_profit"]["status"], legs["stop"]["status"]) == ("working", "working")
    assert (legs["take_profit"]["qty"], legs["stop"]["qty"], pair["native"]) == (2, 2, True)
    desk.move(5010.25)
    item = desk.one()
    assert item["status"] == "done" and item["reason"] == "take profit filled at 5010"
    assert item["orders"]["stop"]["status"] == "cancelled"
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["pnl"]) == ("take_profit", "100.00")


def test_an_oco_stop_fill_cancels_the_take_profit_on_a_short(api, desk):
    desk.buy(1, side="sell")
    oco(api, desk, take_profit_price="4990", stop_loss_price="5005")
    desk.move(5006)
    item = desk.one()
    assert item["status"] == "done" and item["reason"].startswith("stop loss filled")
    assert item["orders"]["take_profit"]["status"] == "cancelled"
    assert desk.trades()[0]["exit_reason"] == "stop_loss"


def test_a_partial_oco_protects_only_its_quantity(api, desk):
    desk.buy(3)
    pair = oco(api, desk, take_profit_price="5010", stop_loss_price="4990", qty=1)
    assert (pair["qty"], pair["orders"]["stop"]["qty"], pair["orders"]["take_profit"]["qty"]) == (
        1,
        1,
        1,
    )
    desk.move(4989)
    assert desk.one()["status"] == "done"
    assert desk.position()["qty"] == 2


def test_cancelling_an_oco_withdraws_both_legs(api, desk):
    desk.buy(1)
    pair = oco(api, desk, take_profit_price="5010", stop_loss_price="4990")
    response = api.delete(f"/api/orders/oco/{pair['id']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled"
    assert {body["orders"]["take_profit"]["status"], body["orders"]["stop"]["status"]} == {
        "cancelled"
    }
    assert api.delete(f"/api/orders/oco/{pair['id']}").status_code == 409
    assert api.delete("/api/orders/oco/999").status_code == 404
    desk.move(5011)
    assert desk.position()["qty"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"take_profit_price": "4995", "stop_loss_price": "4990"}, "take_profit_price"),
        ({"take_profit_price": "5010", "stop_loss_price": "5001"}, "stop_loss_price"),
        ({"take_profit_price": "5010.1", "stop_loss_price": "4990"}, "take_profit_price"),
        ({"take_profit_price": "5010", "stop_loss_price": "4990", "qty": 3}, "qty"),
        ({"take_profit_price": "5010", "stop_loss_price": "4990", "qty": 0}, "qty"),
        ({"take_profit_price": "5010"}, "stop_loss_price"),
    ],
)
def test_illogical_oco_pairs_are_400_and_place_nothing(api, desk, fields, field):
    desk.buy(2)
    response = api.post("/api/orders/oco", {"position_id": desk.position()["id"], **fields})
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert [o["role"] for o in desk.orders()] == ["manual"]


def test_a_pair_the_broker_cannot_link_is_worked_by_the_monitor(api, desk, monkeypatch):
    monkeypatch.setattr(PaperBroker, "native_oco", False)
    desk.buy(1)
    pair = oco(api, desk, take_profit_price="5010", stop_loss_price="4990")
    assert pair["native"] is False and pair["orders"]["take_profit"] is None
    assert pair["orders"]["stop"]["status"] == "working"  # protection stays at the broker
    desk.move(5009.75)
    assert desk.one()["status"] == "active"
    desk.move(5010)
    item = desk.one()
    assert item["status"] == "done" and item["orders"]["stop"]["status"] == "cancelled"
    assert (item["orders"]["exit"]["order_type"], item["orders"]["exit"]["role"]) == (
        "market",
        "take_profit",
    )
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"]) == ("take_profit", "5010")


def test_the_list_filters_by_account_status_and_kind(api, desk, make_account):
    desk.buy(2)
    pair = oco(api, desk, take_profit_price="5010", stop_loss_price="4990", qty=1)
    assert api.delete(f"/api/orders/oco/{pair['id']}").status_code == 200
    trail(api, desk, ticks=8)
    account = desk.account["id"]
    assert len(api.get(f"/api/orders/advanced?account_id={account}").get_json()["items"]) == 2
    kinds = [i["kind"] for i in api.get("/api/orders/advanced?kind=oco").get_json()["items"]]
    assert kinds == ["oco"]
    assert api.get("/api/orders/advanced?status=done").get_json()["items"] == []
    assert api.get("/api/orders/advanced?status=nope").status_code == 400
    other = make_account("Other")
    assert api.get(f"/api/orders/advanced?account_id={other['id']}").get_json()["items"] == []
    one = api.get("/api/orders/advanced").get_json()["items"][0]
    assert api.get(f"/api/orders/advanced/{one['id']}").get_json() == one


# --- the monitor ------------------------------------------------------------------------------


def test_the_monitor_reports_its_tick(app, api, desk):
    desk.buy(1)
    trail(api, desk, points="2.1")  # stop 4998 (4997.9 rounded toward the price)
    desk.move(5000)
    status = desk.move(5000.1)  # best 5000.1, the stop still 4998
    assert status.watched == 1 and status.errors == 0 and status.duration_ms >= 0
    assert status.written == 1 and status.broker_actions == 0  # a best price, no stop move
    with app.app_context():
        assert monitor.monitor_status() is status
        assert monitor.monitor_status().to_json()["last_tick"]


def trail_elsewhere(api, make_account, **fields):
    """A trailing stop on a second account's 2-lot (one position takes one trail)."""
    other = make_account("Second")
    body = {"account_id": other["id"], "symbol": "MES1!", "side": "buy", "qty": 2}
    assert api.post("/api/orders", body).status_code == 201
    [position] = api.get(f"/api/positions?account_id={other['id']}").get_json()["items"]
    response = api.post("/api/orders/trailing-stop", {"position_id": position["id"], **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_stop_the_broker_refuses_to_move_does_not_hold_up_the_others(
    api, desk, make_account, monkeypatch
):
    desk.buy(2)
    first = trail(api, desk, ticks=8)
    trail_elsewhere(api, make_account, ticks=4)
    original = paper.PaperBroker.modify_stops
    refused = first["orders"]["stop"]["client_order_id"]

    def modify_stops(self, changes):
        answers = original(self, [c for c in changes if c[0] != refused])
        return [OrderRejected("not now") if c[0] == refused else answers.pop(0) for c in changes]

    monkeypatch.setattr(paper.PaperBroker, "modify_stops", modify_stops)
    status = desk.move(5005)
    assert (status.errors, status.moved_stops) == (1, 1) and "not now" in status.last_error
    stops = {i["id"]: i["orders"]["stop"]["stop_price"] for i in desk.advanced()}
    assert stops[first["id"]] == "4998"  # unchanged at the broker
    assert sorted(stops.values()) == ["4998", "5004"]


def test_one_failing_row_does_not_stop_the_tick(api, desk, make_account, monkeypatch):
    desk.buy(2)
    waiting = trail(api, desk, ticks=8, activation_price="5004")
    trail_elsewhere(api, make_account, ticks=4)

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(advanced_orders, "_place_trail_stop", broken)
    status = desk.move(5005)  # one activates (and fails), the other moves its stop
    assert status.errors == 1 and "boom" in status.last_error and status.moved_stops == 1
    items = {i["id"]: i for i in desk.advanced()}
    assert items[waiting["id"]]["status"] == "active"
    assert [i["orders"]["stop"]["stop_price"] for i in items.values() if i["orders"]["stop"]] == [
        "5004"
    ]


def test_the_daily_loss_limit_is_enforced_against_open_pnl(app, api, desk):
    kill_switch = pytest.importorskip("app.services.protection.kill_switch")
    assert hasattr(kill_switch, "flatten_and_halt")
    api.put(f"/api/risk/{desk.account['id']}", {"max_daily_loss": "50.00"})
    desk.buy(2)
    assert desk.move(4995.25).halted_accounts == []  # -47.50 open
    status = desk.move(4995)  # -50.00: the limit
    assert status.halted_accounts == [desk.account["id"]]
    assert desk.position() is None
    limits = api.get(f"/api/risk/{desk.account['id']}").get_json()
    assert limits["halted"] is True and limits["halted_by"] == "daily_loss"
    assert limits["halt_reason"].startswith("daily loss limit 50 reached: today's P&L -50")
    assert desk.move(4990).halted_accounts == []  # halted accounts are not checked again


def test_a_daily_loss_halt_outlives_a_rearm_and_the_trader_lifts_it(app, api, desk):
    api.put(f"/api/risk/{desk.account['id']}", {"max_daily_loss": "10.00"})
    desk.buy(1)
    assert desk.move(4997.5).halted_accounts == [desk.account["id"]]
    api.post("/api/kill-switch")
    api.delete("/api/kill-switch")
    assert api.get(f"/api/risk/{desk.account['id']}").get_json()["halted_by"] == "daily_loss"
    lifted = api.delete(f"/api/accounts/{desk.account['id']}/halt")
    assert lifted.status_code == 200 and lifted.get_json()["halted"] is False


# --- how the monitor finds what happened at the broker ---------------------------------------


def settle_stop_long_ago(app, stop_id: int) -> None:
    """The stop order died at the broker, stamped a day ago (a clock far behind ours, or
    news recorded while the monitor was away)."""
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.id == stop_id)
            .values(
                status="cancelled",
                reason="cancelled at the broker",
                updated_at=datetime.now(UTC) - timedelta(days=1),
            )
        )
        db.session.commit()


def test_after_a_restart_the_monitor_finds_a_stop_that_died_long_ago(app, api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=8)
    desk.move(5000)  # the monitor has looked; it remembers when
    settle_stop_long_ago(app, created["orders"]["stop"]["id"])
    with app.app_context():
        monitor.forget()  # a restart: the first look searches every row
    desk.move(5000)
    assert desk.one()["status"] != "active"


def test_a_row_changed_since_the_last_look_is_searched_whatever_its_orders_age(app, api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=8)
    desk.move(5000)
    settle_stop_long_ago(app, created["orders"]["stop"]["id"])
    with app.app_context():
        row = db.session.get(AdvancedOrder, created["id"])
        row.reason = "touched elsewhere"  # an ORM write: its revision moves
        db.session.commit()
    desk.move(5000)
    assert desk.one()["status"] != "active"


# --- break-even -------------------------------------------------------------------------------


def test_an_oco_moves_its_stop_to_break_even_at_the_trigger_and_exits_there(api, desk):
    desk.buy(2)  # at 5000
    pair = oco(
        api,
        desk,
        take_profit_price="5010",
        stop_loss_price="4990",
        break_even={"trigger": {"ticks": 8}, "offset": {"ticks": 1}},
    )
    assert pair["break_even"] == {"trigger_price": "5002", "stop_price": "5000.25"}
    desk.move(5001.75)
    assert desk.one()["orders"]["stop"]["stop_price"] == "4990"  # not yet
    desk.move(5002)
    item = desk.one()
    assert (item["stop_loss_price"], item["orders"]["stop"]["stop_price"]) == ("5000.25", "5000.25")
    assert item["orders"]["stop"]["status"] == "working"
    desk.move(5001, 5000.25)  # back down: the stop at break-even fills
    item = desk.one()
    assert item["status"] == "done" and item["orders"]["take_profit"]["status"] == "cancelled"
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"], trade["pnl"]) == (
        "break_even",
        "5000.25",
        "2.50",
    )


def test_break_even_never_loosens_a_stop_already_tighter(api, desk):
    desk.buy(1)  # at 5000
    desk.move(5003)
    oco(
        api,
        desk,
        take_profit_price="5010",
        stop_loss_price="5001",
        break_even={"trigger": {"points": 2}},
    )
    desk.move(5003)
    item = desk.one()
    assert (item["stop_loss_price"], item["orders"]["stop"]["stop_price"]) == ("5001", "5001")


def test_a_trailing_stop_takes_break_even_when_it_is_the_tighter(api, desk):
    desk.buy(1)
    created = trail(api, desk, ticks=40, break_even={"trigger": {"ticks": 8}})  # stop 4990
    assert created["stop_price"] == "4990"
    desk.move(5002)  # the trail would be at 4992; break-even is 5000
    item = desk.one()
    assert (item["stop_price"], item["orders"]["stop"]["stop_price"]) == ("5000", "5000")
    desk.move(5012)  # now the trail is tighter: 5002
    assert desk.one()["stop_price"] == "5002"
    desk.move(5001)
    assert desk.one()["status"] == "done"
    assert desk.trades()[0]["exit_reason"] == "trailing_stop"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"break_even": {"trigger": "first_target"}}, "break_even.trigger"),
        ({"break_even": {"trigger": {"ticks": 48}}}, "break_even.trigger"),  # past 5010
        ({"break_even": {"trigger": {"ticks": 8}, "offset": {"ticks": 41}}}, "break_even.offset"),
        ({"break_even": {"offset": {"ticks": 1}}}, "break_even.trigger"),
        ({"break_even": {"trigger": {"price": 5004}}}, "break_even.trigger"),
    ],
)
def test_break_even_that_could_never_act_is_400_and_places_nothing(api, desk, extra, field):
    desk.buy(1)
    body = {"position_id": desk.position()["id"], "take_profit_price": "5010"}
    response = api.post("/api/orders/oco", {**body, "stop_loss_price": "4990", **extra})
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert desk.advanced() == []


def test_a_trail_with_an_activation_price_cannot_take_break_even(api, desk):
    desk.buy(1)
    body = {"position_id": desk.position()["id"], "ticks": 8, "activation_price": "5004"}
    response = api.post(
        "/api/orders/trailing-stop", {**body, "break_even": {"trigger": {"ticks": 8}}}
    )
    assert response.status_code == 400
    assert "break_even" in response.get_json()["error"]["fields"]


def test_a_refused_pair_names_prices_as_a_trader_writes_them(api, desk):
    desk.buy(1)
    body = {"position_id": desk.position()["id"], "take_profit_price": "5010"}
    response = api.post("/api/orders/oco", {**body, "stop_loss_price": "5001"})
    assert response.get_json()["error"]["fields"] == {
        "stop_loss_price": "must be below the market 5000 for a long, got 5001"
    }


def test_an_alerts_bracket_moves_its_stop_to_break_even(desk):
    answer = desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "take_profit": {"ticks": 40},
            "stop_loss": {"ticks": 40},
            "break_even": {"trigger": {"ticks": 8}, "offset": {"ticks": 1}},
        }
    )
    assert [o["role"] for o in answer["orders"]] == ["entry", "take_profit", "stop_loss"]
    pair = desk.one()
    assert (pair["kind"], pair["take_profit_price"], pair["stop_loss_price"]) == (
        "oco",
        "5010",
        "4990",
    )
    assert pair["break_even"] == {"trigger_price": "5002", "stop_price": "5000.25"}
    desk.move(5002)
    assert desk.one()["orders"]["stop"]["stop_price"] == "5000.25"
    desk.move(5001, 5000.25)
    [trade] = desk.trades()
    assert (trade["exit_reason"], trade["exit_price"]) == ("break_even", "5000.25")
    assert desk.one()["status"] == "done"


def test_an_alerts_trailing_stop_takes_break_even_from_its_fill(desk):
    desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "trailing_stop": {"ticks": 40},
            "break_even": {"trigger": {"ticks": 8}},
        }
    )
    trail_row = desk.one()
    assert trail_row["break_even"] == {"trigger_price": "5002", "stop_price": "5000"}
    desk.move(5002)
    assert desk.one()["stop_price"] == "5000"


def test_break_even_beyond_an_alerts_take_profit_is_not_followed_and_says_so(api, desk):
    answer = desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "take_profit": {"ticks": 4},
            "stop_loss": {"ticks": 8},
            "break_even": {"trigger": {"ticks": 8}},
        }
    )
    assert answer["status"] == "executed"
    assert desk.advanced() == []
    logged = api.get("/api/logs?category=order").get_json()["items"]
    assert any("break-even for order" in item["message"] for item in logged)


def test_a_strategys_default_break_even_guards_its_alerts_brackets(api, desk):
    default = {"break_even": {"trigger": {"ticks": 8}}}
    assert api.put(f"/api/strategies/{desk.strategy['id']}", default).status_code == 200
    desk.send({"action": "buy", "quantity": 1, "take_profit": 10, "stop_loss": 10})
    assert desk.one()["break_even"] == {"trigger_price": "5002", "stop_price": "5000"}
    desk.send({"action": "buy", "quantity": 1})  # no stop to move: traded without it
    assert len(desk.advanced()) == 1


# --- scale-out targets ------------------------------------------------------------------------

TWO_TARGETS = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]


def working(desk, role):
    return [o for o in desk.orders() if o["role"] == role and o["status"] == "working"]


def test_two_targets_leave_two_one_lot_limits_and_a_two_lot_stop_cut_as_each_fills(desk):
    answer = desk.send(
        {"action": "buy", "quantity": 2, "take_profit": TWO_TARGETS, "stop_loss": {"ticks": 16}}
    )
    assert answer["status"] == "executed"
    shape = [(o["role"], o["qty"], o["status"]) for o in answer["orders"]]
    assert shape == [
        ("entry", 2, "filled"),
        ("stop_loss", 2, "working"),
        ("take_profit", 1, "working"),
        ("take_profit", 1, "working"),
    ]
    assert sorted(o["limit_price"] for o in working(desk, "take_profit")) == ["5002", "5004"]
    desk.move(5002)  # the first target fills: the stop covers what is left
    [stop] = working(desk, "stop_loss")
    assert (stop["qty"], stop["stop_price"]) == (1, "4996")
    assert desk.position()["qty"] == 1
    desk.move(5004)  # the last one: flat, the stop cancelled
    assert working(desk, "stop_loss") == [] and working(desk, "take_profit") == []
    assert desk.position() is None
    [trade] = desk.trades()
    assert (trade["qty"], trade["exit_price"], trade["pnl"]) == (2, "5003", "30.00")
    parts = [(e["qty"], e["price"], e["target"], e["pnl"]) for e in trade["exits"]]
    assert parts == [(1, "5002", 1, "10.00"), (1, "5004", 2, "20.00")]


def test_a_gap_through_both_targets_closes_the_position_once(desk):
    desk.send(
        {"action": "buy", "quantity": 2, "take_profit": TWO_TARGETS, "stop_loss": {"ticks": 16}}
    )
    desk.move(5006)
    sold = [o for o in desk.orders() if o["side"] == "sell" and o["status"] == "filled"]
    assert sum(o["qty"] for o in sold) == 2  # never more than the position
    assert desk.position() is None
    assert [o["status"] for o in desk.orders() if o["role"] == "stop_loss"] == ["cancelled"]


def test_a_target_of_no_whole_contract_is_merged_and_the_answer_says_so(desk):
    targets = [
        {"ticks": 4, "percent_of_position": 25},
        {"ticks": 8, "percent_of_position": 25},
        {"ticks": 16, "percent_of_position": 50},
    ]
    answer = desk.send({"action": "buy", "quantity": 2, "take_profit": targets})
    placed = [o for o in answer["orders"] if o["role"] == "take_profit"]
    assert [o["qty"] for o in placed] == [1, 1]
    assert placed[0]["reason"] == (
        "target 1 (25 % of 2) rounds to 0 contracts: merged into target 2"
    )


def test_break_even_beside_targets_moves_the_stop_the_targets_cut(desk):
    desk.send(
        {
            "action": "buy",
            "quantity": 2,
            "take_profit": TWO_TARGETS,
            "stop_loss": {"ticks": 16},
            "break_even": {"trigger": {"ticks": 6}},
        }
    )
    desk.move(5001.5)  # the trigger, before the first target
    [stop] = working(desk, "stop_loss")
    assert (stop["qty"], stop["stop_price"]) == (2, "5000")
    desk.move(5002)  # the first target fills: one contract left, still at break-even
    [stop] = working(desk, "stop_loss")
    assert (stop["qty"], stop["stop_price"]) == (1, "5000")
    desk.move(5001, 5000)
    assert desk.position() is None
    [trade] = desk.trades()
    assert trade["exit_reason"] == "break_even"
    parts = [(e["qty"], e["exit_reason"], e["target"], e["pnl"]) for e in trade["exits"]]
    assert parts == [(1, "take_profit", 1, "10.00"), (1, "break_even", None, "0.00")]


def test_a_restart_between_two_targets_resumes_them_and_the_stop(tmp_path, app, desk):
    desk.send(
        {"action": "buy", "quantity": 2, "take_profit": TWO_TARGETS, "stop_loss": {"ticks": 16}}
    )
    desk.move(5002)  # one target filled, the stop cut to 1
    with app.app_context():  # the process dies: books and prices reload from the tables
        monitor.forget()
        reset_venues()
    prices.clear()
    restarted = create_app(make_config(tmp_path))
    prices.update(desk.symbol, Decimal("5004"), datetime.now(UTC), "test")
    with restarted.app_context():
        rows = db.session.scalars(select(Order).where(Order.account_id == desk.account["id"]))
        states = sorted((o.role, o.status, o.quantity) for o in rows)
    assert states == [
        ("entry", "filled", 2),
        ("stop_loss", "cancelled", 1),  # flat after the last target: cancelled by the venue
        ("take_profit", "filled", 1),
        ("take_profit", "filled", 1),
    ]
    assert desk.position() is None


def put_targets(api, desk, **fields):
    body = {"position_id": desk.position()["id"], "targets": TWO_TARGETS, **fields}
    return api.post("/api/orders/targets", body)


def test_targets_on_an_open_position_with_a_stop_and_break_even(api, desk):
    desk.buy(2)  # at 5000
    response = put_targets(api, desk, stop_loss_price="4990", break_even={"trigger": {"ticks": 6}})
    assert response.status_code == 201, response.get_json()
    shape = [
        (o["role"], o["qty"], o["limit_price"], o["stop_price"], o["status"])
        for o in response.get_json()["orders"]
    ]
    assert shape == [
        ("stop_loss", 2, None, "4990", "working"),
        ("take_profit", 1, "5002", None, "working"),
        ("take_profit", 1, "5004", None, "working"),
    ]
    assert desk.one()["break_even"] == {"trigger_price": "5001.5", "stop_price": "5000"}
    desk.move(5001.5)
    [stop] = working(desk, "stop_loss")
    assert (stop["qty"], stop["stop_price"]) == (2, "5000")
    desk.move(5002)
    [stop] = working(desk, "stop_loss")
    assert stop["qty"] == 1
    desk.move(5004)
    assert desk.position() is None and working(desk, "stop_loss") == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"targets": [{"price": "4999", "percent_of_position": 100}]}, "targets[0]"),
        ({"targets": [{"ticks": 8, "percent_of_position": 60}]}, "targets"),
        ({"stop_loss_price": "5001"}, "stop_loss_price"),
        ({"stop_loss_price": "4990.1"}, "stop_loss_price"),
        ({"break_even": {"trigger": {"ticks": 6}}}, "break_even"),  # no stop to move
        (  # armed only once the last target has closed the position: it would never act
            {"stop_loss_price": "4990", "break_even": {"trigger": {"ticks": 16}}},
            "break_even.trigger",
        ),
    ],
)
def test_targets_that_make_no_sense_are_400_and_place_nothing(api, desk, fields, field):
    desk.buy(2)
    response = put_targets(api, desk, **fields)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert working(desk, "take_profit") == [] and working(desk, "stop_loss") == []


def test_a_strategys_default_targets_scale_its_alerts_out(api, auth, desk):
    defaults = {"take_profit": TWO_TARGETS, "stop_loss": {"ticks": 16}}
    assert api.put(f"/api/strategies/{desk.strategy['id']}", defaults).status_code == 200
    answer = desk.send({"action": "buy", "quantity": 2})
    assert [(o["role"], o["qty"]) for o in answer["orders"]] == [
        ("entry", 2),
        ("stop_loss", 2),
        ("take_profit", 1),
        ("take_profit", 1),
    ]
    own = desk.send({"action": "sell", "quantity": 2, "take_profit": {"ticks": 4}})
    assert [o["role"] for o in own["orders"]] == ["exit"]  # a closing order carries no exits
    auth.login()
    page = api.client.get("/strategies").get_data(as_text=True)
    assert "8 ticks (50 %), 16 ticks (50 %)" in page
    assert 'value="16" aria-label="Target 2 amount"' in page  # the edit form holds them


def test_break_even_on_the_first_target_moves_the_stop_as_it_fills(desk):
    desk.send(
        {
            "action": "buy",
            "quantity": 2,
            "take_profit": TWO_TARGETS,
            "stop_loss": {"ticks": 16},
            "break_even": {"trigger": "first_target", "offset": {"ticks": 1}},
        }
    )
    assert desk.one()["break_even"] == {"trigger_price": "5002", "stop_price": "5000.25"}
    desk.move(5001.75)
    [stop] = working(desk, "stop_loss")
    assert stop["stop_price"] == "4996"
    desk.move(5002)  # the first target fills: the rest is at break-even
    [stop] = working(desk, "stop_loss")
    assert (stop["qty"], stop["stop_price"]) == (1, "5000.25")


def test_first_target_on_an_open_positions_targets(api, desk):
    desk.buy(2)
    response = put_targets(
        api, desk, stop_loss_price="4990", break_even={"trigger": "first_target"}
    )
    assert response.status_code == 201, response.get_json()
    assert desk.one()["break_even"] == {"trigger_price": "5002", "stop_price": "5000"}


def test_first_target_without_targets_is_refused_in_an_alert(api, desk):
    body = {"action": "buy", "stop_loss": 8, "break_even": {"trigger": "first_target"}}
    response = api.client.post(
        f"/webhook/{desk.strategy['webhook_token']}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "break_even.trigger" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/orders/targets", {"targets": TWO_TARGETS}),
        (
            "/api/orders/oco",
            {
                "take_profit_price": "5010",
                "stop_loss_price": "4990",
                "break_even": {"trigger": {"ticks": 8}},
            },
        ),
    ],
)
def test_offsets_from_an_entry_not_booked_yet_are_409_not_500(app, api, desk, path, extra):
    desk.buy(2)
    position_id = desk.position()["id"]
    with app.app_context():  # the broker shows a position DeskPilot has no entry price for
        db.session.execute(
            update(Position).where(Position.id == position_id).values(avg_price=None)
        )
        db.session.commit()
    response = api.post(path, {"position_id": position_id, **extra})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]["code"] == "no_entry_price"
    assert working(desk, "take_profit") == [] and working(desk, "stop_loss") == []


# --- changing a position's exits ---------------------------------------------------------------


def test_new_exits_beyond_the_position_are_refused_and_replace_changes_them(api, desk):
    desk.send(
        {
            "action": "buy",
            "quantity": 2,
            "take_profit": {"ticks": 40},
            "stop_loss": {"ticks": 16},
            "break_even": {"trigger": {"ticks": 8}},
        }
    )
    [watch] = desk.advanced()
    more = put_targets(api, desk, stop_loss_price="4990")
    assert more.status_code == 409
    assert more.get_json()["error"]["code"] == "exits_exceed_position"
    assert [(o["role"], o["qty"]) for o in working(desk, "stop_loss")] == [("stop_loss", 2)]

    changed = put_targets(api, desk, stop_loss_price="4990", replace=True)
    assert changed.status_code == 201, changed.get_json()
    stops = working(desk, "stop_loss")
    assert [(o["qty"], o["stop_price"]) for o in stops] == [(2, "4990")]
    assert sorted(o["limit_price"] for o in working(desk, "take_profit")) == ["5002", "5004"]
    replaced = api.get(f"/api/orders/advanced/{watch['id']}").get_json()
    assert (replaced["status"], replaced["reason"]) == ("cancelled", "replaced by new exits")
    pair = api.post(
        "/api/orders/oco",
        {
            "position_id": desk.position()["id"],
            "take_profit_price": "5010",
            "stop_loss_price": "4995",
            "replace": True,
        },
    )
    assert pair.status_code == 201, pair.get_json()
    assert [o["stop_price"] for o in working(desk, "stop_loss")] == ["4995"]
    assert [o["limit_price"] for o in working(desk, "take_profit")] == ["5010"]
