"""Matching engine extensions: brackets with a single exit, and OCO groups placed all or none."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.matching import (
    ContractTerms,
    MatchingEngine,
    Order,
    OrderAccepted,
    OrderActivated,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    TradeClosed,
)
from app.domain.vocabulary import OrderStatus, OrderType, Side

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL
TERMS = {"ESZ6": ContractTerms(D("0.25"), D(50))}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def engine_at(price: str = "6000", **options) -> MatchingEngine:
    engine = MatchingEngine(TERMS, **options)
    engine.on_price("ESZ6", D(price), T0)
    return engine


def order(coid: str, side: Side, qty: int, order_type=OrderType.MARKET, **fields) -> Order:
    return Order(coid, "ESZ6", side, qty, order_type, **fields)


def of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def test_a_stop_loss_only_bracket_holds_one_exit_and_releases_it_on_fill():
    engine = engine_at()
    entry = order("e1", BUY, 2, OrderType.LIMIT, limit_price=D("5995"))
    events = engine.submit_bracket(entry, None, D("5985"), at(1))
    assert [(e.order.client_order_id, e.order.status) for e in events] == [
        ("e1", OrderStatus.WORKING),
        ("e1-sl", OrderStatus.PENDING),
    ]
    events = engine.on_price("ESZ6", D("5995"), at(2))
    (released,) = of(events, OrderActivated)
    assert (released.order.client_order_id, released.order.qty) == ("e1-sl", 2)
    events = engine.on_price("ESZ6", D("5984"), at(3))
    (trade,) = [e.trade for e in of(events, TradeClosed)]
    assert (trade.exit_order_id, trade.gross_pnl) == ("e1-sl", D("-1100"))


def test_a_take_profit_only_bracket_exits_at_its_limit():
    engine = engine_at()
    events = engine.submit_bracket(order("e1", SELL, 1), D("5990"), None, at(1), oco_group="g")
    assert [e.order.client_order_id for e in of(events, OrderAccepted)] == ["e1", "e1-tp"]
    assert engine.order("e1-tp").status is OrderStatus.WORKING
    events = engine.on_price("ESZ6", D("5989"), at(2))
    assert [(f.fill.client_order_id, f.fill.price) for f in of(events, OrderFilled)] == [
        ("e1-tp", D("5990"))
    ]


@pytest.mark.parametrize(
    ("side", "take_profit", "stop_loss", "reason"),
    [
        (BUY, None, None, "a bracket needs a take profit or a stop loss"),
        (BUY, None, "6001", "a buy bracket needs stop loss 6001 < entry 6000"),
        (BUY, "5999", None, "a buy bracket needs entry 6000 < take profit 5999"),
        (SELL, None, "5999", "a sell bracket needs entry 6000 < stop loss 5999"),
        (SELL, "6001", None, "a sell bracket needs take profit 6001 < entry 6000"),
    ],
)
def test_a_single_exit_bracket_on_the_wrong_side_is_rejected_whole(
    side, take_profit, stop_loss, reason
):
    engine = engine_at()
    events = engine.submit_bracket(
        order("e1", side, 1),
        None if take_profit is None else D(take_profit),
        None if stop_loss is None else D(stop_loss),
        at(1),
    )
    assert all(isinstance(event, OrderRejected) for event in events)
    assert events[0].reason == reason
    assert engine.working_orders() == () and engine.position("ESZ6").qty == 0


def test_an_oco_pair_works_at_once_and_one_fill_cancels_the_other():
    engine = engine_at()
    engine.submit(order("long", BUY, 2), at(1))
    take_profit = order("tp", SELL, 2, OrderType.LIMIT, limit_price=D(6010), reduce_only=True)
    stop_loss = order("sl", SELL, 2, OrderType.STOP, stop_price=D(5990), reduce_only=True)
    events = engine.submit_oco([take_profit, stop_loss], "pair", at(2))
    assert [(e.order.client_order_id, e.order.oco_group, e.order.status) for e in events] == [
        ("tp", "pair", OrderStatus.WORKING),
        ("sl", "pair", OrderStatus.WORKING),
    ]
    events = engine.on_price("ESZ6", D("5989.75"), at(3))
    assert [e.fill.client_order_id for e in of(events, OrderFilled)] == ["sl"]
    assert [(e.order.client_order_id, e.reason) for e in of(events, OrderCancelled)] == [
        ("tp", "OCO: sl filled")
    ]


@pytest.mark.parametrize(
    ("legs", "reason"),
    [
        (
            [order("a", SELL, 1, OrderType.LIMIT, limit_price=D(6010))],
            "an OCO group needs at least two orders",
        ),
        (
            [
                order("a", SELL, 1, OrderType.LIMIT, limit_price=D(6010)),
                order("a", SELL, 1, OrderType.STOP, stop_price=D(5990)),
            ],
            "OCO order ids must be distinct",
        ),
        (
            [
                order("a", SELL, 1, OrderType.LIMIT, limit_price=D(6010)),
                order("b", SELL, 1, OrderType.STOP, stop_price=D(6001)),
            ],
            "b: sell stop 6001 is at or above the market 6000",
        ),
        (
            [
                order("a", SELL, 1, OrderType.LIMIT, limit_price=D(6010), reduce_only=True),
                order("b", SELL, 1, OrderType.STOP, stop_price=D(5990), reduce_only=True),
            ],
            "a: reduce-only sell needs a long position in ESZ6",
        ),
    ],
)
def test_an_oco_group_with_one_bad_leg_is_rejected_whole(legs, reason):
    engine = engine_at()
    events = engine.submit_oco(legs, "pair", at(1))
    assert all(isinstance(event, OrderRejected) for event in events)
    assert len(events) == len(legs) and events[0].reason.startswith(reason)
    assert engine.working_orders() == ()


def test_an_oco_group_already_working_cannot_be_joined():
    engine = engine_at()
    legs = [
        order("a", BUY, 1, OrderType.LIMIT, limit_price=D(5990)),
        order("b", SELL, 1, OrderType.LIMIT, limit_price=D(6010)),
    ]
    engine.submit_oco(legs, "pair", at(1))
    again = [
        order("c", BUY, 1, OrderType.LIMIT, limit_price=D(5980)),
        order("d", SELL, 1, OrderType.LIMIT, limit_price=D(6020)),
    ]
    (first, _) = engine.submit_oco(again, "pair", at(2))
    assert first.reason == "OCO group pair is already in use"


def test_a_marketable_oco_leg_fills_on_arrival_and_cancels_its_sibling():
    engine = engine_at()
    engine.submit(order("long", BUY, 1), at(1))
    legs = [
        order("tp", SELL, 1, OrderType.LIMIT, limit_price=D(5999), reduce_only=True),
        order("sl", SELL, 1, OrderType.STOP, stop_price=D(5990), reduce_only=True),
    ]
    events = engine.submit_oco(legs, "pair", at(2))
    (filled,) = of(events, OrderFilled)
    assert (filled.fill.client_order_id, filled.fill.price) == ("tp", D(6000))
    assert engine.working_orders() == ()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    side=st.sampled_from([BUY, SELL]),
    qty=st.integers(1, 4),
    exits=st.sampled_from(["tp", "sl", "both"]),
    path=st.lists(st.integers(-12, 12), min_size=1, max_size=25),
)
def test_a_bracket_never_leaves_more_than_one_exit_filled_or_a_position_unprotected(
    side, qty, exits, path
):
    engine = engine_at()
    up, down = D(6000) + 4, D(6000) - 4
    take_profit = (up if side is BUY else down) if exits in ("tp", "both") else None
    stop_loss = (down if side is BUY else up) if exits in ("sl", "both") else None
    events = engine.submit_bracket(order("e", side, qty), take_profit, stop_loss, at(0))
    for step, ticks in enumerate(path, start=1):
        events += engine.on_price("ESZ6", D(6000) + D(ticks) / 4, at(step))
    exit_fills = [e for e in of(events, OrderFilled) if e.fill.client_order_id != "e"]
    assert len(exit_fills) <= 1
    position = engine.position("ESZ6").qty
    if exit_fills:
        assert position == 0 and engine.working_orders() == ()
    else:
        assert abs(position) == qty
        assert {o.status for o in engine.working_orders()} == {OrderStatus.WORKING}
