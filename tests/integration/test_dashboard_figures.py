"""GET /api/dashboard: today's equity, realized and open P&L, round trips and win rate of
every enabled account or of one, and their sum, figured on the server in Decimal."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.services.market import prices
from tests.conftest import front


def at(app, price: str) -> None:
    with app.app_context():
        prices.update(front("MES"), Decimal(price), datetime.now(UTC), "test")


def order(api, account, side: str, qty: int = 1) -> None:
    body = {"account_id": account["id"], "symbol": "MES1!", "side": side, "qty": qty}
    assert api.post("/api/orders", body).status_code == 201


def summary(api, **args) -> dict:
    query = "&".join(f"{k}={v}" for k, v in args.items())
    answer = api.get(f"/api/dashboard?{query}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


@pytest.fixture
def two(make_account):
    return make_account("Desk A", starting_balance="50000"), make_account(
        "Desk B", starting_balance="25000.50"
    )


def test_a_fresh_account_shows_its_balance_and_no_win_rate(api, two):
    first, _ = two
    found = summary(api, account_id=first["id"])
    assert found == {
        "account_id": first["id"],
        "equity": "50000.00",
        "realized_today": "0.00",
        "unrealized": "0.00",
        "pnl_today": "0.00",
        "trades_today": 0,
        "wins_today": 0,
        "win_rate_today": None,
        "accounts": [
            {
                "account_id": first["id"],
                "name": "Desk A",
                "equity": "50000.00",
                "realized_today": "0.00",
                "unrealized": "0.00",
                "pnl_today": "0.00",
                "trades_today": 0,
                "wins_today": 0,
                "win_rate_today": None,
            }
        ],
    }


def test_round_trips_open_pnl_and_the_sum_over_every_enabled_account(api, app, two):
    first, second = two
    # Desk A: a winner (+$50), a loser (−$25), a scratch, then a long open 2 points up.
    for entry, exit_ in (("6000", "6010"), ("6010", "6005"), ("6005", "6005")):
        at(app, entry)
        order(api, first, "buy")
        at(app, exit_)
        order(api, first, "sell")
    order(api, first, "buy", qty=2)
    at(app, "6007")  # +2 points × 2 × $5 = +$20 open; Desk B holds nothing
    found = summary(api, account_id=first["id"])
    assert {k: found[k] for k in ("realized_today", "unrealized", "pnl_today")} == {
        "realized_today": "25.00",
        "unrealized": "20.00",
        "pnl_today": "45.00",
    }
    assert found["equity"] == "50045.00"  # the paper venue's cash after the round trips
    assert (found["trades_today"], found["wins_today"], found["win_rate_today"]) == (3, 1, "33.3")

    both = summary(api)
    assert both["account_id"] is None
    assert [a["name"] for a in both["accounts"]] == ["Desk A", "Desk B"]
    assert both["equity"] == "75045.50"  # 50045.00 + 25000.50, added exactly
    assert (both["pnl_today"], both["trades_today"], both["win_rate_today"]) == ("45.00", 3, "33.3")


def test_a_disabled_account_is_left_out_and_refused_by_name(api, two):
    first, second = two
    assert api.put(f"/api/accounts/{second['id']}", {"enabled": False}).status_code == 200
    assert [a["account_id"] for a in summary(api)["accounts"]] == [first["id"]]
    answer = api.get(f"/api/dashboard?account_id={second['id']}")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "account_disabled"
    assert api.get("/api/dashboard?account_id=999").status_code == 404
    assert api.get("/api/dashboard?account_id=x").status_code == 400
