"""Trading a Tradovate account through the Broker port, against the fake over real sockets."""

import json
import types
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.brokers.base import OrderRequest
from app.brokers.errors import BrokerError, OrderRejected, UnknownOrder
from app.brokers.tradovate import broker as tradovate_broker
from app.brokers.tradovate import market_data, wire
from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.extensions import db
from app.models import BrokerAccount, Position
from app.services.setup.access import broker_for
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front
from tests.fakes.tradovate_md import FakeMarketDataServer, heard_quotes  # noqa: F401 (heard)

FEES = {"commission": Decimal("0.25"), "exchangeFee": Decimal("0.35"), "nfaFee": Decimal("0.02")}

MARKET_DATA = tradovate_broker._market_data  # the fake_tradovate fixture turns it off


@pytest.fixture
def desk(app, api, make_account, make_strategy, fake_tradovate):
    """A Tradovate demo account with a trader on an MES strategy, and ways to look at it."""

    class Desk:
        fake = fake_tradovate
        account = make_account(
            "Tradovate demo", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS)
        )
        strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
        api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})

        def send(self, payload):
            response = api.client.post(
                f"/webhook/{self.strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.get_json()
            return response.get_json()

        def orders(self):
            items = api.get(f"/api/orders?account_id={self.account['id']}").get_json()["items"]
            return {o["role"]: o for o in reversed(items)}

        def broker(self):
            return broker_for(db.session.get(BrokerAccount, self.account["id"]))

    with app.app_context():
        yield Desk()


def request(client_order_id, side=Side.BUY, qty=1, order_type=OrderType.MARKET, **prices):
    return OrderRequest(client_order_id, front("MES"), side, qty, order_type, **prices)


def test_alert_places_a_bracket_through_placeoso_with_the_account_fields(desk):
    mes = front("MES")
    desk.fake.set_price(mes, "5000.25")
    answer = desk.send(
        {
            "action": "buy",
            "symbol": "MES1!",
            "quantity": 2,
            "price": "5000.25",
            "take_profit": {"ticks": 8},
            "stop_loss": {"ticks": 8},
        }
    )
    assert answer["status"] == "executed"
    [body] = desk.fake.bodies("order/placeoso")
    orders = desk.orders()
    assert body["symbol"] == mes and mes.startswith("MES") and len(mes) == 5
    assert body["accountSpec"] == "DEMO720001" and body["accountId"] == 720001
    assert body["orderQty"] == 2 and body["orderType"] == "Market" and body["action"] == "Buy"
    assert body["isAutomated"] is True
    assert body["clOrdId"] == orders["entry"]["client_order_id"]
    assert body["bracket1"] == {
        "action": "Sell",
        "orderType": "Limit",
        "clOrdId": orders["take_profit"]["client_order_id"],
        "price": 5002.25,
        "timeInForce": "GTC",
    }
    assert body["bracket2"]["orderType"] == "Stop" and body["bracket2"]["stopPrice"] == 4998.25
    assert orders["entry"]["status"] == "filled" and orders["entry"]["avg_fill_price"] == "5000.25"
    assert orders["take_profit"]["status"] == "working"
    assert orders["stop_loss"]["status"] == "working"
    for role in ("entry", "take_profit", "stop_loss"):
        row = orders[role]
        assert row["broker_order_id"] == str(desk.fake.order_for(row["client_order_id"])["id"])
    assert set(desk.fake.placed.values()) == {1}
    assert desk.fake.calls("order/placeorder") == []
    # The account's name is resolved once per process and kept by the adapter.
    assert desk.broker().broker_account() == wire.AccountRef(720001, "DEMO720001")
    assert len(desk.fake.calls("account/list")) == 1


def test_exits_move_to_the_entry_fill_with_modifyorder_carrying_qty_and_type(desk):
    mes = front("MES")
    desk.fake.set_price(mes, "5001.00")
    desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "price": "5000.00",
            "take_profit": {"ticks": 8},
            "stop_loss": {"ticks": 8},
        }
    )
    orders = desk.orders()
    assert orders["take_profit"]["limit_price"] == "5003"
    assert orders["stop_loss"]["stop_price"] == "4999"
    modifies = desk.fake.bodies("order/modifyorder")
    assert {m["orderType"] for m in modifies} == {"Limit", "Stop"}
    assert all(m["orderQty"] == 1 and m["isAutomated"] is True for m in modifies)
    assert desk.fake.order_for(orders["take_profit"]["client_order_id"])["price"] == Decimal(
        "5003.00"
    )


def test_a_market_alert_without_exits_is_one_placeorder(desk):
    answer = desk.send({"action": "sell", "quantity": 3})
    [body] = desk.fake.bodies("order/placeorder")
    assert body["action"] == "Sell" and body["orderQty"] == 3 and body["symbol"] == front("MES")
    assert body["isAutomated"] is True and body["accountId"] == 720001
    assert "price" not in body and "stopPrice" not in body
    # No price at the fake yet: the order is working there, not filled.
    assert answer["orders"][0]["status"] == "working"
    desk.fake.set_price(front("MES"), "4990")
    [position] = desk.broker().positions()
    assert (position.symbol, position.qty, position.avg_price) == (front("MES"), -3, Decimal(4990))


def test_take_profit_fill_cancels_the_stop_and_fills_read_back_with_our_ids(desk):
    mes = front("MES")
    desk.fake.set_price(mes, "5000")
    since = datetime.now(UTC) - timedelta(seconds=5)
    desk.send(
        {
            "action": "buy",
            "quantity": 1,
            "price": "5000",
            "take_profit": {"ticks": 4},
            "stop_loss": {"ticks": 4},
        }
    )
    desk.fake.set_price(mes, "5001.25")
    broker = desk.broker()
    assert broker.positions() == []
    assert broker.working_orders() == []
    orders = desk.orders()
    assert desk.fake.order_for(orders["stop_loss"]["client_order_id"])["ordStatus"] == "Canceled"
    fills = broker.fills_since(since)
    assert [(f.client_order_id, f.side, f.qty, f.price) for f in fills] == [
        (orders["entry"]["client_order_id"], Side.BUY, 1, Decimal(5000)),
        (orders["take_profit"]["client_order_id"], Side.SELL, 1, Decimal("5001.25")),
    ]
    assert all(f.broker_fill_id and f.symbol == mes for f in fills)
    assert broker.fills_since(datetime.now(UTC) + timedelta(minutes=1)) == []


def test_fills_carry_tradovates_fees_summed_exactly(desk):
    mes = front("MES")
    desk.fake.fees = dict(FEES)
    desk.fake.set_price(mes, "5000")
    since = datetime.now(UTC) - timedelta(seconds=5)
    broker = desk.broker()
    broker.place_order(request("dp-fee-1"))
    broker.place_order(request("dp-fee-2", side=Side.SELL, qty=3))
    fills = broker.fills_since(since)
    assert [(f.client_order_id, f.qty, f.commission) for f in fills] == [
        ("dp-fee-1", 1, Decimal("0.62")),  # 0.25 + 0.35 + 0.02 per side and contract
        ("dp-fee-2", 3, Decimal("1.86")),
    ]
    assert all(type(f.commission) is Decimal for f in fills)
    [read] = desk.fake.calls("fillFee/items")  # one read for the batch
    assert sorted(read.query["ids"].split(",")) == sorted(f.broker_fill_id for f in fills)


def test_fees_not_posted_yet_read_none_and_a_later_read_has_them(desk):
    mes = front("MES")
    desk.fake.fees = dict(FEES)
    desk.fake.hold_fees = True
    desk.fake.set_price(mes, "5000")
    since = datetime.now(UTC) - timedelta(seconds=5)
    broker = desk.broker()
    broker.place_order(request("dp-fee-3", qty=2))
    [fill] = broker.fills_since(since)
    assert (fill.client_order_id, fill.qty, fill.commission) == ("dp-fee-3", 2, None)
    desk.fake.post_fees()
    [fill] = broker.fills_since(since)
    assert fill.commission == Decimal("1.24")
    # Tradovate failing the fee read leaves the fees unknown, never the fills unread.
    desk.fake.fail_next("fillFee/items", status=503, times=3)
    [fill] = broker.fills_since(since)
    assert (fill.client_order_id, fill.commission) == ("dp-fee-3", None)


def test_working_orders_read_terms_from_versions_and_map_ids_back_to_ours(desk):
    mes = front("MES")
    broker = desk.broker()
    broker.place_order(
        request("dp-lim-1", qty=2, order_type=OrderType.LIMIT, limit_price=Decimal("4990.5"))
    )
    foreign = desk.fake.seed_order(
        720001, mes, action="Sell", orderQty=1, orderType="Stop", stopPrice=Decimal(4980)
    )
    by_id = {o.client_order_id: o for o in broker.working_orders()}
    assert set(by_id) == {"dp-lim-1", f"tradovate-{foreign}"}
    mine = by_id["dp-lim-1"]
    assert (mine.qty, mine.order_type, mine.limit_price, mine.symbol, mine.side) == (
        2,
        OrderType.LIMIT,
        Decimal("4990.5"),
        mes,
        Side.BUY,
    )
    theirs = by_id[f"tradovate-{foreign}"]
    assert (theirs.order_type, theirs.stop_price, theirs.side) == (
        OrderType.STOP,
        Decimal(4980),
        Side.SELL,
    )
    # Ours was known since it was placed; the foreign one was looked up once, and is
    # remembered as foreign.
    assert len(desk.fake.calls("command/list")) == 1
    broker.working_orders()
    assert len(desk.fake.calls("command/list")) == 1


def test_after_a_restart_our_orders_are_found_by_their_commands(desk):
    mes = front("MES")
    desk.broker().place_order(
        request("dp-lim-2", order_type=OrderType.LIMIT, limit_price=Decimal("4990.5"))
    )
    foreign = desk.fake.seed_order(720001, mes, action="Buy", orderQty=1, orderType="Market")
    desk.fake.set_price(mes, "4990.25")  # both fill
    tradovate_broker.DIRECTORY.clear()  # a new process: it has met no order yet
    broker = desk.broker()
    fills = broker.fills_since(datetime.now(UTC) - timedelta(minutes=1))
    assert {(f.client_order_id, f.broker_order_id) for f in fills} == {
        ("dp-lim-2", str(desk.fake.order_for("dp-lim-2")["id"])),
        (None, str(foreign)),
    }
    assert len(desk.fake.calls("command/list")) == 1
    broker.fills_since(datetime.now(UTC) - timedelta(minutes=1))
    assert len(desk.fake.calls("command/list")) == 1


def test_cancel_and_modify_find_our_order_after_a_restart(desk):
    placed = desk.broker().place_order(
        request(
            "dp-rest-9",
            side=Side.SELL,
            qty=2,
            order_type=OrderType.LIMIT,
            limit_price=Decimal(5100),
        )
    )
    tradovate_broker.DIRECTORY.clear()
    moved = desk.broker().modify_order("dp-rest-9", limit_price=Decimal("5101.25"))
    assert (moved.client_order_id, moved.broker_order_id) == ("dp-rest-9", placed.broker_order_id)
    assert (moved.limit_price, moved.qty) == (Decimal("5101.25"), 2)
    assert len(desk.fake.calls("command/list")) == 1
    cancelled = desk.broker().cancel_order("dp-rest-9")
    assert cancelled.status is OrderStatus.CANCELLED
    assert desk.fake.bodies("order/cancelorder") == [
        {"orderId": int(placed.broker_order_id), "isAutomated": True}
    ]
    assert len(desk.fake.calls("command/list")) == 1  # remembered since
    with pytest.raises(UnknownOrder, match="holds no order dp-never-sent"):
        desk.broker().cancel_order("dp-never-sent")


def test_rejection_text_reaches_the_order_row(desk):
    desk.fake.reject_next("order/placeorder", "UnknownReason", "Access is denied")
    answer = desk.send({"action": "buy", "quantity": 1})
    assert answer["status"] == "failed"
    [order] = answer["orders"]
    assert order["status"] == "rejected"
    assert order["reason"] == "Tradovate: Access is denied (UnknownReason)"


def test_a_refused_bracket_rejects_all_three_rows(desk):
    desk.fake.set_price(front("MES"), "5000")
    desk.fake.reject_next("order/placeoso", "MaxPosLimitReached", "Position limit reached")
    desk.send({"action": "buy", "quantity": 1, "price": "5000", "take_profit": {"ticks": 4}})
    orders = desk.orders()
    assert {o["status"] for o in orders.values()} == {"rejected"}
    assert "Position limit reached" in orders["entry"]["reason"]


def test_another_account_is_chosen_by_its_tradovate_id(app, api, make_account, fake_tradovate):
    account = make_account(
        "Second",
        broker="tradovate",
        credentials=dict(TRADOVATE_CREDENTIALS),
        broker_account_id="720002",
    )
    first = make_account("First", broker="tradovate", credentials=dict(TRADOVATE_CREDENTIALS))
    with app.app_context():
        broker = broker_for(db.session.get(BrokerAccount, account["id"]))
        broker.place_order(
            request("dp-second-1", order_type=OrderType.LIMIT, limit_price=Decimal(4900))
        )
        other = broker_for(db.session.get(BrokerAccount, first["id"]))
        # The same login trades 720001 too: its adapter must not touch 720002's order.
        with pytest.raises(UnknownOrder, match="belongs to another Tradovate account"):
            other.cancel_order("dp-second-1")
    [body] = fake_tradovate.bodies("order/placeorder")
    assert (body["accountId"], body["accountSpec"]) == (720002, "DEMO720002")
    assert fake_tradovate.calls("order/cancelorder") == []


def test_manual_limit_order_cancel_and_price_only_modify(desk, api):
    created = api.post(
        "/api/orders",
        {
            "account_id": desk.account["id"],
            "symbol": "MES1!",
            "side": "buy",
            "qty": 2,
            "order_type": "limit",
            "limit_price": "4950.00",
        },
    )
    assert created.status_code == 201, created.get_json()
    order = created.get_json()[0] if isinstance(created.get_json(), list) else created.get_json()
    answer = desk.broker().modify_order(order["client_order_id"], limit_price=Decimal("4951.25"))
    [modify] = desk.fake.bodies("order/modifyorder")
    assert modify == {
        "orderId": int(order["broker_order_id"]),
        "orderQty": 2,
        "orderType": "Limit",
        "price": 4951.25,
        "isAutomated": True,
    }
    assert answer.limit_price == Decimal("4951.25") and answer.qty == 2
    cancelled = api.delete(f"/api/orders/{order['id']}")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert desk.fake.bodies("order/cancelorder") == [
        {"orderId": int(order["broker_order_id"]), "isAutomated": True}
    ]
    with pytest.raises(UnknownOrder):
        desk.broker().cancel_order(order["client_order_id"])
    with pytest.raises(UnknownOrder):
        desk.broker().modify_order(order["client_order_id"], qty=1)


def test_modify_refuses_a_price_the_order_type_does_not_have(desk):
    broker = desk.broker()
    broker.place_order(
        request("dp-stop-1", side=Side.SELL, order_type=OrderType.STOP, stop_price=Decimal(4900))
    )
    with pytest.raises(OrderRejected, match="no limit price"):
        broker.modify_order("dp-stop-1", limit_price=Decimal(4901))
    assert desk.fake.calls("order/modifyorder") == []


def test_oco_pair_goes_through_placeoco_and_one_fill_cancels_the_other(desk):
    broker = desk.broker()
    mes = front("MES")
    desk.fake.set_price(mes, "5000")
    broker.place_order(request("dp-open-1", qty=1))
    take, stop = broker.place_oco(
        request("dp-tp-1", side=Side.SELL, order_type=OrderType.LIMIT, limit_price=Decimal(5010)),
        request("dp-sl-1", side=Side.SELL, order_type=OrderType.STOP, stop_price=Decimal(4990)),
    )
    [body] = desk.fake.bodies("order/placeoco")
    assert body["other"] == {
        "action": "Sell",
        "orderType": "Stop",
        "clOrdId": "dp-sl-1",
        "stopPrice": 4990,
        "timeInForce": "GTC",
    }
    assert body["clOrdId"] == "dp-tp-1" and body["orderType"] == "Limit" and body["price"] == 5010
    assert take.status is OrderStatus.WORKING and stop.status is OrderStatus.WORKING
    desk.fake.set_price(mes, "4989.75")
    assert desk.fake.order_for("dp-tp-1")["ordStatus"] == "Canceled"
    assert desk.fake.order_for("dp-sl-1")["ordStatus"] == "Filled"
    assert broker.positions() == []


def test_oco_legs_must_share_symbol_and_size(desk):
    with pytest.raises(OrderRejected, match="same symbol and size"):
        desk.broker().place_oco(
            request("a", side=Side.SELL, qty=1, order_type=OrderType.LIMIT, limit_price=Decimal(1)),
            request("b", side=Side.SELL, qty=2, order_type=OrderType.STOP, stop_price=Decimal(1)),
        )
    assert desk.fake.calls("order/placeoco") == []


def test_flatten_liquidates_the_position_and_a_flat_symbol_answers_none(desk):
    mes = front("MES")
    desk.fake.seed_position(720001, mes, 2, "5000")
    desk.fake.set_price(mes, "5002")
    broker = desk.broker()
    resting = broker.place_order(
        request("dp-rest-1", side=Side.SELL, order_type=OrderType.LIMIT, limit_price=Decimal(5100))
    )
    closing = broker.flatten(mes, "dp-flat-1")
    [body] = desk.fake.bodies("order/liquidateposition")
    contract_id = desk.fake.contracts[mes]["id"]
    assert body == {
        "accountId": 720001,
        "contractId": contract_id,
        "admin": False,
        "isAutomated": True,
    }
    assert (closing.side, closing.qty, closing.status) == (Side.SELL, 2, OrderStatus.FILLED)
    assert closing.client_order_id == "dp-flat-1" and closing.avg_fill_price == Decimal(5002)
    assert desk.fake.orders[int(resting.broker_order_id)]["ordStatus"] == "Canceled"
    assert broker.positions() == []
    late = broker.place_order(
        request("dp-rest-2", side=Side.SELL, order_type=OrderType.LIMIT, limit_price=Decimal(5100))
    )
    assert broker.flatten(mes, "dp-flat-2") is None
    assert len(desk.fake.calls("order/liquidateposition")) == 1
    assert desk.fake.orders[int(late.broker_order_id)]["ordStatus"] == "Canceled"


def test_account_state_comes_from_the_cash_balance_snapshot(desk):
    mes = front("MES")
    desk.fake.seed_position(720001, mes, 1, "5000")
    desk.fake.set_price(mes, "5004")
    state = desk.broker().account_state()
    assert state.cash == Decimal(50000) and state.unrealized_pnl == Decimal(20)
    assert state.equity == Decimal(50020) and state.realized_pnl == Decimal(0)
    assert desk.fake.bodies("cashBalance/getcashbalancesnapshot") == [{"accountId": 720001}]


def test_contract_terms_come_from_the_product_and_are_cached(desk):
    broker = desk.broker()
    contract = broker.contracts.get(front("MES"))
    assert (contract.tick_size, contract.point_value) == (Decimal("0.25"), Decimal(5))
    broker.contracts.get(front("MES"))
    assert len(desk.fake.calls("contract/find")) == 1
    assert len(desk.fake.calls("product/find")) == 1
    assert broker.contracts.id_or_none("ZZZZ9") is None


def test_contract_terms_fall_back_to_the_built_in_table(desk):
    desk.fake.fail_next("product/find", status=404)
    contract = desk.broker().contracts.get(front("NQ"))
    assert (contract.tick_size, contract.point_value) == (Decimal("0.25"), Decimal(20))
    desk.fake.fail_next("product/find", status=503, times=3)
    contracts = desk.broker().contracts
    assert contracts.get(front("ES")).point_value == Decimal(50)  # our table, for now
    contracts.get(front("ES"))  # Tradovate is asked again: the table only stood in
    assert len(desk.fake.calls("product/find")) == 5


def test_a_second_place_for_the_same_order_sends_nothing(desk, app):
    desk.send({"action": "buy", "quantity": 1})
    entry = desk.orders()["entry"]
    again = desk.broker().place_order(
        OrderRequest(entry["client_order_id"], entry["symbol"], Side.BUY, 1, OrderType.MARKET)
    )
    assert again.broker_order_id == entry["broker_order_id"]
    assert len(desk.fake.calls("order/placeorder")) == 1


def test_quotes_are_asked_of_market_data_when_it_is_built_in(desk, monkeypatch):
    seen = []
    module = types.SimpleNamespace(
        register=lambda **hooks: seen.append(("register", sorted(hooks))),
        subscribe=lambda account, symbol: seen.append(("subscribe", account.account_id, symbol)),
    )
    monkeypatch.setattr(tradovate_broker, "_market_data", lambda: module)
    desk.send({"action": "buy", "quantity": 1})
    assert seen == [
        ("register", ["contract_id_lookup", "token_provider"]),
        ("subscribe", desk.account["id"], front("MES")),
    ]


def test_a_market_data_failure_never_stops_the_order(desk, monkeypatch):
    def broken(account, symbol):
        raise RuntimeError("socket down")

    module = types.SimpleNamespace(subscribe=broken)
    monkeypatch.setattr(tradovate_broker, "_market_data", lambda: module)
    answer = desk.send({"action": "buy", "quantity": 1})
    assert answer["status"] == "executed"


def test_market_data_module_absence_is_tolerated(monkeypatch):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(tradovate_broker.importlib, "import_module", missing)
    assert tradovate_broker._market_data() is None


def test_the_position_poller_mirrors_a_bracket_exit_from_tradovate(desk, app, api):
    mes = front("MES")
    desk.fake.fees = dict(FEES)
    desk.fake.set_price(mes, "5000")
    desk.send(
        {
            "action": "buy",
            "quantity": 2,
            "price": "5000",
            "take_profit": {"ticks": 8},
            "stop_loss": {"ticks": 8},
        }
    )
    assert poll_accounts(app, datetime.now(UTC)) == {}
    [position] = api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"]
    assert (position["symbol"], position["qty"], position["avg_price"]) == (mes, 2, "5000")
    desk.fake.set_price(mes, "5002.50")
    assert poll_accounts(app, datetime.now(UTC)) == {}
    orders = desk.orders()
    assert orders["take_profit"]["status"] == "filled"
    assert orders["stop_loss"]["status"] == "cancelled"
    [trade] = api.get(f"/api/trades?account_id={desk.account['id']}").get_json()["items"]
    assert (trade["exit_reason"], trade["qty"], trade["exit_price"]) == ("take_profit", 2, "5002.5")
    assert trade["gross_pnl"] == "25.00"  # 2.5 points x $5 x 2
    assert trade["commission"] == "2.48"  # Tradovate's fees: 0.62 per contract and side
    assert trade["pnl"] == "22.52"
    assert api.get(f"/api/positions?account_id={desk.account['id']}").get_json()["items"] == []


def test_an_answer_in_an_unexpected_shape_is_a_broker_error(desk):
    desk.fake.positions[(720001, 1)] = {"accountId": 720001, "netPos": 1}  # no contractId
    with pytest.raises(BrokerError, match="answer to positions could not be read"):
        desk.broker().positions()


def test_an_alert_starts_market_data_on_the_rest_session_token(desk, app, monkeypatch, heard):
    mes = front("MES")
    feed = FakeMarketDataServer(token="md-token-from-rest").start()
    desk.fake.md_token = "md-token-from-rest"
    app.config["TRADOVATE_MD_URL"] = feed.url
    monkeypatch.setattr(tradovate_broker, "_market_data", MARKET_DATA)
    try:
        desk.send({"action": "buy", "quantity": 1})
        contract_id = desk.fake.contracts[mes]["id"]
        assert feed.wait_for(lambda: feed.subscribed(contract_id))
        assert desk.broker().last_price(mes) is None
        feed.push_quote(contract_id, trade="5001.25")
        assert feed.wait_for(lambda: desk.broker().last_price(mes) == Decimal("5001.25"))
        assert [(symbol, price, source) for symbol, price, _, source in heard] == [
            (mes, Decimal("5001.25"), "tradovate")
        ]
    finally:
        market_data.shutdown()
        feed.stop()


def test_manual_order_and_close_with_a_failing_login_are_4xx_with_the_reason(
    app, api, make_account, fake_tradovate
):
    """Bad credentials must never surface as a 500: the order is recorded as failed."""
    account = make_account(
        "Wrong password",
        broker="tradovate",
        credentials={**TRADOVATE_CREDENTIALS, "password": "not-the-password"},
    )
    response = api.post(
        "/api/orders",
        {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1},
    )
    assert response.status_code == 201, response.get_json()
    placed = response.get_json()
    assert placed["status"] == "failed"
    assert placed["reason"]
    with app.app_context():
        db.session.add(Position(account_id=account["id"], symbol=front("MES"), quantity=1))
        db.session.commit()
        position_id = db.session.query(Position).one().id
    closing = api.post(f"/api/positions/{position_id}/close")
    assert closing.status_code == 409
    assert closing.get_json()["error"]["code"] == "broker_error"


def _positions_unreadable(desk):
    desk.broker().positions()  # signed in: only the read of the position fails
    desk.fake.fail_next("position/list", status=502, times=3)


def _stored_event(api, event_id):
    return api.get(f"/api/webhook-events/{event_id}").get_json()


def test_a_sell_alert_on_an_unreadable_account_records_that_sell_as_failed(desk, api):
    _positions_unreadable(desk)
    answer = desk.send({"action": "sell", "quantity": 2})
    assert answer["status"] == "failed"
    [order] = answer["orders"]
    assert (order["side"], order["qty"], order["status"]) == ("sell", 2, "failed")
    assert "could not read" in order["reason"] and "HTTP 502" in order["reason"]
    assert "nothing was sent" in answer["reason"]
    event = _stored_event(api, answer["event_id"])
    assert event["status"] == "failed" and "HTTP 502" in event["reason"]
    assert desk.fake.calls("order/placeorder") == [] and not desk.fake.placed


def test_an_exit_alert_on_an_unreadable_account_invents_no_order(desk, api):
    _positions_unreadable(desk)
    answer = desk.send({"action": "exit"})
    assert answer["status"] == "failed" and answer["orders"] == []
    assert "could not read" in answer["reason"] and "HTTP 502" in answer["reason"]
    assert "Tradovate demo" in answer["reason"]  # which account failed
    event = _stored_event(api, answer["event_id"])
    assert event["status"] == "failed" and event["reason"] == answer["reason"]
    assert desk.orders() == {}
    assert desk.fake.calls("order/placeorder") == [] and not desk.fake.placed


def test_a_cancel_alert_on_an_unreadable_account_fails_with_the_reason(desk, api):
    _positions_unreadable(desk)
    answer = desk.send({"action": "cancel"})
    assert answer["status"] == "failed" and answer["orders"] == []
    assert "could not read" in answer["reason"] and "HTTP 502" in answer["reason"]


def test_a_manual_sell_on_an_unreadable_account_fails_as_that_sell(desk, api):
    _positions_unreadable(desk)
    response = api.post(
        "/api/orders",
        {"account_id": desk.account["id"], "symbol": "MES1!", "side": "sell", "qty": 3},
    )
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert (order["side"], order["qty"], order["status"]) == ("sell", 3, "failed")
    assert "could not read" in order["reason"] and "HTTP 502" in order["reason"]
    assert not desk.fake.placed
