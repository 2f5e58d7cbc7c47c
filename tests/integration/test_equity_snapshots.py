"""Equity snapshots: one at each closed round trip (written with the trade) and one per
trading day's end, and the curve with its drawdown from the API."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.ledger import equity
from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def paper(make_account):
    return make_account("Curve", starting_balance="50000.00")


def trade(api, app, account, entry: str, exit_: str, qty: int = 1) -> None:
    body = {"account_id": account["id"], "symbol": "MES1!", "qty": qty}
    with app.app_context():
        prices.update(front("MES"), Decimal(entry), datetime.now(UTC), "test")
    assert api.post("/api/orders", {**body, "side": "buy"}).status_code == 201
    with app.app_context():
        prices.update(front("MES"), Decimal(exit_), datetime.now(UTC), "test")
    assert api.post("/api/orders", {**body, "side": "sell"}).status_code == 201


def curve(api, account, **args) -> dict:
    query = "&".join(f"{k}={v}" for k, v in {"account_id": account["id"], **args}.items())
    answer = api.get(f"/api/dashboard/equity?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_each_closed_trade_adds_a_point_and_the_drawdown_follows_the_peak(api, app, paper):
    trade(api, app, paper, "6000", "6010")  # +10 points × $5 = +$50
    trade(api, app, paper, "6010", "5990", qty=2)  # −20 × 2 × $5 = −$200
    trade(api, app, paper, "5990", "5995")  # +$25
    found = curve(api, paper)
    assert [p["kind"] for p in found["items"]] == ["trade", "trade", "trade"]
    assert [p["equity"] for p in found["items"]] == ["50050.00", "49850.00", "49875.00"]
    assert [p["drawdown"] for p in found["items"]] == ["0.00", "200.00", "175.00"]
    assert [p["realized"] for p in found["items"]] == ["50.00", "-150.00", "-125.00"]
    assert found["max_drawdown"] == "200.00"
    trades = api.get(f"/api/trades?account_id={paper['id']}").get_json()["items"]
    assert {p["trade_id"] for p in found["items"]} == {t["id"] for t in trades}
    assert curve(api, paper, limit=1)["items"][0]["equity"] == "49875.00"  # the newest


def test_the_days_end_snapshot_counts_open_pnl_once_per_day(api, app, paper):
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    body = {"account_id": paper["id"], "symbol": "MES1!", "qty": 1, "side": "buy"}
    assert api.post("/api/orders", body).status_code == 201
    with app.app_context():
        prices.update(front("MES"), Decimal("6004"), datetime.now(UTC), "test")
        assert paper["id"] in equity.take_day_end(datetime.now(UTC))
        assert equity.take_day_end(datetime.now(UTC)) == []  # one per trading day
    [point] = curve(api, paper)["items"]
    assert (point["kind"], point["unrealized"], point["equity"]) == ("day", "20.00", "50020.00")


def test_an_equity_curve_needs_a_known_account(api, paper):
    assert api.get("/api/dashboard/equity").status_code == 400
    assert api.get("/api/dashboard/equity?account_id=999").status_code == 404
    assert curve(api, paper) == {"items": [], "max_drawdown": None}
