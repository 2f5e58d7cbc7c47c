"""Partial fills at the paper venue (`max_fill_per_print`): a resting limit fills a part per
print and keeps working; exits follow the position; OCO groups end on a whole fill."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.matching import (
    ContractTerms,
    MatchingEngine,
    Order,
    OrderCancelled,
    OrderFilled,
    OrderModified,
)
from app.domain.vocabulary import OrderStatus, OrderType, Side

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL
LIMIT, STOP, MARKET = OrderType.LIMIT, OrderType.STOP, OrderType.MARKET
TERMS = {"ESZ6": ContractTerms(D("0.25"), D(50))}


def engine(cap: int | None = 1, price: str = "6000") -> MatchingEngine:
    made = MatchingEngine(TERMS, max_fill_per_print=cap)
    made.on_price("ESZ6", D(price), T0)
    return made


def order(coid: str, side: Side, qty: int, order_type=MARKET, **fields) -> Order:
    return Order(coid, "ESZ6", side, qty, order_type, **fields)


def of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_resting_limit_fills_one_part_per_print_and_keeps_working():
    book = engine()
    book.submit(order("L", BUY, 3, LIMIT, limit_price=D("5999")), T0)
    first = book.on_price("ESZ6", D("5999"), at(1))
    [filled] = of(first, OrderFilled)
    assert (filled.fill.fill_id, filled.fill.qty, filled.order.status) == ("L-1", 1, "working")
    assert (filled.order.filled_qty, book.position("ESZ6").qty) == (1, 1)
    second = book.on_price("ESZ6", D("5998.75"), at(2))
    [again] = of(second, OrderFilled)
    assert (again.fill.fill_id, again.order.filled_qty) == ("L-2", 2)
    last = of(book.on_price("ESZ6", D("5999"), at(3)), OrderFilled)[0]
    assert (last.fill.fill_id, last.order.status, last.order.filled_qty) == ("L-3", "filled", 3)
    assert last.order.avg_fill_price == D("5999") and book.order("L") is None


def test_market_orders_stops_and_marketable_limits_fill_whole():
    book = engine()
    assert of(book.submit(order("M", BUY, 3), T0), OrderFilled)[0].fill.qty == 3
    marketable = book.submit(order("X", SELL, 2, LIMIT, limit_price=D("5999")), T0)
    assert of(marketable, OrderFilled)[0].fill.qty == 2
    book.submit(order("S", SELL, 1, STOP, stop_price=D("5998")), T0)
    assert of(book.on_price("ESZ6", D("5997"), at(1)), OrderFilled)[0].fill.qty == 1


def test_a_take_profit_filled_in_parts_cuts_its_stop_and_ends_the_pair_when_whole():
    book = engine()
    book.submit_bracket(
        order("E", BUY, 2), D("6002"), D("5998"), T0, take_profit_id="TP", stop_loss_id="SL"
    )
    part = book.on_price("ESZ6", D("6002"), at(1))
    assert [e.fill.qty for e in of(part, OrderFilled)] == [1]
    [cut] = of(part, OrderModified)
    assert (cut.order.client_order_id, cut.order.qty) == ("SL", 1)  # never more than held
    assert book.order("SL").status is OrderStatus.WORKING
    rest = book.on_price("ESZ6", D("6002.25"), at(2))
    assert [e.fill.fill_id for e in of(rest, OrderFilled)] == ["TP-2"]
    assert [e.order.client_order_id for e in of(rest, OrderCancelled)] == ["SL"]
    assert book.position("ESZ6").qty == 0 and book.working_orders() == ()


def test_an_entry_filled_in_parts_releases_its_exits_and_grows_them():
    book = engine()
    book.submit_bracket(
        order("E", BUY, 2, LIMIT, limit_price=D("5999")),
        None,
        D("5995"),
        T0,
        stop_loss_id="SL",
    )
    first = book.on_price("ESZ6", D("5999"), at(1))
    assert book.order("SL").qty == 1 and book.order("SL").status is OrderStatus.WORKING
    assert of(first, OrderFilled)[0].order.status is OrderStatus.WORKING
    second = book.on_price("ESZ6", D("5999"), at(2))
    [grown] = of(second, OrderModified)
    assert (grown.order.client_order_id, grown.order.qty) == ("SL", 2)


def test_the_cap_must_be_a_whole_number_of_at_least_one():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(DomainValidationError):
            MatchingEngine(TERMS, max_fill_per_print=bad)


@given(qty=st.integers(1, 12), cap=st.integers(1, 5), prints=st.integers(1, 20))
def test_parts_never_fill_more_than_the_order(qty, cap, prints):
    book = engine(cap)
    book.submit(order("L", SELL, qty, LIMIT, limit_price=D("6001")), T0)
    filled = 0
    for n in range(prints):
        events = book.on_price("ESZ6", D("6001"), at(n + 1))
        filled += sum(e.fill.qty for e in of(events, OrderFilled))
    assert filled == min(qty, cap * prints)
    assert book.position("ESZ6").qty == -filled
