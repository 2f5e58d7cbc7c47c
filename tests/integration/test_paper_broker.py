"""The paper broker: orders, fills, positions, trades and cash in the database, and restarts."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.brokers.base import BracketRequest, BrokerOrder, OrderRequest
from app.brokers.errors import OrderRejected, TemporaryBrokerError, UnknownOrder
from app.brokers.paper.broker import PaperBroker, reset_venues
from app.domain.vocabulary import OrderRole, OrderStatus, OrderType, Side
from app.extensions import db
from app.models import AuditEntry, BrokerAccount, Fill, Order, Position, Trade
from app.services.market import prices
from app.services.trading.orders import request_of

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT, STOP = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP


class Clock:
    """The desk's time: it stands at the latest print, as a live market's would."""

    now = T0

    @classmethod
    def read(cls) -> datetime:
        return cls.now


class Desk:
    """One paper account driven the way the execution service drives it."""

    def __init__(self, account_id: int, strategy_id: int | None = None) -> None:
        self.account_id = account_id
        self.strategy_id = strategy_id
        self.broker = PaperBroker(account_id, D("10000.00"), clock=Clock.read)
        self.count = 0

    def request(
        self,
        side: Side,
        qty: int,
        order_type: OrderType = MARKET,
        *,
        symbol: str = "ESZ6",
        role: OrderRole = OrderRole.ENTRY,
        group: str | None = None,
        limit: str | None = None,
        stop: str | None = None,
    ) -> OrderRequest:
        """Insert and commit a pending order row, as the caller does before a broker call."""
        self.count += 1
        client_order_id = f"a{self.account_id}-{self.count}"
        limit_price = None if limit is None else D(limit)
        stop_price = None if stop is None else D(stop)
        row = Order(
            account_id=self.account_id,
            strategy_id=self.strategy_id,
            client_order_id=client_order_id,
            symbol=symbol,
            side=side.value,
            quantity=qty,
            order_type=order_type.value,
            limit_price=limit_price,
            stop_price=stop_price,
            role=role.value,
            group_id=group,
            status=OrderStatus.PENDING.value,
        )
        db.session.add(row)
        db.session.commit()
        return request_of(row)

    def bracket(
        self,
        side: Side,
        qty: int,
        *,
        take_profit: str | None,
        stop_loss: str | None,
        symbol: str = "ESZ6",
        entry_type: OrderType = MARKET,
        limit: str | None = None,
    ) -> BracketRequest:
        group = f"g{self.account_id}-{self.count + 1}"
        closing = SELL if side is BUY else BUY
        entry = self.request(side, qty, entry_type, symbol=symbol, group=group, limit=limit)
        tp = sl = None
        if take_profit is not None:
            tp = self.request(
                closing,
                qty,
                LIMIT,
                symbol=symbol,
                role=OrderRole.TAKE_PROFIT,
                group=group,
                limit=take_profit,
            )
        if stop_loss is not None:
            sl = self.request(
                closing,
                qty,
                STOP,
                symbol=symbol,
                role=OrderRole.STOP_LOSS,
                group=group,
                stop=stop_loss,
            )
        return BracketRequest(entry, tp, sl)

    def row(self, request: OrderRequest | str) -> Order:
        client_order_id = request if isinstance(request, str) else request.client_order_id
        return db.session.scalar(select(Order).where(Order.client_order_id == client_order_id))

    def position(self, symbol: str = "ESZ6") -> Position | None:
        return db.session.scalar(
            select(Position).where(
                Position.account_id == self.account_id, Position.symbol == symbol
            )
        )

    def trades(self) -> list[Trade]:
        query = select(Trade).where(Trade.account_id == self.account_id).order_by(Trade.id)
        return list(db.session.scalars(query))

    def fills(self) -> list[Fill]:
        query = select(Fill).where(Fill.account_id == self.account_id).order_by(Fill.id)
        return list(db.session.scalars(query))

    def cash(self) -> D:
        account = db.session.get(BrokerAccount, self.account_id)
        db.session.refresh(account)
        return account.cash_balance


def tick(symbol: str, price: str, seconds: int) -> None:
    Clock.now = T0 + timedelta(seconds=seconds)
    prices.update(symbol, D(price), Clock.now, "test")


@pytest.fixture
def paper(app, make_account, make_strategy):
    """A $10,000 paper account; commission and slippage are set per test before first use."""
    account = make_account("Paper", starting_balance="10000.00")
    strategy = make_strategy("ES trend")
    prices.clear()
    with app.app_context():
        app.config["PAPER_COMMISSION_PER_CONTRACT"] = "0"
        app.config["PAPER_SLIPPAGE_TICKS"] = 0
        reset_venues()
        yield Desk(account["id"], strategy["id"])
        db.session.rollback()
    prices.clear()


def configure(app, *, commission: str = "0", slippage: int = 0) -> None:
    app.config["PAPER_COMMISSION_PER_CONTRACT"] = commission
    app.config["PAPER_SLIPPAGE_TICKS"] = slippage
    reset_venues()


# Market, limit and stop orders.


def test_market_buy_fills_at_the_cached_price_plus_slippage_and_books_it(app, paper):
    configure(app, commission="1.25", slippage=1)
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 2)
    answer = paper.broker.place_order(request)
    assert answer == BrokerOrder(
        client_order_id=request.client_order_id,
        broker_order_id=f"paper-{request.client_order_id}",
        symbol="ESZ6",
        side=BUY,
        qty=2,
        order_type=MARKET,
        status=OrderStatus.FILLED,
        filled_qty=2,
        avg_fill_price=D("6000.25"),
    )
    row = paper.row(request)
    assert (row.status, row.filled_quantity, row.avg_fill_price) == ("filled", 2, D("6000.25"))
    assert row.broker_order_id == f"paper-{request.client_order_id}"
    (fill,) = paper.fills()
    assert (fill.order_id, fill.broker_fill_id) == (row.id, f"{request.client_order_id}-1")
    assert (fill.side, fill.quantity, fill.price, fill.commission) == (
        "buy",
        2,
        D("6000.25"),
        D(2.5),
    )
    position = paper.position()
    assert (position.quantity, position.avg_price, position.realized_pnl) == (2, D("6000.25"), 0)
    assert position.strategy_id == paper.strategy_id and position.opened_at is not None
    assert paper.cash() == D("9997.50")
    audit = db.session.scalars(select(AuditEntry).where(AuditEntry.category == "order")).all()
    assert [entry.message for entry in audit] == ["ESZ6 buy 2 @ 6000.25 filled (entry)"]


def test_an_alert_price_published_before_the_order_is_the_price_it_meets(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(SELL, 1)
    tick("ESZ6", "6003.10", 1)  # an alert's price, off the tick grid
    answer = paper.broker.place_order(request)
    assert answer.avg_fill_price == D("6003.00")  # a sell rounds down onto the grid


def test_limit_and_stop_orders_rest_as_working_and_fill_when_the_price_reaches_them(paper):
    tick("ESZ6", "6000", 0)
    limit = paper.request(BUY, 1, LIMIT, limit="5995")
    stop = paper.request(BUY, 1, STOP, stop="6005")
    assert paper.broker.place_order(limit).status is OrderStatus.WORKING
    assert paper.broker.place_order(stop).status is OrderStatus.WORKING
    assert paper.row(limit).status == paper.row(stop).status == "working"
    assert {o.client_order_id for o in paper.broker.working_orders()} == {
        limit.client_order_id,
        stop.client_order_id,
    }
    tick("ESZ6", "5994", 1)
    assert (paper.row(limit).status, paper.row(limit).avg_fill_price) == ("filled", D(5995))
    assert paper.row(stop).status == "working"
    tick("ESZ6", "6005.50", 2)
    assert (paper.row(stop).status, paper.row(stop).avg_fill_price) == ("filled", D("6005.50"))
    assert paper.row(stop).reason == "stop triggered at 6005.5"
    assert paper.position().quantity == 2
    assert paper.broker.working_orders() == []


def test_a_price_reaches_the_orders_of_every_paper_account(app, paper, make_account):
    other = Desk(make_account("Paper 2", starting_balance="5000")["id"])
    tick("ESZ6", "6000", 0)
    mine = paper.request(BUY, 1, LIMIT, limit="5990")
    theirs = other.request(SELL, 1, LIMIT, limit="6010")
    paper.broker.place_order(mine)
    other.broker.place_order(theirs)
    tick("ESZ6", "5990", 1)
    tick("ESZ6", "6010", 2)
    assert paper.row(mine).status == other.row(theirs).status == "filled"


def test_a_price_published_by_a_thread_without_app_context_fills_paper_orders(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1, LIMIT, limit="5990")
    paper.broker.place_order(request)

    thread = threading.Thread(target=tick, args=("ESZ6", "5989.75", 1))
    thread.start()
    thread.join()
    row = paper.row(request)
    db.session.refresh(row)
    assert (row.status, row.avg_fill_price) == ("filled", D(5990))


# Brackets and P&L.


@pytest.mark.parametrize(
    ("symbol", "entry", "take_profit", "stop_loss", "qty", "gross", "commission"),
    [
        ("ESZ6", "6000", "6010.25", "5990", 2, "1025.00", "9.00"),  # $50 a point
        ("MESZ6", "6000", "6003.25", "5990", 3, "48.75", "13.50"),  # $5
        ("NQZ6", "21000", "21012.75", "20990", 1, "255.00", "4.50"),  # $20
        ("CLF7", "70.00", "70.37", "69.50", 2, "740.00", "9.00"),  # $1000
        ("GCG7", "2700.0", "2710.3", "2690.0", 1, "1030.00", "4.50"),  # $100
    ],
)
def test_a_bracket_take_profit_closes_one_trade_exact_to_the_cent(
    app, paper, symbol, entry, take_profit, stop_loss, qty, gross, commission
):
    configure(app, commission="2.25")
    tick(symbol, entry, 0)
    request = paper.bracket(BUY, qty, take_profit=take_profit, stop_loss=stop_loss, symbol=symbol)
    entry_order, tp_order, sl_order = paper.broker.place_bracket(request)
    assert entry_order.status is OrderStatus.FILLED
    assert tp_order.status is sl_order.status is OrderStatus.WORKING
    assert paper.row(request.take_profit).status == paper.row(request.stop_loss).status == "working"
    tick(symbol, take_profit, 1)
    assert paper.row(request.take_profit).status == "filled"
    sl_row = paper.row(request.stop_loss)
    assert (sl_row.status, sl_row.reason) == (
        "cancelled",
        f"OCO: {request.take_profit.client_order_id} filled",
    )
    (trade,) = paper.trades()
    assert (trade.symbol, trade.side, trade.quantity, trade.exit_reason) == (
        symbol,
        "long",
        qty,
        "take_profit",
    )
    assert (trade.entry_price, trade.exit_price) == (D(entry), D(take_profit))
    assert (trade.gross_pnl, trade.commission) == (D(gross), D(commission))
    assert trade.pnl == D(gross) - D(commission)
    assert trade.strategy_id == paper.strategy_id
    assert trade.entry_time == T0 and trade.exit_time == T0 + timedelta(seconds=1)
    assert paper.cash() == D(10000) + D(gross) - D(commission)
    assert paper.position(symbol).quantity == 0 and paper.position(symbol).avg_price is None


def test_a_short_bracket_stopped_out_records_a_losing_short_trade(app, paper):
    configure(app, commission="1.00", slippage=1)
    tick("MESZ6", "6000", 0)
    request = paper.bracket(SELL, 2, take_profit="5980", stop_loss="6008", symbol="MESZ6")
    entry, *_ = paper.broker.place_bracket(request)
    assert entry.avg_fill_price == D("5999.75")
    tick("MESZ6", "6008", 1)
    (trade,) = paper.trades()
    assert (trade.side, trade.exit_reason, trade.exit_price) == ("short", "stop_loss", D("6008.25"))
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D("-85"), D(4), D("-89"))
    assert paper.row(request.take_profit).status == "cancelled"


def test_a_gap_through_a_stop_loss_fills_at_the_gap_price(paper):
    tick("ESZ6", "6000", 0)
    request = paper.bracket(BUY, 1, take_profit="6010", stop_loss="5990")
    paper.broker.place_bracket(request)
    tick("ESZ6", "5984.50", 1)
    assert paper.row(request.stop_loss).avg_fill_price == D("5984.50")
    (trade,) = paper.trades()
    assert (trade.exit_price, trade.gross_pnl, trade.exit_reason) == (
        D("5984.50"),
        D("-775"),
        "stop_loss",
    )


def test_held_bracket_exits_are_pending_at_the_venue_until_the_limit_entry_fills(paper):
    tick("ESZ6", "6000", 0)
    request = paper.bracket(
        BUY, 1, take_profit="6010", stop_loss="5985", entry_type=LIMIT, limit="5995"
    )
    entry, tp, sl = paper.broker.place_bracket(request)
    assert (entry.status, tp.status, sl.status) == (
        OrderStatus.WORKING,
        OrderStatus.PENDING,
        OrderStatus.PENDING,
    )
    held = paper.row(request.stop_loss)
    assert (held.status, held.broker_order_id) == ("pending", f"paper-{sl.client_order_id}")
    tick("ESZ6", "5995", 1)
    assert paper.row(request.take_profit).status == paper.row(request.stop_loss).status == "working"


def test_a_stop_loss_only_bracket_protects_the_position(paper):
    tick("ESZ6", "6000", 0)
    request = paper.bracket(BUY, 1, take_profit=None, stop_loss="5990")
    entry, stop = paper.broker.place_bracket(request)
    assert (entry.status, stop.status) == (OrderStatus.FILLED, OrderStatus.WORKING)
    tick("ESZ6", "5990", 1)
    assert paper.trades()[0].exit_reason == "stop_loss"


def test_a_bracket_whose_exit_is_not_a_limit_for_the_size_is_rejected_whole(paper):
    tick("ESZ6", "6000", 0)
    request = paper.bracket(BUY, 2, take_profit="6010", stop_loss="5990")
    wrong = BracketRequest(
        request.entry,
        OrderRequest(request.take_profit.client_order_id, "ESZ6", SELL, 1, LIMIT, D(6010)),
        request.stop_loss,
    )
    with pytest.raises(OrderRejected, match="must sell 2 ESZ6, the entry's size"):
        paper.broker.place_bracket(wrong)
    rows = [paper.row(r) for r in (request.entry, request.take_profit, request.stop_loss)]
    assert [row.status for row in rows] == ["rejected"] * 3
    assert rows[2].reason.startswith(f"bracket entry {request.entry.client_order_id} rejected")
    assert paper.fills() == []


def test_closing_one_of_three_then_the_rest_makes_one_trade(app, paper):
    configure(app, commission="0.50")
    tick("ESZ6", "6000", 0)
    request = paper.bracket(BUY, 3, take_profit="6010", stop_loss="5990")
    paper.broker.place_bracket(request)
    tick("ESZ6", "6004", 1)
    paper.broker.place_order(paper.request(SELL, 1, role=OrderRole.EXIT))
    assert paper.row(request.take_profit).quantity == paper.row(request.stop_loss).quantity == 2
    assert paper.position().quantity == 2 and paper.trades() == []
    tick("ESZ6", "6010", 2)
    (trade,) = paper.trades()
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (3, D(6000), D(6008))
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(1200), D(3), D(1197))
    assert trade.exit_reason == "take_profit"
    assert paper.cash() == D(11197)


def test_an_oco_pair_on_an_open_position_cancels_its_sibling(paper):
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(paper.request(BUY, 2))
    tp = paper.request(SELL, 2, LIMIT, role=OrderRole.TAKE_PROFIT, limit="6010")
    sl = paper.request(SELL, 2, STOP, role=OrderRole.STOP_LOSS, stop="5995")
    placed = paper.broker.place_oco(tp, sl)
    assert [o.status for o in placed] == [OrderStatus.WORKING] * 2
    tick("ESZ6", "5995", 1)
    assert (paper.row(sl).status, paper.row(tp).status) == ("filled", "cancelled")
    assert paper.trades()[0].exit_reason == "stop_loss"


def test_an_oco_pair_without_a_position_is_rejected_whole(paper):
    tick("ESZ6", "6000", 0)
    tp = paper.request(SELL, 1, LIMIT, role=OrderRole.TAKE_PROFIT, limit="6010")
    sl = paper.request(SELL, 1, STOP, role=OrderRole.STOP_LOSS, stop="5995")
    with pytest.raises(OrderRejected, match="reduce-only sell needs a long position"):
        paper.broker.place_oco(tp, sl)
    assert paper.row(tp).status == paper.row(sl).status == "rejected"


def test_a_lone_protective_stop_is_reduce_only_and_shrinks_with_the_position(paper):
    tick("ESZ6", "6000", 0)
    orphan = paper.request(SELL, 1, STOP, role=OrderRole.STOP_LOSS, stop="5990")
    with pytest.raises(OrderRejected, match="reduce-only sell needs a long position"):
        paper.broker.place_order(orphan)
    paper.broker.place_order(paper.request(BUY, 2))
    stop = paper.request(SELL, 2, STOP, role=OrderRole.STOP_LOSS, stop="5990")
    assert paper.broker.place_order(stop).status is OrderStatus.WORKING
    paper.broker.place_order(paper.request(SELL, 1, role=OrderRole.EXIT))
    row = paper.row(stop)
    assert (row.quantity, row.reason) == (1, "reduce-only: cut to the 1-lot position")


# Rejections, cancels, modifications, flatten.


def test_a_rejected_order_raises_and_its_row_says_why(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1, LIMIT, limit="5995.10")
    with pytest.raises(OrderRejected, match="limit price 5995.10 is not on the 0.25 tick grid"):
        paper.broker.place_order(request)
    row = paper.row(request)
    assert (row.status, row.broker_order_id) == ("rejected", None)
    assert "not on the 0.25 tick grid" in row.reason
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.severity == "warning")).one()
    assert entry.message.startswith("ESZ6 buy 1 limit 5995.1 rejected: limit price")


def test_a_market_order_before_any_price_is_rejected(paper):
    request = paper.request(BUY, 1, symbol="NQZ6")
    with pytest.raises(OrderRejected, match="no price for NQZ6 yet"):
        paper.broker.place_order(request)


def test_an_unresolved_symbol_is_rejected_as_an_unknown_contract(paper):
    with pytest.raises(OrderRejected, match="unknown contract MES1!"):
        paper.broker.place_order(paper.request(BUY, 1, LIMIT, symbol="MES1!", limit="6000"))


def test_cancel_stops_a_working_order_and_a_second_cancel_is_unknown(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1, LIMIT, limit="5990")
    paper.broker.place_order(request)
    answer = paper.broker.cancel_order(request.client_order_id)
    assert (answer.status, answer.reason) == (OrderStatus.CANCELLED, "cancelled by request")
    assert paper.row(request).status == "cancelled"
    with pytest.raises(UnknownOrder, match="no working order"):
        paper.broker.cancel_order(request.client_order_id)
    tick("ESZ6", "5989", 1)
    assert paper.fills() == []


def test_modify_moves_a_working_order_and_a_marketable_change_fills(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1, LIMIT, limit="5990")
    paper.broker.place_order(request)
    moved = paper.broker.modify_order(request.client_order_id, limit_price=D("5992.50"), qty=2)
    assert (moved.status, moved.qty, moved.limit_price) == (OrderStatus.WORKING, 2, D("5992.50"))
    assert (paper.row(request).quantity, paper.row(request).limit_price) == (2, D("5992.50"))
    with pytest.raises(OrderRejected, match="not on the 0.25 tick grid"):
        paper.broker.modify_order(request.client_order_id, limit_price=D("5993.1"))
    assert paper.row(request).limit_price == D("5992.50")
    filled = paper.broker.modify_order(request.client_order_id, limit_price=D("6001"))
    assert (filled.status, filled.avg_fill_price) == (OrderStatus.FILLED, D(6000))
    with pytest.raises(UnknownOrder):
        paper.broker.modify_order(request.client_order_id, limit_price=D("5990"))


def test_flatten_cancels_the_symbols_orders_and_closes_with_a_kill_order(paper):
    tick("ESZ6", "6000", 0)
    request = paper.bracket(BUY, 2, take_profit="6010", stop_loss="5990")
    paper.broker.place_bracket(request)
    tick("ESZ6", "6002", 1)
    kill = paper.request(SELL, 2, role=OrderRole.KILL)
    answer = paper.broker.flatten("ESZ6", kill.client_order_id)
    assert (answer.status, answer.avg_fill_price) == (OrderStatus.FILLED, D(6002))
    assert (
        paper.row(request.take_profit).status
        == paper.row(request.stop_loss).status
        == ("cancelled")
    )
    (trade,) = paper.trades()
    assert (trade.exit_reason, trade.gross_pnl) == ("kill_switch", D(200))
    assert paper.broker.positions() == [] and paper.broker.working_orders() == []


def test_flatten_when_flat_answers_none_and_sends_nothing(paper):
    tick("ESZ6", "6000", 0)
    kill = paper.request(SELL, 1, role=OrderRole.KILL)
    assert paper.broker.flatten("ESZ6", kill.client_order_id) is None
    assert paper.broker.find_order(kill.client_order_id) is None
    assert paper.row(kill).status == "pending"  # the caller closes it (kill switch tests)


def test_a_reverse_entry_closes_the_trade_as_a_signal_and_opens_the_other_way(paper):
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(paper.request(BUY, 1))
    tick("ESZ6", "6004", 1)
    paper.broker.place_order(paper.request(SELL, 2))
    (trade,) = paper.trades()
    assert (trade.exit_reason, trade.gross_pnl, trade.quantity) == ("signal", D(200), 1)
    position = paper.position()
    assert (position.quantity, position.avg_price, position.realized_pnl) == (-1, D(6004), D(200))


def test_placing_the_same_client_order_id_twice_places_one_order(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1)
    first = paper.broker.place_order(request)
    tick("ESZ6", "6001", 1)
    again = paper.broker.place_order(request)
    assert again.status is OrderStatus.FILLED and again.avg_fill_price == first.avg_fill_price
    assert len(paper.fills()) == 1


def test_a_fill_of_no_order_of_ours_is_kept_and_its_position_is_manual(paper):
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(OrderRequest("outside-1", "ESZ6", BUY, 1))
    assert paper.row("outside-1") is None
    (fill,) = paper.fills()
    assert (fill.order_id, fill.broker_fill_id, fill.quantity) == (None, "outside-1-1", 1)
    assert (paper.position().quantity, paper.position().manual) == (1, True)


@pytest.mark.parametrize(
    ("slippage", "commission"), [(-1, "0"), ("one", "0"), (0, "-0.5"), (0, "cheap"), (0, "NaN")]
)
def test_bad_paper_costs_in_the_config_are_named_on_first_use(app, paper, slippage, commission):
    app.config["PAPER_SLIPPAGE_TICKS"] = slippage
    app.config["PAPER_COMMISSION_PER_CONTRACT"] = commission
    reset_venues()
    with pytest.raises(ValueError, match="PAPER_COMMISSION_PER_CONTRACT an amount >= 0"):
        paper.broker.positions()


def test_a_failed_save_rolls_back_and_reloads_the_book_from_the_database(paper, monkeypatch):
    from app.brokers.paper import store as paper_store

    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1)

    def broken(*_args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(paper_store, "save", broken)
    with pytest.raises(TemporaryBrokerError, match="could not be saved"):
        paper.broker.place_order(request)
    monkeypatch.undo()
    assert paper.broker.positions() == []  # the reloaded book never saw the fill
    assert paper.broker.place_order(request).status is OrderStatus.FILLED


# Queries.


def test_account_state_is_cash_plus_open_pnl_at_the_cached_price(app, paper):
    configure(app, commission="2.00")
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(paper.request(BUY, 2))
    tick("ESZ6", "6005", 1)
    paper.broker.place_order(paper.request(SELL, 1, role=OrderRole.EXIT))
    tick("ESZ6", "6001", 2)
    state = paper.broker.account_state()
    assert state.realized_pnl == D(250)
    assert state.cash == D(10000) + D(250) - D(6)
    assert state.unrealized_pnl == D(50)
    assert state.equity == state.cash + D(50)
    assert paper.cash() == state.cash
    assert paper.broker.positions()[0].qty == 1


def test_fills_since_reads_the_fills_table(paper):
    tick("ESZ6", "6000", 0)
    first = paper.request(BUY, 1)
    paper.broker.place_order(first)
    tick("ESZ6", "6001", 5)
    limit = paper.request(SELL, 1, LIMIT, limit="6002")
    paper.broker.place_order(limit)
    tick("ESZ6", "6002", 10)
    every = paper.broker.fills_since(T0)
    assert [(f.client_order_id, f.price, f.time) for f in every] == [
        (first.client_order_id, D(6000), T0),
        (limit.client_order_id, D(6002), T0 + timedelta(seconds=10)),
    ]
    assert every[1].broker_order_id == f"paper-{limit.client_order_id}"
    later = paper.broker.fills_since(T0 + timedelta(seconds=6))
    assert [f.client_order_id for f in later] == [limit.client_order_id]


def test_last_price_and_subscribe_quotes_use_the_cache_and_the_paper_feed(paper):
    assert paper.broker.last_price("MESZ6") is None
    paper.broker.subscribe_quotes("MESZ6")
    assert paper.broker.last_price("MESZ6") == D(6000)  # the simulated feed's start
    paper.broker.subscribe_quotes("XYZZ6")  # logged, not raised
    assert paper.broker.last_price("XYZZ6") is None


# Restarts.


def run_bracket_story(desk: Desk, restart_at: set[int]) -> None:
    """A limit entry with exits, a partial close by hand, then the take profit."""
    steps = [
        lambda: desk.broker.place_bracket(
            desk.bracket(
                BUY, 3, take_profit="6010", stop_loss="5990", entry_type=LIMIT, limit="5998"
            )
        ),
        lambda: tick("ESZ6", "5997.75", 1),  # the entry fills, the exits start working
        lambda: tick("ESZ6", "6004", 2),
        lambda: desk.broker.place_order(desk.request(SELL, 1, role=OrderRole.EXIT)),
        lambda: tick("ESZ6", "6010.25", 3),
    ]
    for index, step in enumerate(steps):
        if index in restart_at:
            reset_venues()
        step()


@pytest.mark.parametrize(
    "restart_at",
    [{1}, {2}, {3}, {4}, {1, 2, 3, 4}],
    ids=["exits held", "position open", "before the hand exit", "exits cut to two", "every step"],
)
def test_a_restart_at_any_point_ends_exactly_as_without_one(app, make_account, restart_at):
    prices.clear()
    steady = Desk(make_account("Steady", starting_balance="10000")["id"])
    restarted = Desk(make_account("Restarted", starting_balance="10000")["id"])
    with app.app_context():
        configure(app, commission="1.10", slippage=1)
        tick("ESZ6", "6000", 0)
        run_bracket_story(steady, set())
        prices.clear()
        tick("ESZ6", "6000", 0)
        run_bracket_story(restarted, restart_at)

        assert outcome_of(restarted) == outcome_of(steady)
        (trade,) = restarted.trades()
        assert (trade.quantity, trade.exit_reason) == (3, "take_profit")
    prices.clear()


def test_a_restored_book_replays_positions_from_fills_exactly(app, paper):
    tick("ESZ6", "6000", 0)
    for qty, price in ((1, "6000"), (1, "6000.25"), (1, "6001")):
        tick("ESZ6", price, 1)
        paper.broker.place_order(paper.request(BUY, qty))
    assert paper.position().avg_price == D("6000.416666667")  # rounded in the row only
    reset_venues()
    tick("ESZ6", "6003", 2)
    paper.broker.place_order(paper.request(SELL, 3, role=OrderRole.EXIT))
    (trade,) = paper.trades()
    assert trade.gross_pnl == D(3 * 6003 - (6000 + D("6000.25") + 6001)) * 50


def test_a_triggered_stop_limit_still_rests_as_a_limit_after_a_restart(paper):
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 1, OrderType.STOP_LIMIT, stop="6004", limit="6004")
    paper.broker.place_order(request)
    tick("ESZ6", "6005", 1)  # triggers; the limit is not reached
    assert paper.row(request).reason == "stop triggered at 6005"
    reset_venues()
    tick("ESZ6", "6003", 2)  # below the stop again: a restored limit fills all the same
    assert (paper.row(request).status, paper.row(request).avg_fill_price) == ("filled", D(6004))


def outcome_of(desk: Desk) -> tuple:
    """Everything a restart could get wrong, without ids, times or symbols."""
    orders = db.session.scalars(
        select(Order).where(Order.account_id == desk.account_id).order_by(Order.id)
    )
    ours = f"a{desk.account_id}-"
    return (
        [
            (o.role, o.status, o.quantity, o.avg_fill_price, (o.reason or "").replace(ours, ""))
            for o in orders
        ],
        [(f.side, f.quantity, f.price, f.commission) for f in desk.fills()],
        [
            (t.side, t.quantity, t.entry_price, t.exit_price, t.pnl, t.exit_reason)
            for t in desk.trades()
        ],
        desk.cash(),
        [(p.qty, p.avg_price) for p in desk.broker.positions()],
    )


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    side=st.sampled_from([BUY, SELL]),
    qty=st.integers(1, 3),
    limit_entry=st.booleans(),
    path=st.lists(st.integers(-14, 14), min_size=3, max_size=14),
    hand_exit_at=st.integers(0, 14),
    restarts=st.sets(st.integers(0, 15)),
)
def test_random_stories_end_the_same_with_or_without_restarts(
    app, paper, side, qty, limit_entry, path, hand_exit_at, restarts
):
    """Two accounts trade one story on twin ES contracts; one restarts its venue between steps."""
    configure(app, commission="1.29", slippage=1)
    accounts = []
    for name in ("steady", "restarted"):
        suffix = f"{name}-{paper.count}-{len(path)}-{sorted(restarts)}"
        account = BrokerAccount(name=suffix[:100], broker="paper", cash_balance=D(10000))
        db.session.add(account)
        db.session.commit()
        accounts.append(Desk(account.id))
        paper.count += 1
    closing = SELL if side is BUY else BUY
    for desk, symbol, restart_at in zip(accounts, ("ESZ6", "ESH7"), (set(), restarts), strict=True):
        desk.count = 0
        tick(symbol, "6000", 0)
        steps = [
            lambda desk=desk, symbol=symbol: desk.broker.place_bracket(
                desk.bracket(
                    side,
                    qty,
                    symbol=symbol,
                    take_profit="6002.50" if side is BUY else "5997.50",
                    stop_loss="5997.50" if side is BUY else "6002.50",
                    entry_type=LIMIT if limit_entry else MARKET,
                    limit=("5999.50" if side is BUY else "6000.50") if limit_entry else None,
                )
            )
        ]
        for seconds, ticks in enumerate(path, start=1):
            steps.append(lambda s=symbol, t=ticks, n=seconds: tick(s, str(6000 + D(t) / 4), n))
            if seconds == hand_exit_at:
                steps.append(
                    lambda desk=desk, s=symbol: desk.broker.place_order(
                        desk.request(closing, 1, symbol=s, role=OrderRole.EXIT)
                    )
                )
        for index, step in enumerate(steps):
            if index in restart_at:
                reset_venues()
            step()
    assert outcome_of(accounts[1]) == outcome_of(accounts[0])
    for desk, symbol in zip(accounts, ("ESZ6", "ESH7"), strict=True):
        desk.broker.flatten(symbol, desk.request(closing, 1, symbol=symbol).client_order_id)


# Stop moves in one batch (the monitor's tick).


def _modified(account_id: int) -> list[AuditEntry]:
    return db.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.account_id == account_id, AuditEntry.message.like("%modified%"))
        .order_by(AuditEntry.id)
    ).all()


def test_a_batch_of_stop_moves_records_every_row_and_one_audit_entry(paper):
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(paper.request(BUY, 3))
    stops = [
        paper.request(SELL, 1, STOP, role=OrderRole.STOP_LOSS, stop=level)
        for level in ("5990", "5989", "5988")
    ]
    for stop in stops:
        paper.broker.place_order(stop)
    answers = paper.broker.modify_stops(
        [
            (stops[0].client_order_id, D("5995")),
            (stops[1].client_order_id, D("6001")),  # through the market: refused
            (stops[2].client_order_id, D("5996")),
            ("nobody", D("5990")),
        ]
    )
    assert isinstance(answers[0], BrokerOrder) and answers[0].stop_price == D("5995")
    assert isinstance(answers[1], OrderRejected) and "trigger at once" in answers[1].message
    assert isinstance(answers[2], BrokerOrder) and answers[2].stop_price == D("5996")
    assert isinstance(answers[3], UnknownOrder)
    prices = [paper.row(stop).stop_price for stop in stops]
    assert prices == [D("5995"), D("5989"), D("5996")]
    moved = [e for e in _modified(paper.account_id) if "refused" not in e.message]
    assert len(moved) == 1 and moved[0].message.startswith("2 stops modified: ")
    assert moved[0].strategy_id == paper.strategy_id
    assert moved[0].data["stops"] == {
        stops[0].client_order_id: "5995",
        stops[2].client_order_id: "5996",
    }


def test_a_single_stop_move_is_audited_as_before(paper):
    tick("ESZ6", "6000", 0)
    paper.broker.place_order(paper.request(BUY, 1))
    stop = paper.request(SELL, 1, STOP, role=OrderRole.STOP_LOSS, stop="5990")
    paper.broker.place_order(stop)
    (answer,) = paper.broker.modify_stops([(stop.client_order_id, D("5992"))])
    assert answer.stop_price == D("5992") and paper.row(stop).stop_price == D("5992")
    (entry,) = _modified(paper.account_id)
    assert entry.message == "ESZ6 sell 1 stop 5992 modified: modified by request"


# Partial fills (PAPER_MAX_FILL_PER_PRINT).


def test_a_resting_limit_fills_a_contract_per_print_into_the_ledger(app, paper):
    app.config["PAPER_MAX_FILL_PER_PRINT"] = "1"
    reset_venues()
    tick("ESZ6", "6000", 0)
    request = paper.request(BUY, 2, LIMIT, limit="5999")
    assert paper.broker.place_order(request).status is OrderStatus.WORKING
    tick("ESZ6", "5999", 1)
    row = paper.row(request)
    assert (row.status, row.filled_quantity, row.avg_fill_price) == ("working", 1, D("5999"))
    assert paper.position().quantity == 1
    reset_venues()  # a restart: the book comes back with the part filled
    tick("ESZ6", "5998.75", 2)
    row = paper.row(request)
    assert (row.status, row.filled_quantity) == ("filled", 2)
    assert [(f.broker_fill_id, f.quantity) for f in paper.fills()] == [
        (f"{request.client_order_id}-1", 1),
        (f"{request.client_order_id}-2", 1),
    ]
    assert [p.qty for p in paper.broker.positions()] == [2]


@pytest.mark.parametrize("setting", ["-1", "one", "1.5"])
def test_a_bad_partial_fill_setting_is_named_on_first_use(app, paper, setting):
    app.config["PAPER_MAX_FILL_PER_PRINT"] = setting
    reset_venues()
    with pytest.raises(ValueError, match="PAPER_MAX_FILL_PER_PRINT must be a whole number"):
        paper.broker.positions()
