"""POST /api/analytics/projection (DESIGN §5.4): a strategy's own closed trades projected,
the same seed giving the same answer, and bad requests refused naming the field."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def traded(api, client, make_account, make_strategy):
    """A strategy with two closed trades on paper: +$20 and −$10 (MES, $5 a point)."""
    account = make_account("Paper", starting_balance="10000")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    path = [("buy", "6000"), ("sell", "6004"), ("buy", "6000"), ("sell", "5998")]
    for n, (action, price) in enumerate(path):
        prices.update(front("MES"), Decimal(price), datetime.now(UTC), "test")
        alert = {"symbol": "MES1!", "action": action, "price": price, "id": f"alert-{n}"}
        response = client.post(
            f"/webhook/{strategy['webhook_token']}",
            data=json.dumps(alert),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.get_json()
    return strategy


def test_a_strategy_s_trades_are_projected_reproducibly(api, traded):
    body = {"strategy_id": traded["id"], "starting_balance": "10000", "trades": 5,
            "runs": 200, "seed": 7}  # fmt: skip
    first = api.post("/api/analytics/projection", body)
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer == api.post("/api/analytics/projection", body).get_json()  # the same seed
    assert answer["trades_drawn_from"] == 2
    assert set(answer["percentiles"]) == {"p5", "p25", "p50", "p75", "p95"}
    assert all(len(band) == 5 for band in answer["percentiles"].values())
    # Each projected trade adds +20 or −10 to 10,000: after 5, between 9,950 and 10,100.
    bands = answer["percentiles"]
    finals = [Decimal(bands[name][-1]) for name in ("p5", "p25", "p50", "p75", "p95")]
    assert all(Decimal("9950") <= final <= Decimal("10100") for final in finals)
    assert finals == sorted(finals)
    moderate = api.post("/api/analytics/projection", {**body, "risk_mode": "moderate"})
    # Under 2 % risk with the average loss ($10) as 1R: a win is +2R, i.e. +4 % of balance.
    assert Decimal(moderate.get_json()["percentiles"]["p95"][0]) == Decimal("10400")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"strategy_id": None}, "strategy_id"),
        ({"trades": 0}, "trades"),
        ({"runs": 50000}, "runs"),
        ({"risk_mode": "reckless"}, "risk_mode"),
        ({"starting_balance": "-5"}, "starting_balance"),
        ({"ruin_pct": 100}, "ruin_pct"),
    ],
)
def test_bad_projections_are_400_with_the_field(api, traded, change, field):
    body = {"strategy_id": traded["id"], "starting_balance": "10000", "trades": 5, **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post("/api/analytics/projection", body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_a_strategy_without_trades_has_nothing_to_project(api, make_strategy):
    strategy = make_strategy("New", symbol="MES1!")
    body = {"strategy_id": strategy["id"], "starting_balance": "10000", "trades": 5}
    response = api.post("/api/analytics/projection", body)
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"strategy_id": "has no closed trades"}


def test_the_analytics_of_a_strategy_s_trades(api, traded, make_account):
    answer = api.get(f"/api/analytics?strategy_id={traded['id']}").get_json()
    # Two trades: +20 and −10 on a 10,000 account.
    assert (answer["trades"], answer["wins"], answer["losses"]) == (2, 1, 1)
    assert answer["win_rate"] == 50.0 and answer["profit_factor"] == 2.0  # percent; ratio
    # Money with its cents, as trades and accounts show it.
    assert (answer["net_pnl"], answer["avg_win"], answer["avg_loss"]) == (
        "10.00",
        "20.00",
        "-10.00",
    )
    assert answer["max_drawdown"] == "10.00"
    assert [equity for _, equity in answer["equity_curve"]][-1] == "10010.00"
    by_symbol = api.get("/api/analytics?symbol=MES1!").get_json()
    assert by_symbol["trades"] == 2
    assert api.get("/api/analytics?symbol=MNQ1!").get_json()["trades"] == 0
    refused = api.get("/api/analytics?symbol=NOPE1!")
    assert refused.status_code == 400 and "symbol" in refused.get_json()["error"]["fields"]


def test_breakdowns_group_the_trades_by_what_was_asked(api, traded):
    by_strategy = api.get("/api/analytics/breakdown?by=strategy").get_json()["items"]
    assert by_strategy == [
        {
            "key": "Trend",
            "trades": 2,
            "win_rate": 50.0,
            "net_pnl": "10.00",
            "profit_factor": 2.0,
            "expectancy": "5.00",
            "max_drawdown": "10.00",
            "avg_slippage_ticks": 0.0,
            "score": 7.07,
        }
    ]
    by_symbol = api.get("/api/analytics/breakdown?by=symbol").get_json()["items"]
    assert [item["key"] for item in by_symbol] == ["MES"]
    [day] = api.get("/api/analytics/breakdown?by=day").get_json()["items"]
    assert day["trades"] == 2 and len(day["key"]) == 10  # the trading day, YYYY-MM-DD
    hours = api.get("/api/analytics/breakdown?by=hour").get_json()["items"]
    assert sum(item["trades"] for item in hours) == 2
    refused = api.get("/api/analytics/breakdown?by=moon")
    assert refused.status_code == 400 and "by" in refused.get_json()["error"]["fields"]
