"""/api/strategies: webhook tokens, exits as traders write them, validation."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Order, Strategy, WebhookEvent
from app.services.market import prices
from app.services.setup.strategies import passphrase_matches, strategy_for_token
from tests.conftest import front


def test_strategy_gets_a_webhook_token_url_and_alert_message(make_strategy):
    strategy = make_strategy(symbol="MES1!", quantity=2)
    assert len(strategy["webhook_token"]) >= 32
    assert strategy["webhook_url"] == f"http://localhost/webhook/{strategy['webhook_token']}"
    message = json.loads(strategy["alert_message"])
    assert message["action"] == "{{strategy.order.action}}"
    assert message["symbol"] == "{{ticker}}"
    assert "passphrase" not in message
    assert strategy["max_alert_age_seconds"] == 60
    assert strategy["mode"] == "orders"


def test_public_url_setting_shapes_the_webhook_url(app, make_strategy):
    app.config["PUBLIC_URL"] = "https://desk.example.com/"
    strategy = make_strategy()
    assert strategy["webhook_url"].startswith("https://desk.example.com/webhook/")


def test_position_sync_message_carries_the_target_position(make_strategy):
    message = json.loads(
        make_strategy(mode="position-sync", passphrase="hunter2hunter2")["alert_message"]
    )
    assert message["market_position"] == "{{strategy.market_position}}"
    assert message["position_size"] == "{{strategy.position_size}}"
    assert message["passphrase"] == "<your passphrase>"
    assert "action" not in message


def test_exits_are_normalised_with_exact_decimals(make_strategy):
    strategy = make_strategy(
        take_profit={"ticks": 16},
        stop_loss=4,
        trailing_stop={"percent": "0.2", "activation": {"ticks": 8}},
    )
    assert strategy["take_profit"] == {"ticks": "16"}
    assert strategy["stop_loss"] == {"points": "4"}
    assert strategy["trailing_stop"] == {"percent": "0.2", "activation": {"ticks": "8"}}


def test_a_default_break_even_is_kept_and_an_empty_one_is_none(api, make_strategy):
    strategy = make_strategy(break_even={"trigger": {"ticks": 8}, "offset": {"ticks": "1"}})
    assert strategy["break_even"] == {"trigger": {"ticks": "8"}, "offset": {"ticks": "1"}}
    cleared = api.put(
        f"/api/strategies/{strategy['id']}", {"break_even": {"trigger": None, "offset": None}}
    )
    assert cleared.get_json()["break_even"] is None


def test_default_scale_out_targets_are_kept_as_a_list(make_strategy):
    targets = [{"ticks": 8, "percent_of_position": 50}, {"points": 4, "percent_of_position": 50}]
    strategy = make_strategy(take_profit=targets)
    assert strategy["take_profit"] == [
        {"ticks": "8", "percent_of_position": "50"},
        {"points": "4", "percent_of_position": "50"},
    ]


def test_token_is_stored_hashed_and_found_by_lookup(app, make_strategy):
    strategy = make_strategy()
    with app.app_context():
        row = db.session.get(Strategy, strategy["id"])
        assert strategy["webhook_token"] not in row.webhook_token_hash
        assert strategy["webhook_token"] not in row.webhook_token_encrypted
        assert strategy_for_token(strategy["webhook_token"]).id == strategy["id"]
        assert strategy_for_token("not-the-token") is None


def test_rotating_the_token_retires_the_old_one(api, app, make_strategy):
    strategy = make_strategy()
    rotated = api.post(f"/api/strategies/{strategy['id']}/rotate-token").get_json()
    assert rotated["webhook_token"] != strategy["webhook_token"]
    with app.app_context():
        assert strategy_for_token(strategy["webhook_token"]) is None
        assert strategy_for_token(rotated["webhook_token"]).id == strategy["id"]


def test_passphrase_is_hashed_and_can_be_removed(api, app, make_strategy):
    strategy = make_strategy(passphrase="correct horse")
    assert strategy["has_passphrase"] is True
    assert "correct horse" not in json.dumps(strategy)
    with app.app_context():
        stored = db.session.get(Strategy, strategy["id"]).passphrase_encrypted
        assert "correct horse" not in stored
        assert passphrase_matches(db.session.get(Strategy, strategy["id"]), "correct horse")
        assert not passphrase_matches(db.session.get(Strategy, strategy["id"]), "correct horsE")
    cleared = api.put(f"/api/strategies/{strategy['id']}", {"passphrase": ""}).get_json()
    assert cleared["has_passphrase"] is False


def test_update_changes_only_the_fields_sent_and_null_clears(api, make_strategy):
    strategy = make_strategy(symbol="NQ1!", quantity=3, take_profit={"ticks": 20})
    updated = api.put(
        f"/api/strategies/{strategy['id']}", {"quantity": 5, "take_profit": None, "enabled": False}
    ).get_json()
    assert updated["quantity"] == 5
    assert updated["take_profit"] is None
    assert updated["symbol"] == "NQ1!"
    assert updated["enabled"] is False
    assert updated["webhook_token"] == strategy["webhook_token"]


def test_strategy_with_orders_cannot_be_deleted(api, app, make_strategy, make_account):
    strategy = make_strategy()
    account = make_account()
    with app.app_context():
        db.session.add(
            Order(
                account_id=account["id"],
                strategy_id=strategy["id"],
                client_order_id="dp-9",
                symbol="MESZ6",
                side="buy",
                quantity=1,
                order_type="market",
                role="entry",
            )
        )
        db.session.commit()
    response = api.delete(f"/api/strategies/{strategy['id']}")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "strategy_in_use"


def test_deleting_a_strategy_takes_its_alert_log_and_traders(api, app, make_strategy, make_account):
    strategy = make_strategy()
    account = make_account()
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        db.session.add(WebhookEvent(strategy_id=strategy["id"], raw_body="{}", idempotency_key="k"))
        db.session.commit()
    assert api.delete(f"/api/strategies/{strategy['id']}").status_code == 204
    assert api.get("/api/traders").get_json()["items"] == []
    with app.app_context():
        assert db.session.scalars(select(WebhookEvent)).all() == []


def test_duplicate_strategy_name_is_409(make_strategy, api):
    make_strategy(name="Same")
    assert api.post("/api/strategies", {"name": "Same"}).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "S", "quantity": 0}, "quantity"),
        ({"name": "S", "quantity": 101}, "quantity"),
        ({"name": "S", "quantity": "2"}, "quantity"),
        ({"name": "S", "quantity": 1.5}, "quantity"),
        ({"name": "S", "order_type": "iceberg"}, "order_type"),
        ({"name": "S", "mode": "yolo"}, "mode"),
        ({"name": "S", "take_profit": {"ticks": -3}}, "take_profit"),
        ({"name": "S", "take_profit": {"pips": 3}}, "take_profit"),
        ({"name": "S", "stop_loss": "{{close}}"}, "stop_loss"),
        ({"name": "S", "trailing_stop": {"price": 5000}}, "trailing_stop"),
        (
            {"name": "S", "trailing_stop": {"ticks": 4, "activation": {"ticks": -1}}},
            "trailing_stop",
        ),
        ({"name": "S", "break_even": {"offset": {"ticks": 1}}}, "break_even"),
        ({"name": "S", "break_even": {"trigger": {"price": 5010}}}, "break_even"),
        ({"name": "S", "break_even": "8"}, "break_even"),
        ({"name": "S", "take_profit": [{"ticks": 8, "percent_of_position": 60}]}, "take_profit"),
        ({"name": "S", "max_alert_age_seconds": 0}, "max_alert_age_seconds"),
        ({"name": "S", "max_alert_age_seconds": 10**9}, "max_alert_age_seconds"),
        ({"name": "S", "symbol": "MES1!; DROP TABLE"}, "symbol"),
        ({"name": "S", "symbol": "M" * 41}, "symbol"),
        ({"name": "S", "passphrase": "p" * 73}, "passphrase"),
        ({"name": "S", "description": "d" * 501}, "description"),
        ({"name": "S", "webhook_token": "mine"}, "webhook_token"),
    ],
)
def test_bad_strategy_bodies_are_400_naming_the_field(api, body, field):
    response = api.post("/api/strategies", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()


def test_quantity_cap_follows_max_order_quantity(app, api):
    app.config["MAX_ORDER_QUANTITY"] = 5
    response = api.post("/api/strategies", {"name": "S", "quantity": 6})
    assert response.get_json()["error"]["fields"]["quantity"] == "must be between 1 and 5"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/strategies/42"),
        ("PUT", "/api/strategies/42"),
        ("DELETE", "/api/strategies/42"),
        ("POST", "/api/strategies/42/rotate-token"),
    ],
)
def test_unknown_strategy_is_404(api, method, path):
    response = api.call(method, path, {} if method == "PUT" else None)
    assert response.status_code == 404


# --- the strategy form's preview ---------------------------------------------------------------

SCALE_OUT = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]


def test_the_preview_prices_a_strategys_exits_for_a_buy_and_a_sell(api, app):
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    body = {
        "name": "Scale out",
        "symbol": "MES1!",
        "quantity": 2,
        "take_profit": SCALE_OUT,
        "stop_loss": {"ticks": 8},
        "break_even": {"trigger": "first_target", "offset": {"ticks": 1}},
    }
    response = api.post("/api/strategies/preview", body)
    assert response.status_code == 200, response.get_json()
    found = response.get_json()
    assert (found["symbol"], found["reference_price"]) == (front("MES"), "6000")
    assert found["buy"]["targets"] == [
        {"qty": 1, "price": "6002"},
        {"qty": 1, "price": "6004"},
    ]
    assert found["buy"]["break_even"] == {"trigger_price": "6002", "stop_price": "6000.25"}
    assert (found["sell"]["stop_loss_price"], found["sell"]["targets"][1]["price"]) == (
        "6002",
        "5996",
    )
    assert api.get("/api/strategies").get_json()["items"] == []  # nothing stored


def test_a_side_whose_exits_make_no_sense_says_why_and_the_other_is_priced(api, app):
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    body = {"symbol": "MES1!", "take_profit": {"price": "5990"}}
    found = api.post("/api/strategies/preview", body).get_json()
    assert found["buy"]["error"]["fields"] == {
        "take_profit": "must be above the entry 6000 for a buy, got 5990"
    }
    assert found["sell"]["take_profit_price"] == "5990"


def test_the_preview_needs_a_symbol_and_a_price(api, app):
    response = api.post("/api/strategies/preview", {"take_profit": {"ticks": 8}})
    assert response.status_code == 400
    assert "symbol" in response.get_json()["error"]["fields"]
    with app.app_context():
        prices.clear()
    response = api.post("/api/strategies/preview", {"symbol": "MES1!"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "no_price"
