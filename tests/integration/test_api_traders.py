"""/api/traders: strategy × account with a multiplier or a fixed quantity."""

import pytest


@pytest.fixture
def pair(make_strategy, make_account):
    return make_strategy(), make_account()


def test_trader_defaults_to_multiplier_one_and_enabled(api, pair):
    strategy, account = pair
    response = api.post(
        "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    )
    assert response.status_code == 201
    trader = response.get_json()
    assert trader["quantity_multiplier"] == "1"
    assert trader["fixed_quantity"] is None
    assert trader["enabled"] is True
    assert trader["strategy_name"] == strategy["name"]
    assert trader["account_name"] == account["name"]


def test_trader_with_fixed_quantity_and_toggle(api, pair):
    strategy, account = pair
    trader = api.post(
        "/api/traders",
        {"strategy_id": strategy["id"], "account_id": account["id"], "fixed_quantity": 3},
    ).get_json()
    assert trader["fixed_quantity"] == 3
    toggled = api.put(f"/api/traders/{trader['id']}", {"enabled": False}).get_json()
    assert toggled["enabled"] is False
    switched = api.put(f"/api/traders/{trader['id']}", {"quantity_multiplier": "0.5"}).get_json()
    assert switched["quantity_multiplier"] == "0.5"
    assert switched["fixed_quantity"] is None, "choosing a multiplier clears the fixed quantity"


def test_traders_filter_by_strategy_and_account(api, pair, make_account):
    strategy, account = pair
    other = make_account("Paper 2")
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": other["id"]})
    assert len(api.get(f"/api/traders?strategy_id={strategy['id']}").get_json()["items"]) == 2
    only = api.get(f"/api/traders?account_id={other['id']}").get_json()["items"]
    assert [t["account_id"] for t in only] == [other["id"]]
    assert api.get("/api/traders?account_id=abc").status_code == 400


def test_same_strategy_and_account_twice_is_409(api, pair):
    strategy, account = pair
    body = {"strategy_id": strategy["id"], "account_id": account["id"]}
    api.post("/api/traders", body)
    assert api.post("/api/traders", body).status_code == 409


def test_unknown_strategy_or_account_in_body_is_404_naming_it(api, pair):
    strategy, account = pair
    response = api.post("/api/traders", {"strategy_id": 99, "account_id": account["id"]})
    assert response.status_code == 404
    assert "strategy_id" in response.get_json()["error"]["fields"]
    response = api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": 99})
    assert "account_id" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"quantity_multiplier": "0"}, "quantity_multiplier"),
        ({"quantity_multiplier": "-1"}, "quantity_multiplier"),
        ({"quantity_multiplier": "1000"}, "quantity_multiplier"),
        ({"quantity_multiplier": "abc"}, "quantity_multiplier"),
        ({"fixed_quantity": 0}, "fixed_quantity"),
        ({"fixed_quantity": 500}, "fixed_quantity"),
        ({"fixed_quantity": "2"}, "fixed_quantity"),
        ({"fixed_quantity": 2, "quantity_multiplier": "2"}, "fixed_quantity"),
        ({"enabled": 1}, "enabled"),
    ],
)
def test_bad_trader_bodies_are_400(api, pair, extra, field):
    strategy, account = pair
    response = api.post(
        "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"], **extra}
    )
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("bad_id", [0, -1, 2**63, 10**30])
def test_out_of_range_ids_in_body_are_400(api, pair, bad_id):
    strategy, account = pair
    response = api.post("/api/traders", {"strategy_id": bad_id, "account_id": account["id"]})
    assert response.status_code == 400
    assert "strategy_id" in response.get_json()["error"]["fields"]


def test_missing_ids_are_400(api):
    response = api.post("/api/traders", {})
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]) == {"strategy_id", "account_id"}


def test_deleting_a_trader(api, pair):
    strategy, account = pair
    trader = api.post(
        "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    ).get_json()
    assert api.delete(f"/api/traders/{trader['id']}").status_code == 204
    assert api.get(f"/api/traders/{trader['id']}").status_code == 404
    assert api.delete(f"/api/traders/{trader['id']}").status_code == 404
