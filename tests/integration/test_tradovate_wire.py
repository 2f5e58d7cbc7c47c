"""Tradovate's wire formats, pure: request bodies out, answers in (no server needed)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.brokers.base import OrderRequest
from app.brokers.errors import BrokerAuthError, OrderRejected
from app.brokers.tradovate import wire
from app.domain.vocabulary import OrderStatus, OrderType, Side
from tests.conftest import TRADOVATE_CREDENTIALS

ACCOUNT = wire.AccountRef(720001, "DEMO720001")
NOW = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def limit(price="5012.25", **fields) -> OrderRequest:
    values = {
        "client_order_id": "dp-1",
        "symbol": "MESZ6",
        "side": Side.BUY,
        "qty": 2,
        "order_type": OrderType.LIMIT,
        "limit_price": Decimal(price),
        **fields,
    }
    return OrderRequest(**values)


def test_a_placeorder_body_carries_both_account_fields_and_is_automated():
    assert wire.order_body(limit(), ACCOUNT) == {
        "accountSpec": "DEMO720001",
        "accountId": 720001,
        "clOrdId": "dp-1",
        "action": "Buy",
        "symbol": "MESZ6",
        "orderQty": 2,
        "orderType": "Limit",
        "price": 5012.25,
        "isAutomated": True,
    }


@pytest.mark.parametrize("text", ["5012.25", "0.0000005", "4200.1", "1234567.123456789"])
def test_prices_go_out_as_json_numbers_with_the_same_text(text):
    body = wire.order_body(limit(text), ACCOUNT)
    assert json.loads(json.dumps(body), parse_float=Decimal)["price"] == Decimal(text)


def test_a_price_a_float_cannot_carry_is_refused_before_sending():
    with pytest.raises(OrderRejected, match="cannot be sent exactly"):
        wire.order_body(limit("5012.250000000000000001"), ACCOUNT)


@pytest.mark.parametrize(
    ("order_type", "prices", "missing"),
    [
        (OrderType.LIMIT, {}, "limit price"),
        (OrderType.STOP, {}, "stop price"),
        (OrderType.STOP_LIMIT, {"limit_price": Decimal(1)}, "stop price"),
    ],
)
def test_an_order_without_its_price_is_refused_before_sending(order_type, prices, missing):
    request = OrderRequest("dp-1", "MESZ6", Side.SELL, 1, order_type, **prices)
    with pytest.raises(OrderRejected, match=missing):
        wire.order_body(request, ACCOUNT)


def test_a_stop_limit_sends_both_prices_and_a_bracket_has_no_qty_or_symbol():
    request = limit(order_type=OrderType.STOP_LIMIT, stop_price=Decimal("5010"))
    assert wire.restrained(request, time_in_force="GTC") == {
        "action": "Buy",
        "orderType": "StopLimit",
        "clOrdId": "dp-1",
        "price": 5012.25,
        "stopPrice": 5010,
        "timeInForce": "GTC",
    }


def test_a_modify_carries_quantity_and_type_even_for_a_price_change():
    assert wire.modify_body(5, 3, "Stop", None, Decimal("4990.5")) == {
        "orderId": 5,
        "orderQty": 3,
        "orderType": "Stop",
        "stopPrice": 4990.5,
        "isAutomated": True,
    }


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        ({"failureReason": "UnknownReason", "failureText": "Access is denied"}, None),
        ({"failureReason": "NoQuote"}, "Tradovate: NoQuote"),
        ({"errorText": "Operation failed", "ok": False}, "Tradovate: Operation failed"),
        (
            {"violations": [{"constraint": "accountId", "description": "Account is required"}]},
            "Tradovate: Account is required",
        ),
        ({}, "Tradovate: Tradovate answered without orderId"),
    ],
)
def test_refusals_keep_tradovates_words(answer, words):
    with pytest.raises(OrderRejected) as caught:
        wire.parse_place(answer)
    assert caught.value.message == (words or "Tradovate: Access is denied (UnknownReason)")


@pytest.mark.parametrize("answer", [{"orderId": 7}, {"orderId": 7, "failureReason": "Success"}])
def test_success_is_an_order_id_without_a_failure(answer):
    assert wire.parse_place(answer) == 7


def test_oso_and_oco_answers_give_every_leg_id():
    assert wire.parse_oso({"orderId": 1, "oso1Id": 2, "oso2Id": 3}) == (1, 2, 3)
    assert wire.parse_oso({"orderId": 1, "oso1Id": 2}) == (1, 2, None)
    assert wire.parse_oco({"orderId": 1, "ocoId": 2}) == (1, 2)


def test_command_results_refuse_without_a_command_id():
    assert wire.command_refusal({"commandId": 9}) is None
    assert wire.command_refusal({"failureReason": "TooLate", "failureText": "Filled"}) == (
        "Filled (TooLate)"
    )


@pytest.mark.parametrize(
    ("ord_status", "filled", "status"),
    [
        ("PendingNew", 0, OrderStatus.WORKING),
        ("Working", 0, OrderStatus.WORKING),
        ("Suspended", 0, OrderStatus.PENDING),
        ("Filled", 2, OrderStatus.FILLED),
        ("Canceled", 0, OrderStatus.CANCELLED),
        ("Expired", 0, OrderStatus.CANCELLED),
        ("Rejected", 0, OrderStatus.REJECTED),
        ("Completed", 2, OrderStatus.FILLED),
        ("Completed", 1, OrderStatus.CANCELLED),
        ("SomethingNew", 0, OrderStatus.PENDING),
    ],
)
def test_ord_status_maps_to_ours(ord_status, filled, status):
    assert wire.order_status(ord_status, filled, 2) is status


def test_an_order_reads_its_terms_from_its_newest_version_and_its_fills():
    versions = wire.latest_versions(
        [
            {"id": 1, "orderId": 5, "orderQty": 2, "orderType": "Limit", "price": Decimal(10)},
            {"id": 3, "orderId": 5, "orderQty": 3, "orderType": "Limit", "price": Decimal("10.5")},
        ]
    )
    fills = [
        {"orderId": 5, "qty": 1, "price": Decimal("10.25")},
        {"orderId": 5, "qty": 2, "price": Decimal("10.5")},
        {"orderId": 5, "qty": 5, "price": Decimal(1), "active": False},
    ]
    order = wire.broker_order(
        client_order_id="dp-5",
        order={"id": 5, "action": "Sell", "ordStatus": "Filled"},
        symbol="MESZ6",
        version=versions[5],
        fills=fills,
    )
    assert (order.qty, order.limit_price, order.side, order.status) == (
        3,
        Decimal("10.5"),
        Side.SELL,
        OrderStatus.FILLED,
    )
    assert (order.filled_qty, order.avg_fill_price) == (3, Decimal("10.416666667"))


def test_a_token_answer_is_parsed_and_a_renewal_keeps_what_it_leaves_out():
    first = wire.parse_token(
        {
            "accessToken": "secret-token-a",
            "mdAccessToken": "m",
            "expirationTime": "2026-11-21T16:20:00.123Z",
            "userId": 7,
            "name": "trader1",
            "hasLive": False,
        },
        NOW,
    )
    assert first.expires_at == datetime(2026, 11, 21, 16, 20, 0, 123000, tzinfo=UTC)
    renewed = wire.parse_token({"accessToken": "b"}, NOW, first)
    assert (renewed.access_token, renewed.md_access_token, renewed.user_id) == ("b", "m", 7)
    assert renewed.expires_at == NOW + timedelta(minutes=80)
    assert "secret-token-a" not in repr(first)


def test_a_refused_login_is_an_auth_error_in_tradovates_words():
    with pytest.raises(wire.LoginRefused) as caught:
        wire.parse_token({"errorText": "Incorrect username or password."}, NOW)
    assert caught.value.message == "Tradovate refused the login: Incorrect username or password."
    assert isinstance(caught.value, BrokerAuthError)
    with pytest.raises(wire.LoginRefused, match="user status TemporaryLocked"):
        wire.parse_token({"userStatus": "TemporaryLocked"}, NOW)


def test_penalty_tickets_are_recognised():
    assert wire.penalty_of({"orderId": 1}) is None
    assert wire.penalty_of({"p-ticket": "t", "p-time": 5}) == wire.PenaltyTicket("t", 5.0, False)
    assert wire.penalty_of({"p-captcha": True, "p-time": 3600}).captcha is True


def test_credentials_hide_their_secrets_and_name_what_is_missing():
    credentials = wire.Credentials.from_mapping(TRADOVATE_CREDENTIALS)
    shown = repr(credentials)
    assert TRADOVATE_CREDENTIALS["password"] not in shown
    assert TRADOVATE_CREDENTIALS["sec"] not in shown
    assert wire.token_request(credentials)["cid"] == 8123
    as_text = wire.Credentials.from_mapping({**TRADOVATE_CREDENTIALS, "cid": "8123"})
    assert wire.token_request(as_text)["cid"] == 8123
    with pytest.raises(wire.IncompleteCredentials) as caught:
        wire.Credentials.from_mapping({"username": "u", "password": "", "cid": 0})
    assert caught.value.missing == ["password", "app id", "sec (API secret)"]


def test_the_first_active_account_is_chosen_unless_one_is_named():
    accounts = [wire.AccountRef(1, "OLD", active=False), wire.AccountRef(2, "NEW")]
    assert wire.choose_account(accounts, None).id == 2
    assert wire.choose_account(accounts, "1").id == 1
    with pytest.raises(BrokerAuthError, match="sees no trading account"):
        wire.choose_account([], None)


def test_the_snapshot_gives_cash_and_equity():
    snapshot = wire.parse_snapshot(
        {"totalCashValue": Decimal("50000.5"), "netLiq": Decimal("50020.5"), "openPnL": 20}
    )
    state = wire.account_state(snapshot, snapshot.open_pnl)
    assert (state.cash, state.unrealized_pnl, state.equity, state.realized_pnl) == (
        Decimal("50000.5"),
        Decimal(20),
        Decimal("50020.5"),
        Decimal(0),
    )


def test_commands_map_our_clordids_to_order_ids():
    commands = [
        {"id": 1, "orderId": 10, "clOrdId": "dp-a", "commandType": "New"},
        {"id": 2, "orderId": 10, "clOrdId": "dp-a", "commandType": "Modify"},
        {"id": 3, "orderId": 11, "commandType": "New"},
    ]
    assert wire.new_order_ids(commands, ["dp-a", "dp-b"]) == {"dp-a": 10}
    assert wire.command_client_ids(commands, [10, 11]) == {10: "dp-a"}


def test_fill_fees_sum_the_non_null_amounts_exactly():
    # As the transport decodes it: JSON numbers as Decimals, so 0.1 + 0.2 is 0.3.
    answer = json.loads(
        '[{"id": 11, "clearingFee": 0.1, "exchangeFee": 0.2, "nfaFee": null, "commission": 0},'
        ' {"id": 12, "commission": 0.25, "exchangeFee": 0.35, "nfaFee": 0.02, "ipFee": null},'
        ' {"id": 13, "clearingFee": null},'
        ' {"id": 14, "commission": "n/a", "exchangeFee": 0.35}]',
        parse_float=Decimal,
    )
    fees = wire.fill_fees(answer)
    assert fees == {11: Decimal("0.3"), 12: Decimal("0.62"), 13: Decimal(0)}
    assert str(fees[12]) == "0.62"  # 14 has an amount that is no number: not known, not 0


def test_a_fill_carries_its_fees_or_none_while_they_are_not_posted():
    fill = {"id": 11, "orderId": 5, "action": "Sell", "qty": 2, "price": Decimal("5012.25")}
    assert wire.broker_fill(fill, "MESZ6", "dp-1", Decimal("1.24")).commission == Decimal("1.24")
    assert wire.broker_fill(fill, "MESZ6", None, None).commission is None
