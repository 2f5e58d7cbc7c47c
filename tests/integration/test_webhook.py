"""Alert → order through real requests to the app, on the paper broker (issue: pipeline)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def desk(api, make_account, make_strategy):
    """A paper account with a trader on a strategy; returns a helper to send alerts."""

    class Desk:
        account = make_account("Paper", starting_balance="100000.00")
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        trader = api.post(
            "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
        ).get_json()

        def send(self, payload, token=None, content_type="application/json"):
            body = payload if isinstance(payload, str) else json.dumps(payload)
            return api.client.post(
                f"/webhook/{token or self.strategy['webhook_token']}",
                data=body,
                headers={"Content-Type": content_type},
            )

        def positions(self):
            items = api.get(f"/api/positions?account_id={self.account['id']}").get_json()["items"]
            return {p["symbol"]: p for p in items}

        def orders(self):
            return api.get(f"/api/orders?account_id={self.account['id']}").get_json()["items"]

        def trades(self):
            return api.get(f"/api/trades?account_id={self.account['id']}").get_json()["items"]

    yield Desk()
    prices.clear()


def test_buy_alert_fills_on_paper_with_a_bracket(desk):
    mes = front("MES")
    response = desk.send(
        {
            "action": "buy",
            "symbol": "MES1!",
            "quantity": 2,
            "price": "5000.25",
            "take_profit": {"ticks": 16},
            "stop_loss": {"points": 4},
        }
    )
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["status"] == "executed"
    by_role = {o["role"]: o for o in answer["orders"]}
    assert by_role["entry"]["status"] == "filled"
    assert by_role["entry"]["symbol"] == mes and by_role["entry"]["qty"] == 2
    assert by_role["take_profit"]["status"] == "working"
    assert by_role["stop_loss"]["status"] == "working"
    orders = {o["role"]: o for o in desk.orders()}
    assert orders["take_profit"]["limit_price"] == "5004.25"
    assert orders["stop_loss"]["stop_price"] == "4996.25"
    assert orders["entry"]["avg_fill_price"] == "5000.25"
    position = desk.positions()[mes]
    assert position["qty"] == 2 and position["avg_price"] == "5000.25"


def test_take_profit_closes_the_trade_and_cancels_the_stop(desk):
    mes = front("MES")
    desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "price": "5000",
            "take_profit": {"ticks": 8},
            "stop_loss": {"ticks": 8},
        }
    )
    prices.update(mes, Decimal("5002.00"), datetime.now(UTC), "test")
    orders = {o["role"]: o for o in desk.orders()}
    assert orders["take_profit"]["status"] == "filled"
    assert orders["stop_loss"]["status"] == "cancelled"
    [trade] = desk.trades()
    assert trade["exit_reason"] == "take_profit"
    assert trade["pnl"] == "10.00"  # 2 points x $5
    assert mes not in desk.positions()


def test_the_same_alert_twice_places_one_order(desk):
    alert = {"action": "buy", "quantity": 1, "price": "5000", "id": "tv-123"}
    first = desk.send(alert).get_json()
    second = desk.send(alert)
    assert second.status_code == 200
    assert second.get_json()["status"] == "duplicate"
    assert second.get_json()["event_id"] == first["event_id"]
    assert len(desk.orders()) == 1
    assert desk.positions()[front("MES")]["qty"] == 1


def test_a_resent_alert_without_id_is_a_duplicate_within_the_minute(desk):
    body = '{"action": "buy", "quantity": 1, "price": "5000"}'
    desk.send(body)
    assert desk.send(body).get_json()["status"] == "duplicate"
    assert len(desk.orders()) == 1


def test_plain_text_strategy_message_places_the_order(desk):
    prices.update(front("MES"), Decimal(5000), datetime.now(UTC), "test")
    response = desk.send(
        "Trend (20, 2): order buy @ 2 filled on MES1!. New strategy position is 2",
        content_type="text/plain",
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "executed"
    assert desk.positions()[front("MES")]["qty"] == 2


def _place_nothing(desk, response, status, code):
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert not [o for o in desk.orders() if o["status"] in ("filled", "working")]
    return error


def test_stale_alert_places_nothing(desk):
    old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    response = desk.send({"action": "buy", "price": "5000", "time": old})
    _place_nothing(desk, response, 409, "stale_alert")


def test_malformed_alert_places_nothing_and_names_the_field(desk):
    error = _place_nothing(
        desk, desk.send({"action": "buy", "quantity": "1.5"}), 400, "invalid_payload"
    )
    assert "quantity" in error["fields"]
    error = _place_nothing(
        desk, desk.send("not an alert at all", content_type="text/plain"), 400, "invalid_payload"
    )
    assert "body" in error["fields"]


def test_wrong_token_and_wrong_passphrase_are_401(desk, api):
    _place_nothing(desk, desk.send({"action": "buy"}, token="nope"), 401, "unauthorized")
    api.put(f"/api/strategies/{desk.strategy['id']}", {"passphrase": "open sesame"})
    _place_nothing(desk, desk.send({"action": "buy", "passphrase": "wrong"}), 401, "unauthorized")
    ok = desk.send({"action": "buy", "passphrase": "open sesame", "price": "5000"})
    assert ok.status_code == 200


def test_passphrase_is_not_stored_in_the_raw_body(desk, api):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"passphrase": "open sesame"})
    desk.send({"action": "buy", "passphrase": "open sesame", "price": "5000"})
    [event] = api.get("/api/webhook-events").get_json()["items"]
    detail = api.get(f"/api/webhook-events/{event['id']}").get_json()
    assert "open sesame" not in detail["raw_body"]


def test_unknown_symbol_places_nothing(desk):
    _place_nothing(desk, desk.send({"action": "buy", "symbol": "XYZ1!"}), 422, "unknown_symbol")


def test_over_limit_alert_places_nothing(desk, api):
    api.put(f"/api/risk/{desk.account['id']}", {"max_contracts_per_order": 1})
    error = _place_nothing(
        desk, desk.send({"action": "buy", "quantity": 3, "price": "5000"}), 422, "risk_rejected"
    )
    assert "exceed the limit of 1" in error["fields"][str(desk.account["id"])]
    [refused] = desk.orders()
    assert refused["status"] == "rejected" and refused["reject_code"] == "risk"


def test_halted_account_places_nothing(desk, app):
    from app.extensions import db
    from app.models import RiskLimits

    with app.app_context():
        limits = db.session.query(RiskLimits).filter_by(account_id=desk.account["id"]).one()
        limits.halted, limits.halted_by, limits.halted_reason = True, "kill_switch", "kill switch"
        db.session.commit()
    _place_nothing(desk, desk.send({"action": "buy", "price": "5000"}), 423, "halted")
    [refused] = desk.orders()
    assert refused["reject_code"] == "halted"


def test_exit_closes_the_strategy_position(desk):
    mes = front("MES")
    desk.send({"action": "buy", "quantity": 3, "price": "5000", "id": "a"})
    response = desk.send({"action": "exit", "price": "5001", "id": "b"}).get_json()
    assert response["status"] == "executed"
    [exit_order] = response["orders"]
    assert (exit_order["side"], exit_order["qty"], exit_order["role"]) == ("sell", 3, "exit")
    assert mes not in desk.positions()
    [trade] = desk.trades()
    assert trade["exit_reason"] == "signal" and trade["pnl"] == "15.00"


def test_reverse_flips_the_position(desk):
    mes = front("MES")
    desk.send({"action": "buy", "quantity": 2, "price": "5000", "id": "a"})
    response = desk.send({"action": "reverse", "price": "5000", "id": "b"}).get_json()
    [order] = response["orders"]
    assert (order["side"], order["qty"]) == ("sell", 4)
    assert desk.positions()[mes]["qty"] == -2


def test_reverse_with_quantity_ends_with_that_size(desk):
    desk.send({"action": "sell", "quantity": 1, "price": "5000", "id": "a"})
    desk.send({"action": "reverse", "quantity": 3, "price": "5000", "id": "b"})
    assert desk.positions()[front("MES")]["qty"] == 3


def test_position_sync_orders_only_the_difference(desk, api):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"mode": "position-sync"})
    mes = front("MES")
    steps = [
        ({"market_position": "long", "position_size": 2}, "buy", 2, 2),
        ({"market_position": "long", "position_size": 2}, None, 0, 2),  # missed nothing
        ({"position_size": -1}, "sell", 3, -1),
        ({"market_position": "short", "position_size": 3}, "sell", 2, -3),
        ({"market_position": "flat", "position_size": 0}, "buy", 3, 0),
    ]
    for index, (payload, side, qty, expected) in enumerate(steps):
        answer = desk.send({**payload, "price": "5000", "id": f"s{index}"}).get_json()
        if side is None:
            assert answer["orders"] == []
        else:
            [order] = answer["orders"]
            assert (order["side"], order["qty"]) == (side, qty)
        assert desk.positions().get(mes, {"qty": 0})["qty"] == expected


def _sync_mode(desk, api):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"mode": "position-sync"})


def _sent(answer) -> list[tuple[str, int]]:
    return [(o["side"], o["qty"]) for o in answer["orders"]]


def test_position_sync_target_governs_an_alert_that_also_names_an_action(desk, api):
    _sync_mode(desk, api)
    alert = {"action": "buy", "market_position": "long", "position_size": "2", "price": "5000"}
    first = desk.send({**alert, "id": "tv-1"}).get_json()
    assert first["status"] == "executed" and _sent(first) == [("buy", 2)]
    assert desk.positions()[front("MES")]["qty"] == 2
    again = desk.send({**alert, "id": "tv-2"}).get_json()
    assert again["status"] == "executed" and again["orders"] == []
    assert desk.positions()[front("MES")]["qty"] == 2
    assert len(desk.orders()) == 1


def test_position_sync_reduces_to_the_target_whatever_the_quantity_says(desk, api):
    desk.send({"action": "buy", "quantity": 3, "price": "5000", "id": "open"})
    _sync_mode(desk, api)
    answer = desk.send(
        {
            "action": "sell",
            "quantity": "3",
            "market_position": "long",
            "position_size": "2",
            "price": "5001",
            "id": "reduce",
        }
    ).get_json()
    assert _sent(answer) == [("sell", 1)]
    assert answer["orders"][0]["role"] == "exit"
    assert desk.positions()[front("MES")]["qty"] == 2


@pytest.mark.parametrize("size", ["-2", "2"])
def test_position_sync_short_target_signed_or_unsigned(desk, api, size):
    _sync_mode(desk, api)
    alert = {"action": "sell", "market_position": "short", "position_size": size}
    answer = desk.send({**alert, "quantity": "5", "price": "5000", "id": "short"}).get_json()
    assert _sent(answer) == [("sell", 2)]
    assert desk.positions()[front("MES")]["qty"] == -2
    flat = {"action": "buy", "market_position": "flat", "position_size": "0", "price": "4999"}
    assert _sent(desk.send({**flat, "id": "flat"}).get_json()) == [("buy", 2)]
    assert front("MES") not in desk.positions()


def test_position_sync_refuses_an_alert_without_a_target(desk, api):
    _sync_mode(desk, api)
    response = desk.send({"action": "buy", "quantity": 1, "price": "5000"})
    error = _place_nothing(desk, response, 400, "invalid_payload")
    assert "position-sync" in error["fields"]["position_size"]
    assert desk.orders() == []
    [event] = api.get("/api/webhook-events").get_json()["items"]
    assert event["status"] == "rejected" and "position_size" in event["reason"]


def test_position_sync_exit_without_a_target_goes_flat(desk, api):
    desk.send({"action": "buy", "quantity": 2, "price": "5000", "id": "open"})
    _sync_mode(desk, api)
    answer = desk.send({"action": "exit", "price": "5001", "id": "exit"}).get_json()
    assert _sent(answer) == [("sell", 2)]
    assert front("MES") not in desk.positions()


def test_orders_mode_lets_the_action_govern_beside_a_target(desk):
    alert = {"action": "buy", "quantity": 1, "market_position": "long", "position_size": "2"}
    answer = desk.send({**alert, "price": "5000"}).get_json()
    assert _sent(answer) == [("buy", 1)]
    assert desk.positions()[front("MES")]["qty"] == 1


def test_trader_multiplier_and_fixed_quantity(desk, api, make_account):
    other = make_account("Paper 2")
    api.put(f"/api/traders/{desk.trader['id']}", {"quantity_multiplier": "3"})
    api.post(
        "/api/traders",
        {"strategy_id": desk.strategy["id"], "account_id": other["id"], "fixed_quantity": 1},
    )
    answer = desk.send({"action": "buy", "quantity": 2, "price": "5000"}).get_json()
    quantities = {o["account_id"]: o["qty"] for o in answer["orders"]}
    assert quantities == {desk.account["id"]: 6, other["id"]: 1}


def test_disabled_trader_is_skipped(desk, api, make_account):
    other = make_account("Paper 2")
    trader = api.post(
        "/api/traders", {"strategy_id": desk.strategy["id"], "account_id": other["id"]}
    ).get_json()
    api.put(f"/api/traders/{trader['id']}", {"enabled": False})
    answer = desk.send({"action": "buy", "price": "5000"}).get_json()
    assert {o["account_id"] for o in answer["orders"]} == {desk.account["id"]}


@pytest.mark.parametrize(
    ("root", "entry", "exit", "qty", "expected"),
    [
        ("ES", "6012.25", "6018.75", 2, "650.00"),  # 6.5 pts x $50 x 2
        ("MES", "6012.25", "6009.50", 3, "-41.25"),  # -2.75 x $5 x 3
        ("NQ", "21034.75", "21040.00", 1, "105.00"),  # 5.25 x $20
        ("CL", "71.37", "71.52", 2, "300.00"),  # 0.15 x $1000 x 2
        ("GC", "2711.30", "2709.80", 1, "-150.00"),  # -1.5 x $100
    ],
)
def test_closed_trade_pnl_is_exact_to_the_cent(desk, api, root, entry, exit, qty, expected):
    api.put(f"/api/strategies/{desk.strategy['id']}", {"symbol": f"{root}1!"})
    desk.send({"action": "buy", "quantity": qty, "price": entry, "id": "open"})
    desk.send({"action": "exit", "price": exit, "id": "close"})
    [trade] = desk.trades()
    assert trade["symbol"] == front(root)
    assert Decimal(trade["entry_price"]) == Decimal(entry)
    assert Decimal(trade["exit_price"]) == Decimal(exit)
    assert trade["pnl"] == expected
    assert trade["gross_pnl"] == expected


def test_event_log_shows_signal_orders_and_stage_timings(desk, api):
    desk.send({"action": "buy", "price": "5000"})
    [event] = api.get(f"/api/webhook-events?strategy_id={desk.strategy['id']}").get_json()["items"]
    assert event["status"] == "executed"
    assert event["signal"]["action"] == "buy"
    assert event["orders"][0]["status"] == "filled"
    assert {"auth", "parse", "store", "checks", "total"} <= set(event["timings_ms"])
    assert api.get("/api/webhook-events?status=rejected").get_json()["items"] == []
    assert api.get("/api/webhook-events?status=bogus").status_code == 400


def test_rejected_alerts_are_in_the_event_log_with_their_reason(desk, api):
    desk.send({"action": "buy", "quantity": 0})
    [event] = api.get("/api/webhook-events?status=rejected").get_json()["items"]
    assert "quantity" in event["reason"]


def test_webhook_body_over_64kb_is_413(desk):
    response = desk.send({"action": "buy", "pad": "x" * 70_000})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_webhook_rate_limit_per_token(tmp_path):
    from app import create_app
    from app.services.setup.strategies import create_strategy, webhook_token
    from tests.conftest import make_config

    app = create_app(make_config(tmp_path, RATELIMIT_ENABLED=True, WEBHOOK_RATE_LIMIT="2/minute"))
    with app.app_context():
        token = webhook_token(create_strategy({"name": "S"}))
    client = app.test_client()
    codes = [client.post(f"/webhook/{token}", data="{}").status_code for _ in range(3)]
    assert codes[2] == 429
    assert client.post("/webhook/other-token", data="{}").status_code == 401


def test_alert_log_keeps_the_newest_events_per_strategy_and_the_orders(desk, app, api):
    from app.services.records.alert_log import prune_events

    for index in range(5):
        desk.send(
            {"action": "buy" if index % 2 == 0 else "sell", "price": "5000", "id": f"p{index}"}
        )
    with app.app_context():
        assert prune_events(desk.strategy["id"], keep=2) == 3
    kept = api.get("/api/webhook-events").get_json()["items"]
    assert [e["signal"]["alert_id"] for e in kept] == ["p4", "p3"]
    orders = desk.orders()
    assert len(orders) == 5, "orders outlive the alerts that made them"
    assert sum(1 for o in orders if o["webhook_event_id"] is None) == 3
