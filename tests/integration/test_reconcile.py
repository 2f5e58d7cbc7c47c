"""Reconciliation: a real broker's fills, orders and positions mirrored into the database."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.brokers.base import AccountState, Broker, BrokerFill, BrokerOrder, BrokerPosition
from app.brokers.errors import BrokerAuthError, TemporaryBrokerError
from app.domain.vocabulary import BrokerKind, OrderRole, OrderStatus, OrderType, Side
from app.extensions import db
from app.models import AuditEntry, BrokerAccount, Fill, Order, Position, Trade
from app.services.ledger.reconcile import (
    FILL_OVERLAP,
    NO_LONGER_WORKING,
    fill_cursor,
    reconcile_account,
)
from app.services.market import prices
from app.services.records import events
from app.services.setup import accounts, strategies
from app.services.setup.access import broker_for
from app.services.trading import orders
from tests.conftest import TRADOVATE_CREDENTIALS

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL


class PortDouble(Broker):
    """The Broker port as a test double: the broker holds what the test puts in it.

    `fill` executes at the broker (its position nets the fill, average cost); `fail`
    makes a read raise; `after` runs a callback after a read, as the market moves on
    between two calls.
    """

    def __init__(self) -> None:
        self.fills: list[BrokerFill] = []
        self.orders: dict[str, BrokerOrder] = {}
        self.held: dict[str, BrokerPosition] = {}
        self.cash = D("50000")
        self.failure: Exception | None = None
        self.fail_on: str | None = None
        self.after: dict[str, Callable[[], None]] = {}
        self.calls: list[str] = []
        self.since: list[datetime] = []
        self.count = 0

    # The test's side: what happens at the broker.

    def work(self, row: Order) -> None:
        """The broker accepted our order and works it."""
        self.orders[row.client_order_id] = BrokerOrder(
            client_order_id=row.client_order_id,
            broker_order_id=row.broker_order_id,
            symbol=row.symbol,
            side=Side(row.side),
            qty=row.quantity,
            order_type=OrderType(row.order_type),
            status=OrderStatus.WORKING,
            limit_price=row.limit_price,
            stop_price=row.stop_price,
        )

    def fill(
        self,
        side: Side,
        qty: int,
        price: str,
        *,
        symbol: str = "ESZ6",
        order: Order | None = None,
        commission: str | None = "0",
        at: datetime | None = None,
        broker_order_id: str | None = None,
        client_order_id: str | None = None,
    ) -> BrokerFill:
        self.count += 1
        fill = BrokerFill(
            broker_fill_id=f"f{self.count}",
            client_order_id=order.client_order_id if order is not None else client_order_id,
            broker_order_id=order.broker_order_id if order is not None else broker_order_id,
            symbol=symbol,
            side=side,
            qty=qty,
            price=D(price),
            commission=None if commission is None else D(commission),
            time=at or T0 + timedelta(seconds=self.count),
        )
        self.fills.append(fill)
        self._net(fill)
        if order is not None:
            filled = sum(f.qty for f in self.fills if f.client_order_id == order.client_order_id)
            if filled >= order.quantity:
                self.orders.pop(order.client_order_id, None)
        return fill

    def _net(self, fill: BrokerFill) -> None:
        held = self.held.get(fill.symbol, BrokerPosition(fill.symbol, 0, None))
        signed = fill.qty if fill.side is BUY else -fill.qty
        qty = held.qty + signed
        if held.qty == 0 or (held.qty > 0) != (qty > 0) and qty != 0:
            average = fill.price  # opened, or flipped at the fill's price
        elif (held.qty > 0) == (signed > 0):
            average = (held.avg_price * abs(held.qty) + fill.price * fill.qty) / abs(qty)
        else:
            average = held.avg_price
        if qty:
            self.held[fill.symbol] = BrokerPosition(fill.symbol, qty, average)
        else:
            self.held.pop(fill.symbol, None)

    def _read(self, name: str) -> None:
        self.calls.append(name)
        if self.failure is not None and self.fail_on in (None, name):
            raise self.failure

    def _then(self, name: str) -> None:
        callback = self.after.pop(name, None)
        if callback is not None:
            callback()

    # The port: reads.

    def account_state(self) -> AccountState:
        self._read("account_state")
        return AccountState(self.cash, D(0), D(0), self.cash)

    def positions(self) -> list[BrokerPosition]:
        self._read("positions")
        answer = list(self.held.values())
        self._then("positions")
        return answer

    def working_orders(self) -> list[BrokerOrder]:
        self._read("working_orders")
        return list(self.orders.values())

    def fills_since(self, since: datetime) -> list[BrokerFill]:
        self._read("fills_since")
        self.since.append(since)
        answer = [fill for fill in self.fills if fill.time >= since]
        self._then("fills_since")
        return answer

    def find_order(self, client_order_id: str) -> BrokerOrder | None:
        self._read("find_order")
        return self.orders.get(client_order_id)

    # The port: trading, which reconciliation never does.

    def place_order(self, request):
        raise AssertionError("reconciliation never places orders")

    def place_bracket(self, request):
        raise AssertionError("reconciliation never places orders")

    def place_oco(self, first, second):
        raise AssertionError("reconciliation never places orders")

    def modify_order(self, client_order_id, *, qty=None, limit_price=None, stop_price=None):
        raise AssertionError("reconciliation never modifies orders")

    def cancel_order(self, client_order_id):
        raise AssertionError("reconciliation never cancels orders")

    def flatten(self, symbol, client_order_id):
        raise AssertionError("reconciliation never flattens")

    def last_price(self, symbol):
        return None

    def subscribe_quotes(self, symbol):
        return None


def make_tradovate_account(name: str = "Tradovate demo") -> BrokerAccount:
    account = accounts.create_account(
        {"name": name, "broker": "tradovate", "credentials": TRADOVATE_CREDENTIALS}
    )
    account.created_at = T0 - timedelta(days=1)
    db.session.commit()
    return account


def make_order(
    account: BrokerAccount,
    side: Side,
    qty: int,
    *,
    symbol: str = "ESZ6",
    role: OrderRole = OrderRole.ENTRY,
    strategy_id: int | None = None,
    status: OrderStatus = OrderStatus.WORKING,
    broker_order_id: str | None = "auto",
) -> Order:
    """An order row as the execution service leaves it once the broker took the order."""
    number = db.session.scalar(select(func.count(Order.id))) + 1
    row = Order(
        account_id=account.id,
        strategy_id=strategy_id,
        client_order_id=f"dp-{number}",
        broker_order_id=f"b{number}" if broker_order_id == "auto" else broker_order_id,
        symbol=symbol,
        side=side.value,
        quantity=qty,
        order_type=OrderType.MARKET.value,
        role=role.value,
        status=status.value,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def account(ctx):
    return make_tradovate_account()


@pytest.fixture
def strategy_id(ctx):
    return strategies.create_strategy({"name": "ES trend"}).id


@pytest.fixture
def broker():
    return PortDouble()


LEDGER_EVENTS = ("order", "fill", "position", "trade")


@pytest.fixture
def published():
    """The ledger's events, in order (the audit's `log` entries beside them are not its)."""
    seen: list[tuple[str, dict]] = []

    def record(event: str, payload: dict) -> None:
        if event in LEDGER_EVENTS:
            seen.append((event, payload))

    events.subscribe("*", record)
    yield seen
    events.unsubscribe("*", record)


class Desk:
    """The account, its broker and the clock, with the questions tests ask of the rows."""

    def __init__(self, account: BrokerAccount, broker: PortDouble) -> None:
        self.account = account
        self.broker = broker
        self.now = T0 + timedelta(minutes=1)

    def reconcile(self):
        self.now += timedelta(seconds=5)
        return reconcile_account(self.account, self.broker, self.now)

    def position(self, symbol: str = "ESZ6") -> Position | None:
        return db.session.scalar(
            select(Position).where(
                Position.account_id == self.account.id, Position.symbol == symbol
            )
        )

    def trades(self) -> list[Trade]:
        return list(db.session.scalars(select(Trade).order_by(Trade.id)))

    def warnings(self) -> list[AuditEntry]:
        return list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.severity == "warning").order_by(AuditEntry.id)
            )
        )


@pytest.fixture
def desk(account, broker):
    return Desk(account, broker)


def snapshot() -> dict[str, list[tuple]]:
    """Every row reconciliation may touch, as plain tuples."""
    db.session.expire_all()
    return {
        "fills": [
            (f.broker_fill_id, f.order_id, f.quantity, f.price, f.commission, f.filled_at)
            for f in db.session.scalars(select(Fill).order_by(Fill.id))
        ],
        "orders": [
            (o.client_order_id, o.status, o.filled_quantity, o.avg_fill_price, o.reason)
            for o in db.session.scalars(select(Order).order_by(Order.id))
        ],
        "positions": [
            (p.symbol, p.quantity, p.avg_price, p.realized_pnl, p.manual, p.strategy_id)
            for p in db.session.scalars(select(Position).order_by(Position.id))
        ],
        "trades": [
            (t.symbol, t.quantity, t.entry_price, t.exit_price, t.gross_pnl, t.pnl)
            for t in db.session.scalars(select(Trade).order_by(Trade.id))
        ],
        "audit": [a.id for a in db.session.scalars(select(AuditEntry))],
        "cash": [(a.id, a.cash_balance) for a in db.session.scalars(select(BrokerAccount))],
    }


# Fills and our orders.


def test_new_fills_become_fill_rows_that_fill_our_order(desk, broker, strategy_id, published):
    order = make_order(desk.account, BUY, 2, strategy_id=strategy_id)
    broker.work(order)
    broker.fill(BUY, 1, "6000.25", order=order, commission="1.29")
    broker.fill(BUY, 1, "6000.50", order=order, commission="1.29")

    report = desk.reconcile()

    assert report.new_fills == 2 and report.corrected == () and not report.deferred
    fills = db.session.scalars(select(Fill).order_by(Fill.id)).all()
    assert [(f.broker_fill_id, f.order_id, f.quantity, f.price) for f in fills] == [
        ("f1", order.id, 1, D("6000.25")),
        ("f2", order.id, 1, D("6000.5")),
    ]
    db.session.refresh(order)
    assert (order.status, order.filled_quantity, order.avg_fill_price) == (
        "filled",
        2,
        D("6000.375"),
    )
    position = desk.position()
    assert (position.quantity, position.avg_price, position.manual) == (2, D("6000.375"), False)
    assert position.strategy_id == strategy_id and position.opened_at == broker.fills[0].time
    kinds = [event for event, _ in published]
    assert kinds == ["fill", "fill", "order", "position"]
    assert published[0][1]["price"] == "6000.25" and published[2][1]["status"] == "filled"
    assert published[3][1] == {
        "id": position.id,
        "account_id": desk.account.id,
        "symbol": "ESZ6",
        "qty": 2,
        "avg_price": "6000.375",
        "realized_pnl": "0",
        "manual": False,
        "strategy_id": strategy_id,
        "opened": True,  # from flat: what notifications tell as position_opened
    }


def test_a_partly_filled_order_stays_working_while_the_broker_lists_it(desk, broker):
    order = make_order(desk.account, BUY, 3)
    broker.work(order)
    broker.fill(BUY, 1, "6000", order=order)

    desk.reconcile()

    db.session.refresh(order)
    assert (order.status, order.filled_quantity, order.avg_fill_price) == ("working", 1, D(6000))
    assert desk.position().quantity == 1


def test_a_fill_without_our_client_order_id_is_linked_by_the_broker_order_id(desk, broker):
    order = make_order(desk.account, SELL, 1, broker_order_id="7001")
    broker.fill(SELL, 1, "6000", broker_order_id="7001")

    desk.reconcile()

    assert db.session.scalar(select(Fill.order_id)) == order.id
    db.session.refresh(order)
    assert order.status == "filled"
    assert desk.position().manual is False


def test_an_order_row_learns_its_broker_order_id_from_its_fill(desk, broker):
    order = make_order(desk.account, BUY, 1, status=OrderStatus.PENDING, broker_order_id=None)
    broker.fills.append(
        BrokerFill("f9", order.client_order_id, "7777", "ESZ6", BUY, 1, D(6000), D(0), T0)
    )
    broker.held["ESZ6"] = BrokerPosition("ESZ6", 1, D(6000))

    desk.reconcile()

    db.session.refresh(order)
    assert (order.broker_order_id, order.status) == ("7777", "filled")


def test_a_fill_stored_before_its_order_was_known_is_linked_when_read_again(desk, broker):
    broker.fill(BUY, 1, "6000", broker_order_id="7002")
    desk.reconcile()  # the execution service has not recorded the broker's order id yet
    assert db.session.scalar(select(Fill.order_id)) is None
    order = make_order(desk.account, BUY, 1, broker_order_id="7002")

    desk.reconcile()

    assert db.session.scalar(select(Fill.order_id)) == order.id
    db.session.refresh(order)
    assert (order.status, order.filled_quantity) == ("filled", 1)


def test_an_order_being_placed_that_partly_fills_becomes_working_first(desk, broker):
    order = make_order(desk.account, BUY, 2, status=OrderStatus.FAILED, broker_order_id=None)
    broker.fill(BUY, 1, "6000", client_order_id=order.client_order_id)

    desk.reconcile()
    db.session.refresh(order)
    assert (order.status, order.filled_quantity) == ("working", 1)  # the broker took it
    desk.reconcile()
    db.session.refresh(order)
    assert (order.status, order.reason) == ("cancelled", f"{NO_LONGER_WORKING}; 1 of 2 filled")


def test_running_again_with_the_same_fills_changes_nothing(desk, broker, published):
    entry = make_order(desk.account, BUY, 2)
    stop = make_order(desk.account, SELL, 2, role=OrderRole.STOP_LOSS)
    broker.work(stop)
    broker.fill(BUY, 2, "6000", order=entry, commission="2.58")
    desk.reconcile()
    exit_ = make_order(desk.account, SELL, 2, role=OrderRole.EXIT)
    broker.fill(SELL, 2, "6003", order=exit_, commission="2.58")
    broker.orders.clear()  # the OCO stop is cancelled at the broker
    desk.reconcile()
    before = snapshot()
    published.clear()

    for _ in range(3):
        report = desk.reconcile()
        assert (report.new_fills, report.orders_changed, report.positions_changed) == (0, 0, 0)
        assert report.trades_closed == 0 and report.corrected == ()

    assert snapshot() == before
    assert published == []
    assert len(before["trades"]) == 1 and len(before["fills"]) == 2


def test_a_fill_listed_twice_by_the_broker_is_stored_once(desk, broker):
    fill = broker.fill(BUY, 1, "6000")
    broker.fills.append(fill)

    assert desk.reconcile().new_fills == 1
    assert db.session.scalar(select(func.count(Fill.id))) == 1
    assert desk.position().quantity == 1


# Round trips.

ROUND_TRIPS = [
    # symbol, entry, exit, per-fill commission, gross P&L of a 2-lot long
    ("ESZ6", "6000.25", "6010.75", "2.58", "1050"),
    ("MESZ6", "6000.25", "5995.50", "0.74", "-47.50"),
    ("NQZ6", "21000.25", "21012.50", "2.58", "490"),
    ("CLF7", "71.23", "71.05", "3.04", "-360"),
    ("GCG7", "2650.1", "2655.4", "3.10", "1060"),
]


@pytest.mark.parametrize(("symbol", "entry", "exit_", "commission", "gross"), ROUND_TRIPS)
def test_a_round_trip_closes_one_trade_with_exact_pnl(
    desk, broker, strategy_id, symbol, entry, exit_, commission, gross
):
    buy = make_order(desk.account, BUY, 2, symbol=symbol, strategy_id=strategy_id)
    broker.fill(BUY, 2, entry, symbol=symbol, order=buy, commission=commission)
    desk.reconcile()
    assert desk.trades() == []
    sell = make_order(desk.account, SELL, 2, symbol=symbol, role=OrderRole.TAKE_PROFIT)
    broker.fill(SELL, 2, exit_, symbol=symbol, order=sell, commission=commission)

    report = desk.reconcile()

    assert report.trades_closed == 1
    (trade,) = desk.trades()
    paid = 2 * D(commission)
    assert (trade.symbol, trade.side, trade.quantity) == (symbol, "long", 2)
    assert (trade.entry_price, trade.exit_price) == (D(entry), D(exit_))
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(gross), paid, D(gross) - paid)
    assert (trade.entry_time, trade.exit_time) == (broker.fills[0].time, broker.fills[1].time)
    assert (trade.exit_reason, trade.strategy_id) == ("take_profit", strategy_id)
    position = desk.position(symbol)
    assert (position.quantity, position.avg_price, position.realized_pnl) == (0, None, D(gross))


def post_fees(broker: PortDouble, commission: str) -> None:
    """The broker posts the fees of every fill it had reported without them."""
    broker.fills = [
        replace(f, commission=D(commission)) if f.commission is None else f for f in broker.fills
    ]


def test_fees_posted_after_the_trade_closed_complete_its_net_pnl(desk, broker):
    buy = make_order(desk.account, BUY, 1)
    broker.fill(BUY, 1, "6000", order=buy, commission=None)
    sell = make_order(desk.account, SELL, 1, role=OrderRole.TAKE_PROFIT)
    broker.fill(SELL, 1, "6004", order=sell, commission=None)
    desk.reconcile()
    (trade,) = desk.trades()
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(200), 0, D(200))
    assert [f.commission for f in db.session.scalars(select(Fill))] == [None, None]

    post_fees(broker, "0.62")
    desk.reconcile()
    desk.reconcile()  # read again: nothing more changes

    db.session.refresh(trade)
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(200), D("1.24"), D("198.76"))
    assert [f.commission for f in db.session.scalars(select(Fill))] == [D("0.62"), D("0.62")]


def test_fees_posted_while_the_position_is_open_count_when_it_closes(desk, broker):
    buy = make_order(desk.account, BUY, 1)
    broker.fill(BUY, 1, "6000", order=buy, commission=None)
    desk.reconcile()
    post_fees(broker, "0.62")
    desk.reconcile()
    sell = make_order(desk.account, SELL, 1, role=OrderRole.STOP_LOSS)
    broker.fill(SELL, 1, "5998", order=sell, commission="0.62")

    desk.reconcile()

    (trade,) = desk.trades()
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(-100), D("1.24"), D("-101.24"))


def test_the_fill_cursor_reaches_back_to_fees_not_yet_posted(desk, broker):
    broker.fill(BUY, 1, "6000", order=make_order(desk.account, BUY, 1), commission=None)
    early = broker.fills[0].time
    broker.fill(SELL, 1, "6001", at=T0 + timedelta(hours=2), order=None, broker_order_id="x")
    desk.reconcile()

    assert fill_cursor(desk.account) == early - FILL_OVERLAP


@pytest.mark.parametrize(
    ("role", "reason"),
    [
        (OrderRole.TAKE_PROFIT, "take_profit"),
        (OrderRole.STOP_LOSS, "stop_loss"),
        (OrderRole.EXIT, "signal"),
        (OrderRole.ENTRY, "signal"),
        (OrderRole.MANUAL, "manual"),
        (OrderRole.KILL, "kill_switch"),
        (None, "manual"),  # closed outside DeskPilot
    ],
)
def test_the_exit_reason_is_the_role_of_the_order_that_closed_the_trade(desk, broker, role, reason):
    buy = make_order(desk.account, BUY, 1)
    broker.fill(BUY, 1, "6000", order=buy)
    closer = make_order(desk.account, SELL, 1, role=role) if role is not None else None
    broker.fill(SELL, 1, "5990", order=closer, broker_order_id="outside-1")

    desk.reconcile()

    (trade,) = desk.trades()
    assert trade.exit_reason == reason and trade.pnl == D(-500)


def test_partial_exits_over_several_runs_make_one_exact_trade(desk, broker):
    buy = make_order(desk.account, BUY, 3)
    broker.fill(BUY, 1, "6000.25", order=buy, commission="1.29")
    broker.fill(BUY, 2, "6000.50", order=buy, commission="2.58")
    desk.reconcile()
    assert desk.position().avg_price == D("6000.416666667")  # 18001.25 / 3, to the column

    first = make_order(desk.account, SELL, 1, role=OrderRole.TAKE_PROFIT)
    broker.fill(SELL, 1, "6010", order=first, commission="1.29")
    desk.reconcile()
    position = desk.position()
    assert position.quantity == 2 and desk.trades() == []
    assert position.realized_pnl == D("479.1667")  # (6010 - 6000.41666…) x 50

    rest = make_order(desk.account, SELL, 2, role=OrderRole.STOP_LOSS)
    broker.fill(SELL, 2, "6012.25", order=rest, commission="2.58")
    desk.reconcile()

    (trade,) = desk.trades()
    assert trade.quantity == 3 and trade.entry_price == D("6000.416666667")
    assert trade.exit_price == D("6011.5")  # (6010 + 2 x 6012.25) / 3
    assert trade.gross_pnl == D("1662.5")  # (18034.5 - 18001.25) x 50, exact
    assert (trade.commission, trade.pnl) == (D("7.74"), D("1654.76"))
    assert trade.exit_reason == "stop_loss"
    assert desk.position().realized_pnl == D("1662.5")


def test_a_flip_closes_the_trade_and_opens_the_other_side_at_the_flip_price(desk, broker):
    first = strategies.create_strategy({"name": "Long only"}).id
    second = strategies.create_strategy({"name": "Reversal"}).id
    buy = make_order(desk.account, BUY, 2, strategy_id=first)
    broker.fill(BUY, 2, "6000", order=buy, commission="2")
    desk.reconcile()
    reverse = make_order(desk.account, SELL, 5, strategy_id=second)
    flip = broker.fill(SELL, 5, "6004", order=reverse, commission="5")
    desk.reconcile()

    (long_trade,) = desk.trades()
    assert (long_trade.side, long_trade.quantity, long_trade.gross_pnl) == ("long", 2, D(400))
    assert (long_trade.commission, long_trade.pnl) == (D(4), D(396))  # 2 + 2/5 of 5
    assert (long_trade.exit_reason, long_trade.strategy_id) == ("signal", first)
    position = desk.position()
    assert (position.quantity, position.avg_price, position.strategy_id) == (-3, D(6004), second)
    assert position.opened_at == flip.time

    cover = make_order(desk.account, BUY, 3, role=OrderRole.EXIT, strategy_id=second)
    broker.fill(BUY, 3, "6001", order=cover, commission="3")
    desk.reconcile()

    short_trade = desk.trades()[1]
    assert (short_trade.side, short_trade.quantity) == ("short", 3)
    assert (short_trade.entry_price, short_trade.exit_price) == (D(6004), D(6001))
    assert (short_trade.gross_pnl, short_trade.commission, short_trade.pnl) == (
        D(450),
        D(6),  # the flip's other 3/5 of 5, and 3
        D(444),
    )
    assert short_trade.strategy_id == second and short_trade.entry_time == flip.time
    assert desk.position().realized_pnl == D(850)
    assert desk.warnings() == []


def test_several_symbols_each_keep_their_own_position(desk, broker):
    broker.fill(BUY, 1, "6000", symbol="ESZ6", order=make_order(desk.account, BUY, 1))
    mes = make_order(desk.account, SELL, 3, symbol="MESZ6")
    broker.fill(SELL, 3, "6001.25", symbol="MESZ6", order=mes)

    desk.reconcile()

    assert desk.position("ESZ6").quantity == 1 and desk.position("MESZ6").quantity == -3
    assert desk.warnings() == []


# Positions opened outside DeskPilot and the check against the broker.


def test_a_position_opened_outside_deskpilot_appears_marked_manual(desk, broker, published):
    broker.held["MESZ6"] = BrokerPosition("MESZ6", 2, D("5001.25"))

    report = desk.reconcile()

    assert report.corrected == ("MESZ6",)
    position = desk.position("MESZ6")
    assert (position.quantity, position.avg_price, position.manual) == (2, D("5001.25"), True)
    assert position.strategy_id is None and position.opened_at == desk.now
    (warning,) = desk.warnings()
    assert "MESZ6" in warning.message and "manual" in warning.message
    assert warning.account_id == desk.account.id and warning.data["held"] == 2
    assert [event for event, _ in published] == ["position"]
    assert desk.reconcile().corrected == ()  # told once: it now matches


def test_closing_a_manual_position_from_deskpilot_uses_the_brokers_average(desk, broker):
    broker.held["MESZ6"] = BrokerPosition("MESZ6", 2, D("5001.25"))
    desk.reconcile()
    close = make_order(desk.account, SELL, 2, symbol="MESZ6", role=OrderRole.MANUAL)
    broker.fill(SELL, 2, "5003.25", symbol="MESZ6", order=close)

    desk.reconcile()

    (trade,) = desk.trades()
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (2, D("5001.25"), D("5003.25"))
    assert (trade.gross_pnl, trade.exit_reason) == (D(20), "manual")
    position = desk.position("MESZ6")
    assert (position.quantity, position.manual) == (0, False)
    assert len(desk.warnings()) == 1


def test_fills_of_an_order_placed_outside_deskpilot_make_a_manual_position(desk, broker):
    broker.fill(BUY, 1, "6000", broker_order_id="outside-1")
    desk.reconcile()

    assert db.session.scalar(select(Fill.order_id)) is None
    position = desk.position()
    assert (position.quantity, position.manual, position.strategy_id) == (1, True, None)
    assert desk.warnings() == []  # the fills explain it: nothing to correct

    broker.fill(SELL, 1, "6002", broker_order_id="outside-2")
    desk.reconcile()
    (trade,) = desk.trades()
    assert (trade.exit_reason, trade.gross_pnl, trade.strategy_id) == ("manual", D(100), None)


def test_a_quantity_mismatch_is_corrected_to_the_broker_with_a_warning(desk, broker):
    buy = make_order(desk.account, BUY, 2)
    broker.fill(BUY, 2, "6000", order=buy)
    broker.held["ESZ6"] = BrokerPosition("ESZ6", 3, D("6000.5"))  # a fill we never saw

    report = desk.reconcile()

    assert report.corrected == ("ESZ6",)
    position = desk.position()
    assert (position.quantity, position.avg_price, position.manual) == (3, D("6000.5"), False)
    (warning,) = desk.warnings()
    assert warning.message == (
        "ESZ6: DeskPilot counted 2 @ 6000, the broker holds 3 @ 6000.5; corrected to the broker's"
    )
    assert warning.category == "order"

    sell = make_order(desk.account, SELL, 3, role=OrderRole.EXIT)
    broker.fill(SELL, 3, "6002.5", order=sell)
    desk.reconcile()
    (trade,) = desk.trades()  # from the broker's 3 @ 6000.5: the fills lack the third
    assert (trade.quantity, trade.entry_price, trade.gross_pnl) == (3, D("6000.5"), D(300))
    assert len(desk.warnings()) == 1 and desk.position().quantity == 0


def test_a_position_the_broker_no_longer_holds_is_corrected_to_flat(desk, broker):
    buy = make_order(desk.account, BUY, 1)
    broker.fill(BUY, 1, "6000", order=buy)
    desk.reconcile()
    broker.held.clear()  # closed by a fill older than our cursor

    assert desk.reconcile().corrected == ("ESZ6",)

    position = desk.position()
    assert (position.quantity, position.avg_price, position.opened_at) == (0, None, None)
    assert desk.trades() == []  # no exit price is known: no trade is made up
    assert "holds 0" in desk.warnings()[0].message


def test_a_fill_arriving_between_reads_is_not_taken_for_a_mismatch(desk, broker):
    buy = make_order(desk.account, BUY, 1)
    broker.after["positions"] = lambda: broker.fill(BUY, 1, "6000", order=buy)

    report = desk.reconcile()

    assert report.corrected == () and not report.deferred
    assert desk.position().quantity == 1 and desk.warnings() == []
    assert broker.calls.count("positions") == 2  # the check read the positions again


def test_the_check_waits_a_run_when_fills_arrive_while_it_confirms(desk, broker):
    buy = make_order(desk.account, BUY, 2)
    broker.work(buy)
    # The first positions read misses a fill the fills read has; another fill then lands
    # before the check reads again: the difference is explained by fills not yet booked.
    broker.after["positions"] = lambda: broker.fill(BUY, 1, "6000", order=buy)
    broker.after["fills_since"] = lambda: broker.fill(BUY, 1, "6001", order=buy)

    report = desk.reconcile()

    assert report.deferred and report.corrected == ()
    assert desk.position().quantity == 1 and desk.warnings() == []
    report = desk.reconcile()
    assert report.new_fills == 1 and not report.deferred and report.corrected == ()
    assert desk.position().quantity == 2 and desk.warnings() == []


def test_an_unknown_contract_keeps_its_fills_and_follows_the_broker(desk, broker):
    broker.fill(BUY, 1, "0.6512", symbol="6AZ6", broker_order_id="x")

    report = desk.reconcile()

    assert report.new_fills == 1 and report.corrected == ("6AZ6",)
    position = desk.position("6AZ6")
    assert (position.quantity, position.avg_price, position.manual) == (1, D("0.6512"), True)


# Orders the broker no longer works.


def test_an_order_the_broker_no_longer_lists_is_cancelled_only_when_nothing_filled(
    desk, broker, published
):
    listed = make_order(desk.account, BUY, 1, role=OrderRole.ENTRY)
    gone = make_order(desk.account, SELL, 1, role=OrderRole.STOP_LOSS)
    filled = make_order(desk.account, BUY, 2, role=OrderRole.ENTRY)
    partly = make_order(desk.account, SELL, 2, role=OrderRole.TAKE_PROFIT)
    placing = make_order(desk.account, BUY, 1, status=OrderStatus.PENDING, broker_order_id=None)
    broker.work(listed)
    broker.fill(BUY, 2, "6000", order=filled)
    broker.fill(SELL, 1, "6004", order=partly)

    report = desk.reconcile()

    for row in (listed, gone, filled, partly, placing):
        db.session.refresh(row)
    assert (listed.status, listed.reason) == ("working", None)
    assert (gone.status, gone.reason) == ("cancelled", NO_LONGER_WORKING)
    assert (filled.status, filled.filled_quantity) == ("filled", 2)
    assert (partly.status, partly.filled_quantity) == ("cancelled", 1)
    assert partly.reason == f"{NO_LONGER_WORKING}; 1 of 2 filled"
    assert (placing.status, placing.reason) == ("pending", None)  # the execution service's
    assert report.orders_changed == 3
    changed = {payload["id"] for event, payload in published if event == "order"}
    assert changed == {gone.id, filled.id, partly.id}
    cancelled = db.session.scalars(
        select(AuditEntry.message).where(AuditEntry.message.contains("cancelled"))
    ).all()
    assert cancelled == [f"ESZ6 stop_loss order cancelled: {NO_LONGER_WORKING}"] + [
        f"ESZ6 take_profit order cancelled: {NO_LONGER_WORKING}; 1 of 2 filled"
    ]


def test_the_broker_moving_a_working_order_is_mirrored(desk, broker):
    stop = make_order(desk.account, SELL, 1, role=OrderRole.STOP_LOSS)
    broker.work(stop)
    moved = broker.orders[stop.client_order_id]
    broker.orders[stop.client_order_id] = replace(
        moved, order_type=OrderType.STOP, stop_price=D("5990.25")
    )

    desk.reconcile()

    db.session.refresh(stop)
    assert (stop.status, stop.stop_price) == ("working", D("5990.25"))


def test_an_order_placed_while_the_broker_was_read_is_not_cancelled(desk, broker):
    late: list[Order] = []
    broker.after["positions"] = lambda: late.append(make_order(desk.account, BUY, 1))

    desk.reconcile()

    db.session.refresh(late[0])
    assert late[0].status == "working"


def test_working_orders_of_others_are_counted_not_stored(desk, broker):
    broker.orders["theirs"] = BrokerOrder(
        "theirs", "9001", "ESZ6", BUY, 1, OrderType.LIMIT, OrderStatus.WORKING, D("5900")
    )

    assert desk.reconcile().outside_orders == 1
    assert db.session.scalar(select(func.count(Order.id))) == 0


# Outages, errors and what is skipped.


@pytest.mark.parametrize("read", ["account_state", "positions", "working_orders", "fills_since"])
def test_a_broker_outage_leaves_the_database_untouched_and_the_next_run_catches_up(
    desk, broker, read
):
    buy = make_order(desk.account, BUY, 2)
    broker.work(buy)
    first = broker.fill(BUY, 1, "6000", order=buy, commission="1")
    desk.reconcile()
    broker.fill(BUY, 1, "6001", order=buy, commission="1")
    sell = make_order(desk.account, SELL, 2, role=OrderRole.EXIT)
    broker.fill(SELL, 2, "6003", order=sell, commission="2")
    broker.cash = D("50246")
    before = snapshot()
    broker.failure, broker.fail_on = TemporaryBrokerError("connection reset"), read

    for _ in range(2):
        with pytest.raises(TemporaryBrokerError):
            desk.reconcile()

    assert snapshot() == before
    broker.failure = None
    report = desk.reconcile()

    assert broker.since[-1] == first.time - FILL_OVERLAP  # the cursor comes from the database
    assert report.new_fills == 2 and report.corrected == ()
    (trade,) = desk.trades()
    assert (trade.quantity, trade.entry_price, trade.exit_price) == (2, D("6000.5"), D(6003))
    assert (trade.gross_pnl, trade.commission, trade.pnl) == (D(250), D(4), D(246))
    assert desk.position().quantity == 0
    db.session.refresh(buy)
    assert (buy.status, buy.filled_quantity, buy.avg_fill_price) == ("filled", 2, D("6000.5"))
    assert desk.account.cash_balance == D("50246")


def test_a_fill_reported_late_within_the_overlap_is_still_read(desk, broker):
    broker.fill(BUY, 1, "6000", at=T0 + timedelta(minutes=3), broker_order_id="x1")
    desk.reconcile()
    broker.fill(SELL, 1, "6001.25", symbol="MESZ6", at=T0 + timedelta(minutes=1))

    assert desk.reconcile().new_fills == 1

    assert desk.position("MESZ6").quantity == -1 and desk.warnings() == []


def test_the_first_read_starts_at_the_accounts_creation(desk, broker):
    desk.reconcile()

    assert broker.since == [desk.account.created_at - FILL_OVERLAP]
    assert broker.calls == ["account_state", "positions", "working_orders", "fills_since"]


def test_a_refused_login_leaves_the_database_untouched(desk, broker):
    broker.fill(BUY, 1, "6000")
    before = snapshot()
    broker.failure = BrokerAuthError("password incorrect")

    with pytest.raises(BrokerAuthError):
        desk.reconcile()

    assert snapshot() == before


def test_a_paper_account_is_reconciled_against_its_venue_and_agrees(ctx):
    paper = accounts.create_account(
        {"name": "Paper", "broker": BrokerKind.PAPER.value, "starting_balance": D("1000")}
    )
    venue = broker_for(paper)
    prices.update("ESZ6", D("6000"), T0, "test")
    row = Order(
        account_id=paper.id,
        client_order_id="p-1",
        symbol="ESZ6",
        side="buy",
        quantity=2,
        order_type="market",
        role="entry",
        status="pending",
    )
    db.session.add(row)
    db.session.commit()
    orders.place_row(venue, row)
    before = snapshot()

    report = reconcile_account(paper, venue, T0)

    assert (report.new_fills, report.corrected, report.orders_changed) == (0, (), 0)
    assert snapshot() == before
    held = db.session.scalar(select(Position).where(Position.account_id == paper.id))
    assert held.quantity == 2


def test_the_account_cash_mirrors_the_brokers(desk, broker):
    broker.cash = D("51234.5678")

    desk.reconcile()

    assert db.session.get(BrokerAccount, desk.account.id).cash_balance == D("51234.5678")
