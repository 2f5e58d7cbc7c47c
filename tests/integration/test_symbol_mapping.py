"""Symbol mapping: a strategy charted on NQ trades MNQ, its counts times the ratio."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def mapped(api, app, make_account, make_strategy):
    account = make_account("Paper", starting_balance="50000.00")
    strategy = make_strategy(
        "NQ on micros", symbol="NQ1!", trade_symbol="MNQ1!", quantity_ratio="10"
    )
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MNQ"), Decimal("21000"), datetime.now(UTC), "test")

    class Mapped:
        def send(self, payload):
            return api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )

        def orders(self):
            return api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]

    mapped = Mapped()
    mapped.strategy = strategy
    mapped.account = account
    return mapped


def test_a_charted_contract_trades_the_mapped_one_times_the_ratio(api, mapped):
    assert (mapped.strategy["trade_symbol"], mapped.strategy["quantity_ratio"]) == ("MNQ1!", "10")
    answer = mapped.send({"action": "buy", "symbol": "NQ1!", "quantity": 2})
    assert answer.status_code == 200, answer.get_json()
    [order] = mapped.orders()
    assert (order["symbol"], order["qty"], order["status"]) == (front("MNQ"), 20, "filled")
    event = api.get(f"/api/webhook-events/{answer.get_json()['event_id']}").get_json()
    assert event["signal"]["symbol"] == "MNQ1!"
    assert event["signal"]["quantity"] == 20
    assert event["signal"]["charted"] == {"symbol": "NQ1!", "quantity": 2, "position_size": None}


def test_a_ratio_that_leaves_part_of_a_contract_places_nothing(api, mapped):
    api.put(f"/api/strategies/{mapped.strategy['id']}", {"quantity_ratio": "0.5"})
    refused = mapped.send({"action": "buy", "quantity": 3})
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "invalid_payload"
    assert "1.5 contracts, not a whole number" in error["message"]
    assert mapped.orders() == []
    assert mapped.send({"action": "buy", "quantity": 2}).status_code == 200
    assert [o["qty"] for o in mapped.orders()] == [1]


def test_a_mapped_count_above_the_cap_is_refused(mapped):
    refused = mapped.send({"action": "buy", "quantity": 11})  # 110 > MAX_ORDER_QUANTITY 100
    assert refused.status_code == 400
    assert "above the cap of 100" in refused.get_json()["error"]["message"]
    assert mapped.orders() == []


def test_position_sync_targets_are_mapped_too(api, mapped):
    api.put(f"/api/strategies/{mapped.strategy['id']}", {"mode": "position-sync"})
    assert mapped.send({"market_position": "long", "position_size": 1}).status_code == 200
    assert mapped.send({"market_position": "short", "position_size": 1}).status_code == 200
    assert [(o["side"], o["qty"]) for o in mapped.orders()][::-1] == [("buy", 10), ("sell", 20)]


def test_an_unknown_trade_symbol_is_refused_when_saved(api, mapped):
    answer = api.put(f"/api/strategies/{mapped.strategy['id']}", {"trade_symbol": "NOPE1!"})
    assert answer.status_code == 400
    assert "trade_symbol" in answer.get_json()["error"]["fields"]
    cleared = api.put(
        f"/api/strategies/{mapped.strategy['id']}", {"trade_symbol": None, "quantity_ratio": None}
    )
    assert (cleared.get_json()["trade_symbol"], cleared.get_json()["quantity_ratio"]) == (
        None,
        None,
    )
