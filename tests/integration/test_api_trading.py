"""/api/orders, /api/positions, /api/trades: manual trading on the paper broker."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete

from app.extensions import db
from app.models import TradeExit
from app.services.market import prices
from tests.conftest import front


@pytest.fixture
def paper(make_account, app):
    account = make_account("Paper", starting_balance="25000.00")
    with app.app_context():
        prices.update(front("MES"), Decimal("6000.25"), datetime.now(UTC), "test")
    return account


def order(api, account, **fields):
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1, **fields}
    return api.post("/api/orders", body)


def test_manual_market_order_fills_and_shows_as_a_position(api, paper):
    response = order(api, paper, qty=2)
    assert response.status_code == 201, response.get_json()
    placed = response.get_json()
    assert placed["status"] == "filled" and placed["role"] == "manual"
    assert placed["avg_fill_price"] == "6000.25"
    assert placed["symbol"] == front("MES")
    [position] = api.get(f"/api/positions?account_id={paper['id']}").get_json()["items"]
    assert position["qty"] == 2
    assert position["last_price"] == "6000.25"
    assert position["unrealized_pnl"] == "0.00"


def test_a_paper_accounts_cash_starts_at_its_balance_and_moves_by_realized_pnl(api, paper, app):
    order(api, paper, qty=2)  # at 6000.25: buying moves no cash
    assert api.get(f"/api/accounts/{paper['id']}").get_json()["cash_balance"] == "25000.00"
    with app.app_context():
        prices.update(front("MES"), Decimal("6001.25"), datetime.now(UTC), "test")
    order(api, paper, side="sell", qty=2)  # +1 point on 2 MES
    assert api.get(f"/api/accounts/{paper['id']}").get_json()["cash_balance"] == "25010.00"


def test_unrealized_pnl_follows_the_price(api, paper, app):
    order(api, paper, qty=2)
    with app.app_context():
        prices.update(front("MES"), Decimal("6001.75"), datetime.now(UTC), "test")
    [position] = api.get("/api/positions").get_json()["items"]
    assert position["unrealized_pnl"] == "15.00"  # 1.5 pts x $5 x 2


def test_manual_bracket_and_cancel(api, paper):
    placed = order(api, paper, take_profit={"ticks": 8}, stop_loss={"points": 3}).get_json()
    exits = {e["role"]: e for e in placed["exits"]}
    assert exits["take_profit"]["limit_price"] == "6002.25"
    assert exits["stop_loss"]["stop_price"] == "5997.25"
    cancelled = api.delete(f"/api/orders/{exits['take_profit']['id']}")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["status"] == "cancelled"
    again = api.delete(f"/api/orders/{exits['take_profit']['id']}")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "order_not_working"


def test_resting_limit_order_works_until_the_price_comes(api, paper, app):
    placed = order(api, paper, order_type="limit", limit_price="5990.00").get_json()
    assert placed["status"] == "working"
    with app.app_context():
        prices.update(front("MES"), Decimal("5989.75"), datetime.now(UTC), "test")
    assert api.get(f"/api/orders/{placed['id']}").get_json()["status"] == "filled"


def test_close_position_flattens_and_withdraws_its_exits(api, paper, app):
    placed = order(api, paper, qty=3, take_profit={"ticks": 8}, stop_loss={"ticks": 8}).get_json()
    [position] = api.get("/api/positions").get_json()["items"]
    with app.app_context():
        prices.update(front("MES"), Decimal("6001.00"), datetime.now(UTC), "test")
    closing = api.post(f"/api/positions/{position['id']}/close")
    assert closing.status_code == 200, closing.get_json()
    assert (closing.get_json()["side"], closing.get_json()["qty"]) == ("sell", 3)
    assert closing.get_json()["role"] == "manual"
    assert api.get("/api/positions").get_json()["items"] == []
    for exit_order in placed["exits"]:
        assert api.get(f"/api/orders/{exit_order['id']}").get_json()["status"] == "cancelled"
    [trade] = api.get("/api/trades").get_json()["items"]
    assert trade["pnl"] == "11.25"  # 0.75 x $5 x 3
    assert trade["exit_reason"] == "manual"
    assert api.post(f"/api/positions/{position['id']}/close").status_code == 409


def test_a_trade_lists_its_partial_closes_and_one_stored_before_them_is_one(api, paper, app):
    order(api, paper, qty=3)  # at 6000.25
    with app.app_context():
        prices.update(front("MES"), Decimal("6001.25"), datetime.now(UTC), "test")
    order(api, paper, side="sell", qty=1)
    with app.app_context():
        prices.update(front("MES"), Decimal("5999.75"), datetime.now(UTC), "test")
    order(api, paper, side="sell", qty=2)
    [trade] = api.get("/api/trades").get_json()["items"]
    assert trade["gross_pnl"] == "0.00"  # +1 pt on 1, -0.5 pt on 2, at $5
    parts = [(e["qty"], e["price"], e["exit_reason"], e["gross_pnl"]) for e in trade["exits"]]
    assert parts == [(1, "6001.25", "manual", "5.00"), (2, "5999.75", "manual", "-5.00")]
    with app.app_context():  # as if closed before partial closes were kept
        db.session.execute(delete(TradeExit))
        db.session.commit()
    [whole] = api.get("/api/trades").get_json()["items"][0]["exits"]
    assert (whole["qty"], whole["price"], whole["pnl"]) == (3, trade["exit_price"], trade["pnl"])


def orders_of(api, account):
    return api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]


def test_manual_orders_pass_the_risk_checks(api, paper):
    api.put(f"/api/risk/{paper['id']}", {"max_contracts_per_order": 1})
    response = order(api, paper, qty=2)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "risk_rejected"
    [refused] = orders_of(api, paper)
    assert (refused["status"], refused["reject_code"]) == ("rejected", "risk")


def test_a_halted_account_can_still_be_closed_by_hand(api, paper):
    order(api, paper, qty=1)
    assert api.post(f"/api/accounts/{paper['id']}/halt").status_code == 200
    adding = order(api, paper, qty=1)
    assert adding.status_code == 422
    [refused] = [o for o in orders_of(api, paper) if o["status"] == "rejected"]
    assert refused["reject_code"] == "halted"
    reducing = order(api, paper, side="sell", qty=1)
    assert reducing.status_code == 201
    assert reducing.get_json()["status"] == "filled"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"qty": 0}, "qty"),
        ({"qty": "1"}, "qty"),
        ({"qty": 1000}, "qty"),
        ({"side": "hold"}, "side"),
        ({"order_type": "iceberg"}, "order_type"),
        ({"order_type": "limit"}, "body"),
        ({"order_type": "market", "limit_price": "6000"}, "body"),
        ({"order_type": "stop_limit", "stop_price": "6001"}, "body"),
        ({"order_type": "limit", "limit_price": "-1"}, "limit_price"),
        ({"order_type": "limit", "limit_price": "abc"}, "limit_price"),
        ({"take_profit": {"ticks": -2}}, "take_profit"),
        ({"trailing_stop": {"price": 6000}}, "trailing_stop"),
        ({"trailing_stop": {"ticks": 8, "activation": {"ticks": -1}}}, "trailing_stop"),
        ({"symbol": ""}, "symbol"),
        ({"account_id": "1"}, "account_id"),
    ],
)
def test_bad_manual_orders_are_400(api, paper, fields, field):
    response = order(api, paper, **fields)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_limit_price_off_the_tick_grid_is_rejected_with_the_reason(api, paper):
    response = order(api, paper, order_type="limit", limit_price="5990.10")
    assert response.status_code == 201
    assert response.get_json()["status"] == "rejected"
    assert "tick" in response.get_json()["reason"]


def test_unknown_symbol_account_and_ids(api, paper):
    assert order(api, paper, symbol="ZZZ1!").status_code == 422
    assert (
        api.post(
            "/api/orders", {"account_id": 999, "symbol": "MES1!", "side": "buy", "qty": 1}
        ).status_code
        == 404
    )
    assert api.delete("/api/orders/999").status_code == 404
    assert api.get("/api/orders/999").status_code == 404
    assert api.post("/api/positions/999/close").status_code == 404
    assert api.get("/api/webhook-events/999").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "/api/orders?account_id=x",
        "/api/orders?status=nope",
        "/api/trades?since=yesterday",
        "/api/positions?account_id=-1",
        "/api/webhook-events?since=noon",
    ],
)
def test_bad_filters_are_400(api, query):
    response = api.get(query)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


# The ticket's preview: where the exits would go, nothing sent.


def preview(api, account, **fields):
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1, **fields}
    return api.post("/api/orders/preview", body)


def test_the_preview_shows_the_exits_from_the_live_price_and_sends_nothing(api, paper):
    response = preview(
        api,
        paper,
        take_profit={"ticks": 8},
        stop_loss={"points": "2.1"},
        trailing_stop={"ticks": 6},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "symbol": front("MES"),
        "reference_price": "6000.25",
        "take_profit_price": "6002.25",
        "stop_loss_price": "5998.25",  # rounded toward the entry: a smaller loss
        "trailing_stop_price": "5998.75",
        "targets": [],
        "merged": [],
        "break_even": None,
    }
    short = preview(api, paper, side="sell", take_profit={"ticks": 8}).get_json()
    assert (short["take_profit_price"], short["stop_loss_price"]) == ("5998.25", None)
    limit = preview(
        api, paper, order_type="limit", limit_price="5990", take_profit={"ticks": 4}
    ).get_json()
    assert (limit["reference_price"], limit["take_profit_price"]) == ("5990", "5991")
    assert api.get(f"/api/orders?account_id={paper['id']}").get_json()["items"] == []


TARGETS = [{"ticks": 8, "percent_of_position": 50}, {"ticks": 16, "percent_of_position": 50}]


def test_the_preview_shows_scale_out_targets_and_break_even(api, paper):
    response = preview(
        api,
        paper,
        qty=3,
        take_profit=TARGETS,
        stop_loss={"ticks": 8},
        break_even={"trigger": "first_target", "offset": {"ticks": 1}},
    )
    assert response.status_code == 200, response.get_json()
    found = response.get_json()
    assert found["targets"] == [{"qty": 1, "price": "6002.25"}, {"qty": 2, "price": "6004.25"}]
    assert found["break_even"] == {"trigger_price": "6002.25", "stop_price": "6000.5"}
    assert found["take_profit_price"] is None and found["stop_loss_price"] == "5998.25"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"take_profit": TARGETS, "order_type": "limit", "limit_price": "5990"}, "take_profit"),
        ({"take_profit": TARGETS, "trailing_stop": {"ticks": 8}}, "take_profit"),
        ({"take_profit": list(reversed(TARGETS))}, "take_profit[1]"),
        (
            {"stop_loss": {"ticks": 8}, "break_even": {"trigger": "first_target"}},
            "break_even.trigger",
        ),
        ({"take_profit": TARGETS, "break_even": {"trigger": {"ticks": 4}}}, "break_even"),
        (
            {
                "take_profit": TARGETS,
                "stop_loss": {"ticks": 8},
                "break_even": {"trigger": {"ticks": 16}},
            },
            "break_even.trigger",
        ),
    ],
)
def test_targets_and_break_even_that_make_no_sense_are_named(api, paper, fields, field):
    for call in (preview, order):
        response = call(api, paper, qty=2, **fields)
        assert response.status_code == 400, response.get_json()
        assert field in response.get_json()["error"]["fields"]
    assert api.get(f"/api/orders?account_id={paper['id']}").get_json()["items"] == []


def test_a_ticket_order_scales_out_and_moves_its_stop_to_break_even(api, paper, app):
    placed = order(
        api,
        paper,
        qty=2,
        take_profit=TARGETS,
        stop_loss={"ticks": 8},
        break_even={"trigger": "first_target"},
    )
    assert placed.status_code == 201, placed.get_json()
    exits = [(e["role"], e["qty"], e["status"]) for e in placed.get_json()["exits"]]
    assert exits == [
        ("stop_loss", 2, "working"),
        ("take_profit", 1, "working"),
        ("take_profit", 1, "working"),
    ]
    [watch] = api.get("/api/orders/advanced").get_json()["items"]
    assert watch["break_even"] == {"trigger_price": "6002.25", "stop_price": "6000.25"}


def test_the_preview_refuses_an_illogical_exit_naming_it(api, paper):
    response = preview(api, paper, take_profit={"price": "5990"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["fields"] == {"take_profit": "must be above the entry 6000.25 for a buy, got 5990"}
    assert preview(api, paper, qty=0).status_code == 400
