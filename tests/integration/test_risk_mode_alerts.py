"""Risk modes and the exposure limit on the alert path, through the real webhook on a
paper account: sizing by dollar risk, the confidence threshold, the cap, the refusals."""

import json

import pytest

from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def desk(api, make_account, make_strategy):
    account = make_account("Sized", starting_balance="10000.00")
    strategy = make_strategy("Sized trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

    def send(**fields):
        body = {"action": "buy", "symbol": "MES1!", "price": "5000", **fields}
        return api.client.post(
            f"/webhook/{strategy['webhook_token']}",
            data=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )

    yield account, send
    prices.clear()


def position(api, account) -> int:
    items = api.get(f"/api/positions?account_id={account['id']}").get_json()["items"]
    return sum(item["qty"] for item in items if item["symbol"] == front("MES"))


def test_no_mode_keeps_the_strategy_quantity(api, desk):
    account, send = desk
    assert api.get(f"/api/risk/{account['id']}").get_json()["risk_mode"] is None
    assert send(stop_loss={"points": 10}).status_code == 200
    assert position(api, account) == 1


def test_moderate_sizes_the_entry_by_two_percent_over_the_stop(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "moderate"})
    # $10,000 × 2 % = $200 at risk; 10 points on MES = 40 ticks × $1.25 = $50 a contract.
    response = send(stop_loss={"points": 10})
    assert response.status_code == 200, response.get_json()
    assert position(api, account) == 4
    entries = [o for o in response.get_json()["orders"] if o["role"] == "entry"]
    assert [o["qty"] for o in entries] == [4]
    logs = api.get("/api/logs?category=risk").get_json()["items"]
    assert any("risk mode moderate sized" in entry["message"] for entry in logs)


def test_the_hard_limits_cap_a_sized_entry(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "aggressive", "max_contracts_per_order": 3})
    assert send(stop_loss={"points": 10}, confidence=90).status_code == 200  # 8 by risk
    assert position(api, account) == 3


def test_an_entry_without_a_stop_keeps_its_quantity_under_a_mode(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "conservative"})
    assert send(quantity=2).status_code == 200
    assert position(api, account) == 2


def test_an_alert_below_the_confidence_threshold_is_refused_naming_the_rule(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "moderate"})
    response = send(stop_loss={"points": 10}, confidence=65)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "risk_rejected"
    assert "confidence 65 is below the mode's threshold of 70" in json.dumps(error)
    assert position(api, account) == 0
    assert send(stop_loss={"points": 10}, confidence=70).status_code == 200


def test_a_stop_wider_than_the_budget_is_refused(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "conservative"})
    # $100 budget; 30 points = 120 ticks = $150 a contract.
    response = send(stop_loss={"points": 30})
    assert response.status_code == 422
    assert "more than the 100.00" in json.dumps(response.get_json())
    assert position(api, account) == 0


def test_a_confidence_out_of_range_is_a_malformed_alert(desk):
    _, send = desk
    response = send(confidence=101)
    assert response.status_code == 400
    assert "confidence" in json.dumps(response.get_json())


def test_max_total_exposure_refuses_the_order_that_would_pass_it(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"max_exposure": "60000"})
    assert api.get(f"/api/risk/{account['id']}").get_json()["max_exposure"] == "60000.00"
    assert send(quantity=2).status_code == 200  # 2 × 5000 × $5 = $50,000
    response = send(quantity=1)  # $75,000
    assert response.status_code == 422
    assert "max_exposure: total exposure would be 75000.00" in json.dumps(response.get_json())
    assert position(api, account) == 2
    exit_alert = send(action="sell", quantity=2)  # getting out is never blocked
    assert exit_alert.status_code == 200
    assert position(api, account) == 0


def test_null_risk_mode_turns_the_mode_off(api, desk):
    account, _ = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "aggressive"})
    limits = api.put(f"/api/risk/{account['id']}", {"risk_mode": None}).get_json()
    assert limits["risk_mode"] is None


def test_getting_out_is_never_refused_or_resized_by_the_mode(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "moderate"})
    assert send(stop_loss={"points": 10}).status_code == 200
    assert position(api, account) == 4
    # An unsure alert that only reduces, with a stop of its own: taken as it is.
    reduce = send(action="sell", quantity=1, stop_loss={"points": 10}, confidence=5)
    assert reduce.status_code == 200, reduce.get_json()
    assert position(api, account) == 3
    assert send(action="exit", confidence=0).status_code == 200
    assert position(api, account) == 0


def test_a_position_sync_target_on_the_held_side_keeps_the_mode_s_size(api, desk):
    """A sync strategy's target of 1 opens the mode's 4; the same target again (or another
    on that side) must not trade the position back to the strategy's size; flat closes it
    whole and the other side reverses into the mode's size."""
    account, send = desk
    [trader] = api.get(f"/api/traders?account_id={account['id']}").get_json()["items"]
    api.put(f"/api/strategies/{trader['strategy_id']}", {"mode": "position-sync"})
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "moderate"})
    stop = {"stop_loss": {"points": 10}}
    assert send(market_position="long", position_size=1, id="s1", **stop).status_code == 200
    assert position(api, account) == 4
    again = send(market_position="long", position_size=1, id="s2", **stop)
    assert again.status_code == 200 and again.get_json()["orders"] == []
    assert send(market_position="long", position_size=2, id="s3", **stop).status_code == 200
    assert position(api, account) == 4
    assert send(market_position="short", position_size=1, id="s4", **stop).status_code == 200
    assert position(api, account) == -4
    assert send(market_position="flat", position_size=0, id="s5").status_code == 200
    assert position(api, account) == 0


def test_an_alert_that_says_its_strategy_is_flat_closes_the_mode_s_position(api, desk):
    account, send = desk
    api.put(f"/api/risk/{account['id']}", {"risk_mode": "moderate"})
    assert send(stop_loss={"points": 10}).status_code == 200
    assert position(api, account) == 4
    # The strategy sold its 1 contract and says so: the mode's 4 close with it.
    assert send(action="sell", quantity=1, position_size=0).status_code == 200
    assert position(api, account) == 0
