"""What the control center reads besides the trading API: the contract a typed symbol names,
each trader's position and today's P&L, and each account's halt with whether it lifts."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.contracts import resolve_symbol
from app.services.market import prices
from tests.conftest import front


def test_a_continuous_symbol_resolves_to_todays_front_month(api):
    today = datetime.now(UTC).date()
    found = api.get("/api/contracts/resolve?symbol=MES1!").get_json()
    assert found["symbol"] == "MES1!"
    assert found["contract"] == front("MES")
    assert (found["root"], found["tick_size"], found["tick_value"]) == ("MES", "0.25", "1.25")
    assert found["expired"] is False
    assert found["last_trade"] == resolve_symbol("MES1!", today).maturity.last_trade.isoformat()
    second = api.get("/api/contracts/resolve?symbol=cme_mini:mes2!").get_json()
    assert second["contract"] == resolve_symbol("MES1!", today).next_listed().code


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("symbol=XYZ1!", "is not a supported futures symbol"),
        ("symbol=NYMEX:MES1!", "MES trades on CME_MINI"),
        ("symbol=", "symbol is required"),
        ("", "symbol is required"),
        (f"symbol={'M' * 41}", "at most 40 characters"),
    ],
)
def test_a_symbol_that_names_no_contract_is_400_saying_why(api, query, words):
    response = api.get(f"/api/contracts/resolve?{query}")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert words in error["message"]
    assert "symbol" in error["fields"]


@pytest.fixture
def desk(api, make_account, make_strategy, app):
    """Two strategies on one paper account, the first also on a second account."""
    with app.app_context():
        prices.update(front("MES"), Decimal("6000.25"), datetime.now(UTC), "test")
    main, other = make_account("Main", starting_balance="50000"), make_account("Other")
    trend = make_strategy("Trend", symbol="MES1!", quantity=2)
    fade = make_strategy("Fade", symbol="MES1!", quantity=1)

    def trader(strategy, account):
        body = {"strategy_id": strategy["id"], "account_id": account["id"]}
        return api.post("/api/traders", body).get_json()["id"]

    ids = {"trend_main": trader(trend, main), "fade_main": trader(fade, main)}
    ids["trend_other"] = trader(trend, other)
    yield {"strategy": trend, "account": main, "traders": ids}
    prices.clear()


def live(api) -> dict[int, dict]:
    return {item["trader_id"]: item for item in api.get("/api/traders/live").get_json()["items"]}


def alert(api, strategy, action: str):
    body = json.dumps({"action": action, "symbol": "MES1!"})
    response = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 300, response.get_json()


def test_each_trader_shows_its_own_position_and_todays_pnl(api, app, desk):
    ids = desk["traders"]
    flat = live(api)
    assert flat[ids["trend_main"]] == {
        "trader_id": ids["trend_main"],
        "enabled": True,
        "positions": [],
        "realized_today": "0.00",
        "unrealized": "0.00",
        "pnl_today": "0.00",
    }

    alert(api, desk["strategy"], "buy")  # Trend buys 2 on both its accounts
    with app.app_context():
        prices.update(front("MES"), Decimal("6001.25"), datetime.now(UTC), "test")
    held = live(api)
    mine = held[ids["trend_main"]]
    assert mine["positions"] == [
        {"symbol": front("MES"), "qty": 2, "avg_price": "6000.25", "unrealized_pnl": "10.00"}
    ]
    assert (mine["realized_today"], mine["unrealized"], mine["pnl_today"]) == (
        "0.00",
        "10.00",
        "10.00",
    )
    assert held[ids["fade_main"]]["positions"] == []  # same account, another strategy
    assert held[ids["trend_other"]]["positions"][0]["qty"] == 2

    alert(api, desk["strategy"], "exit")  # closed at 6001.25: +1 point × 2 × $5, less fees
    closed = live(api)[ids["trend_main"]]
    assert closed["positions"] == []
    [trade] = api.get(f"/api/trades?account_id={desk['account']['id']}").get_json()["items"]
    assert closed["realized_today"] == trade["pnl"]
    assert closed["pnl_today"] == trade["pnl"]
    assert Decimal(trade["pnl"]) <= Decimal("10.00")
    assert live(api)[ids["fade_main"]]["realized_today"] == "0.00"


def test_traders_live_needs_a_login(client):
    response = client.get("/api/traders/live")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_an_account_says_who_halted_it_and_whether_the_trader_may_lift_it(api, make_account):
    account = make_account()
    path = f"/api/accounts/{account['id']}"
    fresh = api.get(path).get_json()
    assert (fresh["halted"], fresh["halted_by"], fresh["halt_reason"], fresh["halt_liftable"]) == (
        False,
        None,
        None,
        False,
    )

    api.post(f"{path}/halt", {"reason": "stepping away"})
    by_hand = api.get(path).get_json()
    assert (by_hand["halted_by"], by_hand["halt_reason"], by_hand["halt_liftable"]) == (
        "manual",
        "stepping away",
        True,
    )
    api.delete(f"{path}/halt")

    api.post("/api/kill-switch")
    [swept] = api.get("/api/accounts").get_json()["items"]
    assert (swept["halted"], swept["halted_by"], swept["halt_liftable"]) == (
        True,
        "kill_switch",
        False,
    )
    assert api.delete(f"{path}/halt").status_code == 409
    api.delete("/api/kill-switch")
    assert api.get(path).get_json()["halted_by"] is None
