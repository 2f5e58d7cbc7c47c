"""The paper matching engine: fill rules, validation, OCO and brackets, positions and P&L."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.matching import (
    ContractTerms,
    MatchingEngine,
    Order,
    OrderAccepted,
    OrderActivated,
    OrderCancelled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderTriggered,
    PositionChanged,
    RequestRejected,
    TradeClosed,
)
from app.domain.positions import Fill, Position, apply_fill
from app.domain.vocabulary import OrderStatus, OrderType, PositionSide, Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL
MARKET, LIMIT, STOP, STOP_LIMIT = (
    OrderType.MARKET,
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
)
TERMS = {
    "ESH6": ContractTerms(D("0.25"), D(50)),
    "MESH6": ContractTerms(D("0.25"), D(5)),
    "NQH6": ContractTerms(D("0.25"), D(20)),
    "CLJ6": ContractTerms(D("0.01"), D(1000)),
    "GCJ6": ContractTerms(D("0.1"), D(100)),
    "6JH6": ContractTerms(D("0.0000005"), D(12500000)),
}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_engine(price: str | None = "6000", symbol: str = "ESH6", **options) -> MatchingEngine:
    engine = MatchingEngine(TERMS, **options)
    if price is not None:
        engine.on_price(symbol, D(price), T0)
    return engine


def make_order(
    coid: str,
    side: Side,
    qty: int,
    order_type: OrderType = MARKET,
    symbol: str = "ESH6",
    **fields,
) -> Order:
    return Order(coid, symbol, side, qty, order_type, **fields)


def of(events: list, kind: type) -> list:
    return [event for event in events if isinstance(event, kind)]


def fills(events: list) -> list[Fill]:
    return [event.fill for event in of(events, OrderFilled)]


def fill_price(events: list) -> D:
    (fill,) = fills(events)
    return fill.price


def trades(events: list) -> list:
    return [event.trade for event in of(events, TradeClosed)]


def status(engine: MatchingEngine, coid: str) -> OrderStatus | None:
    order = engine.order(coid)
    return order.status if order else None


def trade_round_trip(engine: MatchingEngine, symbol: str, side: Side, qty: int, entry, exit_):
    """Open at `entry`, close at `exit_` with market orders; return every event."""
    events = engine.on_price(symbol, D(entry), at(1))
    events += engine.submit(make_order("open", side, qty, symbol=symbol), at(1))
    events += engine.on_price(symbol, D(exit_), at(2))
    closing = SELL if side is BUY else BUY
    events += engine.submit(make_order("close", closing, qty, symbol=symbol), at(2))
    return events


# Market orders.


def test_market_buy_fills_at_last_price_plus_slippage():
    engine = make_engine(slippage_ticks=2)
    events = engine.submit(make_order("m1", BUY, 1), at(1))
    assert [type(event) for event in events] == [OrderAccepted, OrderFilled, PositionChanged]
    assert fill_price(events) == D("6000.50")
    assert engine.order("m1") is None


def test_market_sell_fills_at_last_price_minus_slippage():
    engine = make_engine(slippage_ticks=1)
    assert fill_price(engine.submit(make_order("m1", SELL, 1), at(1))) == D("5999.75")


def test_market_order_before_any_price_is_rejected():
    engine = make_engine(price=None)
    (event,) = engine.submit(make_order("m1", BUY, 1), at(1))
    assert isinstance(event, OrderRejected)
    assert event.reason == "no price for ESH6 yet"
    assert event.order.status is OrderStatus.REJECTED
    assert engine.working_orders() == ()


@pytest.mark.parametrize(("side", "expected"), [(BUY, "6000.25"), (SELL, "6000.00")])
def test_off_grid_print_fills_on_grid_against_the_trader(side, expected):
    engine = make_engine(price="6000.1")
    assert fill_price(engine.submit(make_order("m1", side, 1), at(1))) == D(expected)


def test_fill_ids_are_the_client_order_id_and_a_sequence_number():
    engine = make_engine(commission_per_contract=D("1.25"))
    (fill,) = fills(engine.submit(make_order("abc", BUY, 2), at(1)))
    assert (fill.fill_id, fill.qty, fill.commission, fill.time) == ("abc-1", 2, D("2.50"), at(1))


# Limit orders.


@pytest.mark.parametrize(("side", "limit"), [(BUY, "6002"), (SELL, "5998")])
def test_marketable_limit_fills_at_once_at_the_better_market_price(side, limit):
    engine = make_engine()
    events = engine.submit(make_order("l1", side, 1, LIMIT, limit_price=D(limit)), at(1))
    assert fill_price(events) == D("6000")


@pytest.mark.parametrize(("side", "limit"), [(BUY, "6000.50"), (SELL, "5999.50")])
def test_marketable_limit_with_slippage_is_capped_at_its_limit(side, limit):
    engine = make_engine(slippage_ticks=4)
    events = engine.submit(make_order("l1", side, 1, LIMIT, limit_price=D(limit)), at(1))
    assert fill_price(events) == D(limit)


def test_resting_buy_limit_fills_at_its_limit_when_a_print_reaches_it():
    engine = make_engine(slippage_ticks=3)
    events = engine.submit(make_order("l1", BUY, 1, LIMIT, limit_price=D("5995")), at(1))
    assert of(events, OrderAccepted)[0].order.status is OrderStatus.WORKING
    assert engine.on_price("ESH6", D("5995.25"), at(2)) == []
    assert fill_price(engine.on_price("ESH6", D("5995"), at(3))) == D("5995")


@pytest.mark.parametrize(("side", "limit", "gap"), [(BUY, "5995", "5990"), (SELL, "6005", "6010")])
def test_gap_through_a_resting_limit_fills_at_the_limit_not_better(side, limit, gap):
    engine = make_engine()
    engine.submit(make_order("l1", side, 1, LIMIT, limit_price=D(limit)), at(1))
    assert fill_price(engine.on_price("ESH6", D(gap), at(2))) == D(limit)


def test_limit_accepted_before_any_price_rests_until_reached():
    engine = make_engine(price=None)
    engine.submit(make_order("l1", SELL, 1, LIMIT, limit_price=D("6005")), at(1))
    assert engine.on_price("ESH6", D("6000"), at(2)) == []
    assert fill_price(engine.on_price("ESH6", D("6007"), at(3))) == D("6005")


# Stop orders.


def test_buy_stop_triggers_at_its_price_and_fills_as_market_with_slippage():
    engine = make_engine(slippage_ticks=1)
    engine.submit(make_order("s1", BUY, 1, STOP, stop_price=D("6005")), at(1))
    assert engine.on_price("ESH6", D("6004.75"), at(2)) == []
    events = engine.on_price("ESH6", D("6005"), at(3))
    assert [type(event) for event in events][:2] == [OrderTriggered, OrderFilled]
    assert of(events, OrderTriggered)[0].price == D("6005")
    assert fill_price(events) == D("6005.25")


@pytest.mark.parametrize(
    ("side", "stop", "gap", "expected"),
    [(BUY, "6005", "6012", "6012.25"), (SELL, "5995", "5988", "5987.75")],
)
def test_gap_through_a_stop_fills_at_the_gapped_print(side, stop, gap, expected):
    engine = make_engine(slippage_ticks=1)
    engine.submit(make_order("s1", side, 1, STOP, stop_price=D(stop)), at(1))
    assert fill_price(engine.on_price("ESH6", D(gap), at(2))) == D(expected)


@pytest.mark.parametrize(
    ("side", "stop", "words"),
    [(BUY, "6000", "at or below"), (BUY, "5999.75", "at or below"), (SELL, "6000.25", "above")],
)
def test_stop_on_the_wrong_side_of_the_market_is_rejected(side, stop, words):
    engine = make_engine()
    (event,) = engine.submit(make_order("s1", side, 1, STOP, stop_price=D(stop)), at(1))
    assert isinstance(event, OrderRejected)
    assert words in event.reason and "trigger at once" in event.reason


def test_stop_accepted_before_any_price_triggers_on_the_first_print_through_it():
    engine = make_engine(price=None)
    engine.submit(make_order("s1", SELL, 1, STOP, stop_price=D("5995")), at(1))
    assert fill_price(engine.on_price("ESH6", D("5990"), at(2))) == D("5990")


# Stop-limit orders.


def test_buy_stop_limit_triggers_then_rests_as_a_limit():
    engine = make_engine()
    order = make_order("sl1", BUY, 1, STOP_LIMIT, stop_price=D("6005"), limit_price=D("6006"))
    engine.submit(order, at(1))
    events = engine.on_price("ESH6", D("6008"), at(2))
    assert [type(event) for event in events] == [OrderTriggered]
    assert engine.order("sl1").triggered
    assert engine.on_price("ESH6", D("6006.25"), at(3)) == []
    assert fill_price(engine.on_price("ESH6", D("6005.50"), at(4))) == D("6006")


def test_sell_stop_limit_triggers_then_rests_as_a_limit():
    engine = make_engine()
    order = make_order("sl1", SELL, 1, STOP_LIMIT, stop_price=D("5995"), limit_price=D("5994"))
    engine.submit(order, at(1))
    assert of(engine.on_price("ESH6", D("5993"), at(2)), OrderTriggered)
    assert fill_price(engine.on_price("ESH6", D("5994.50"), at(3))) == D("5994")


def test_stop_limit_marketable_at_its_trigger_fills_at_the_trigger_print():
    engine = make_engine()
    order = make_order("sl1", BUY, 1, STOP_LIMIT, stop_price=D("6005"), limit_price=D("6006"))
    engine.submit(order, at(1))
    assert fill_price(engine.on_price("ESH6", D("6005.25"), at(2))) == D("6005.25")


@pytest.mark.parametrize(("side", "stop", "limit"), [(BUY, "6005", "6004"), (SELL, "5995", "5996")])
def test_stop_limit_with_its_limit_beyond_its_stop_is_rejected(side, stop, limit):
    engine = make_engine()
    order = make_order("sl1", side, 1, STOP_LIMIT, stop_price=D(stop), limit_price=D(limit))
    (event,) = engine.submit(order, at(1))
    assert isinstance(event, OrderRejected) and "stop-limit's limit" in event.reason


def test_the_stop_of_a_triggered_stop_limit_cannot_be_moved():
    engine = make_engine()
    order = make_order("sl1", BUY, 1, STOP_LIMIT, stop_price=D("6005"), limit_price=D("6005"))
    engine.submit(order, at(1))
    engine.on_price("ESH6", D("6007"), at(2))
    (event,) = engine.modify("sl1", at(3), stop_price=D("6010"))
    assert isinstance(event, RequestRejected) and event.reason == "the stop has already triggered"


# Validation.


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (make_order("x", BUY, 0), "quantity must be a whole number of contracts, at least 1"),
        (make_order("x", BUY, -2), "at least 1"),
        (make_order("x", BUY, True), "whole number"),
        (make_order("x", BUY, 1, LIMIT), "a limit order needs a limit price"),
        (make_order("x", BUY, 1, STOP), "a stop order needs a stop price"),
        (make_order("x", BUY, 1, STOP_LIMIT, limit_price=D(6010)), "needs a stop price"),
        (make_order("x", BUY, 1, limit_price=D(6000)), "a market order takes no limit price"),
        (make_order("x", BUY, 1, LIMIT, limit_price=D(6000), stop_price=D(6001)), "no stop"),
        (make_order("x", BUY, 1, LIMIT, limit_price=D("5999.1")), "not on the 0.25 tick grid"),
        (make_order("x", SELL, 1, STOP, stop_price=D("5990.3")), "stop price 5990.3 is not on"),
        (make_order("x", BUY, 1, symbol="ZZZ9"), "unknown contract ZZZ9"),
        (make_order("", BUY, 1), "client order id is empty"),
        (make_order("x", BUY, 1, parent_id="nope"), "parent order nope is not working"),
    ],
)
def test_invalid_orders_are_rejected_with_a_reason(order, reason):
    engine = make_engine()
    (event,) = engine.submit(order, at(1))
    assert isinstance(event, OrderRejected)
    assert reason in event.reason
    assert engine.working_orders() == ()


def test_a_client_order_id_in_use_is_rejected():
    engine = make_engine()
    engine.submit(make_order("dup", BUY, 1, LIMIT, limit_price=D(5990)), at(1))
    (event,) = engine.submit(make_order("dup", BUY, 1, LIMIT, limit_price=D(5980)), at(2))
    assert event.reason == "client order id dup is already in use"
    assert engine.order("dup").limit_price == D(5990)


@pytest.mark.parametrize("options", [{"slippage_ticks": -1}, {"slippage_ticks": 1.5}])
def test_engine_refuses_bad_slippage(options):
    with pytest.raises(DomainValidationError):
        MatchingEngine(TERMS, **options)


def test_engine_refuses_a_float_commission_and_a_float_price():
    with pytest.raises(DomainValidationError):
        MatchingEngine(TERMS, commission_per_contract=1.5)
    with pytest.raises(DomainValidationError):
        MatchingEngine(TERMS).on_price("ESH6", 6000.25, T0)


def test_terms_may_come_from_a_callable():
    engine = MatchingEngine(lambda symbol: TERMS.get(symbol.upper()))
    engine.on_price("esh6", D("6000"), T0)
    assert fill_price(engine.submit(make_order("m", BUY, 1, symbol="esh6"), at(1))) == D(6000)


# Cancel and modify.


def test_cancel_removes_a_working_order():
    engine = make_engine()
    engine.submit(make_order("l1", BUY, 1, LIMIT, limit_price=D(5990)), at(1))
    (event,) = engine.cancel("l1", at(2))
    assert isinstance(event, OrderCancelled)
    assert (event.reason, event.order.status) == ("cancelled by request", OrderStatus.CANCELLED)
    assert engine.on_price("ESH6", D("5980"), at(3)) == []


def test_cancelling_an_unknown_or_filled_order_is_refused():
    engine = make_engine()
    engine.submit(make_order("m1", BUY, 1), at(1))
    for coid in ("m1", "ghost"):
        (event,) = engine.cancel(coid, at(2))
        assert isinstance(event, RequestRejected)
        assert event.request == "cancel" and f"no working order {coid}" in event.reason


def test_modify_moves_a_limit_and_a_marketable_one_fills_at_once():
    engine = make_engine()
    engine.submit(make_order("l1", BUY, 2, LIMIT, limit_price=D(5990)), at(1))
    (event,) = engine.modify("l1", at(2), limit_price=D("5992.50"), qty=3)
    assert isinstance(event, OrderModified)
    assert (event.order.limit_price, event.order.qty) == (D("5992.50"), 3)
    events = engine.modify("l1", at(3), limit_price=D("6001"))
    (fill,) = fills(events)
    assert (fill.price, fill.qty) == (D("6000"), 3)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, "nothing to modify"),
        ({"qty": 0}, "at least 1"),
        ({"limit_price": D("5990.1")}, "not on the 0.25 tick grid"),
        ({"stop_price": D("6010")}, "a limit order takes no stop price"),
    ],
)
def test_invalid_modifications_are_refused_and_change_nothing(changes, reason):
    engine = make_engine()
    engine.submit(make_order("l1", BUY, 1, LIMIT, limit_price=D(5990)), at(1))
    (event,) = engine.modify("l1", at(2), **changes)
    assert isinstance(event, RequestRejected) and reason in event.reason
    assert engine.order("l1") == make_order(
        "l1", BUY, 1, LIMIT, limit_price=D(5990), status=OrderStatus.WORKING
    )


def test_moving_a_buy_stop_below_the_market_is_refused():
    engine = make_engine()
    engine.submit(make_order("s1", BUY, 1, STOP, stop_price=D(6005)), at(1))
    (event,) = engine.modify("s1", at(2), stop_price=D("5999"))
    assert isinstance(event, RequestRejected) and "trigger at once" in event.reason


def test_modifying_an_unknown_order_is_refused():
    (event,) = make_engine().modify("ghost", at(1), qty=2)
    assert isinstance(event, RequestRejected) and event.request == "modify"


# OCO groups and brackets.


def test_a_filled_oco_leg_cancels_the_other_legs():
    engine = make_engine()
    engine.submit(make_order("up", BUY, 1, STOP, stop_price=D(6005), oco_group="brk"), at(1))
    engine.submit(make_order("dn", SELL, 1, STOP, stop_price=D(5995), oco_group="brk"), at(1))
    events = engine.on_price("ESH6", D("6005"), at(2))
    assert [fill.client_order_id for fill in fills(events)] == ["up"]
    (cancelled,) = of(events, OrderCancelled)
    assert (cancelled.order.client_order_id, cancelled.reason) == ("dn", "OCO: up filled")
    assert engine.working_orders() == ()


def test_cancelling_one_oco_leg_leaves_the_other_working():
    engine = make_engine()
    engine.submit(make_order("a", BUY, 1, LIMIT, limit_price=D(5990), oco_group="g"), at(1))
    engine.submit(make_order("b", SELL, 1, LIMIT, limit_price=D(6010), oco_group="g"), at(1))
    engine.cancel("a", at(2))
    assert status(engine, "b") is OrderStatus.WORKING


def submit_long_bracket(engine: MatchingEngine, qty: int = 1, entry: str = "5995") -> list:
    order = make_order("e1", BUY, qty, LIMIT, limit_price=D(entry))
    return engine.submit_bracket(order, D("6010"), D("5985"), at(1))


def test_bracket_exits_are_held_until_the_entry_fills():
    engine = make_engine()
    events = submit_long_bracket(engine, qty=2)
    accepted = {event.order.client_order_id: event.order for event in of(events, OrderAccepted)}
    assert accepted["e1"].status is OrderStatus.WORKING
    for coid in ("e1-tp", "e1-sl"):
        assert accepted[coid].status is OrderStatus.PENDING
        assert (accepted[coid].qty, accepted[coid].oco_group) == (2, "e1")
        assert accepted[coid].reduce_only and accepted[coid].parent_id == "e1"
    assert accepted["e1-tp"].limit_price == D(6010)
    assert accepted["e1-sl"].stop_price == D(5985)
    events = engine.on_price("ESH6", D("5995"), at(2))
    assert [event.order.client_order_id for event in of(events, OrderActivated)] == [
        "e1-tp",
        "e1-sl",
    ]
    assert status(engine, "e1-tp") is status(engine, "e1-sl") is OrderStatus.WORKING


def test_bracket_take_profit_fill_cancels_the_stop_loss():
    engine = make_engine(commission_per_contract=D("2.25"))
    submit_long_bracket(engine, qty=2)
    engine.on_price("ESH6", D("5995"), at(2))
    events = engine.on_price("ESH6", D("6010.25"), at(3))
    assert fill_price(events) == D("6010")
    (cancelled,) = of(events, OrderCancelled)
    assert (cancelled.order.client_order_id, cancelled.reason) == ("e1-sl", "OCO: e1-tp filled")
    (trade,) = trades(events)
    assert (trade.side, trade.qty, trade.exit_order_id) == (PositionSide.LONG, 2, "e1-tp")
    assert (trade.gross_pnl, trade.commission, trade.net_pnl) == (D(1500), D(9), D(1491))
    assert engine.working_orders() == ()


def test_short_bracket_stop_loss_gap_fills_at_the_gap_and_cancels_the_take_profit():
    engine = make_engine(slippage_ticks=1)
    entry = make_order("e2", SELL, 1)
    events = engine.submit_bracket(entry, D("5980"), D("6008"), at(1))
    assert fill_price(events) == D("5999.75")
    events = engine.on_price("ESH6", D("6012"), at(2))
    assert fill_price(events) == D("6012.25")
    assert of(events, OrderCancelled)[0].order.client_order_id == "e2-tp"
    (trade,) = trades(events)
    assert (trade.side, trade.gross_pnl) == (PositionSide.SHORT, D("-625"))


@pytest.mark.parametrize(
    ("side", "take_profit", "stop_loss", "reason"),
    [
        (BUY, "5990", "5980", "stop loss 5980 < entry 5995 < take profit 5990"),
        (BUY, "6010", "5995", "stop loss 5995 < entry 5995"),
        (SELL, "6010", "5980", "take profit 6010 < entry 5995 < stop loss 5980"),
        (BUY, "6010.1", "5980", "take profit: limit price 6010.1 is not on"),
        (BUY, "6010", "5980.3", "stop loss: stop price 5980.3 is not on"),
    ],
)
def test_a_bracket_with_bad_exits_is_rejected_whole(side, take_profit, stop_loss, reason):
    engine = make_engine()
    entry = make_order("e1", side, 1, LIMIT, limit_price=D(5995))
    events = engine.submit_bracket(entry, D(take_profit), D(stop_loss), at(1))
    assert [type(event) for event in events] == [OrderRejected] * 3
    assert reason in events[0].reason
    assert events[1].reason.startswith("bracket entry e1 rejected: ")
    assert engine.working_orders() == ()


def test_bracket_ids_and_group_may_be_given():
    engine = make_engine()
    entry = make_order("e1", BUY, 1, LIMIT, limit_price=D(5995))
    events = engine.submit_bracket(
        entry, D(6010), D(5985), at(1), take_profit_id="tp9", stop_loss_id="sl9", oco_group="g9"
    )
    exits = [event.order for event in of(events, OrderAccepted)][1:]
    assert [(o.client_order_id, o.oco_group) for o in exits] == [("tp9", "g9"), ("sl9", "g9")]
    clash = engine.submit_bracket(
        make_order("e2", BUY, 1, LIMIT, limit_price=D(5995)),
        D(6010),
        D(5985),
        at(2),
        take_profit_id="tp9",
    )
    assert "distinct and unused" in clash[0].reason


def test_cancelling_a_bracket_entry_cancels_its_held_exits():
    engine = make_engine()
    submit_long_bracket(engine)
    events = engine.cancel("e1", at(2))
    assert [(e.order.client_order_id, e.reason) for e in events] == [
        ("e1", "cancelled by request"),
        ("e1-tp", "entry e1 was cancelled"),
        ("e1-sl", "entry e1 was cancelled"),
    ]
    assert engine.working_orders() == ()


def test_resizing_a_bracket_entry_resizes_its_held_exits():
    engine = make_engine()
    submit_long_bracket(engine, qty=1)
    events = engine.modify("e1", at(2), qty=3)
    assert [(e.order.client_order_id, e.order.qty) for e in events] == [
        ("e1", 3),
        ("e1-tp", 3),
        ("e1-sl", 3),
    ]
    (event,) = engine.modify("e1-tp", at(3), qty=2)
    assert isinstance(event, RequestRejected) and "follows its entry" in event.reason


def test_an_entry_gapping_through_its_take_profit_exits_at_once():
    engine = make_engine()
    entry = make_order("e1", BUY, 1, STOP, stop_price=D(6002))
    engine.submit_bracket(entry, D(6006), D(5996), at(1))
    events = engine.on_price("ESH6", D("6009"), at(2))
    assert [(f.client_order_id, f.price) for f in fills(events)] == [
        ("e1", D(6009)),
        ("e1-tp", D(6009)),
    ]
    assert engine.position("ESH6").qty == 0 and engine.working_orders() == ()


def test_two_bracketed_entries_in_one_oco_group_make_a_breakout():
    engine = make_engine()
    up = make_order("up", BUY, 1, STOP, stop_price=D(6004), oco_group="brk")
    down = make_order("down", SELL, 1, STOP, stop_price=D(5996), oco_group="brk")
    engine.submit_bracket(up, D(6012), D(5998), at(1))
    engine.submit_bracket(down, D(5988), D(6002), at(1))
    events = engine.on_price("ESH6", D("5995"), at(2))
    assert [f.client_order_id for f in fills(events)] == ["down"]
    assert [e.order.client_order_id for e in of(events, OrderCancelled)] == [
        "up",
        "up-tp",
        "up-sl",
    ]
    assert [o.client_order_id for o in engine.working_orders()] == ["down-tp", "down-sl"]


def test_closing_one_of_three_by_hand_cuts_the_oco_exits_to_two():
    engine = make_engine()
    submit_long_bracket(engine, qty=3, entry="6000")
    engine.on_price("ESH6", D("6004"), at(2))
    events = engine.submit(make_order("x1", SELL, 1), at(2))
    cut = of(events, OrderModified)
    assert [(e.order.client_order_id, e.order.qty) for e in cut] == [("e1-tp", 2), ("e1-sl", 2)]
    assert cut[0].reason == "reduce-only: cut to the 2-lot position"
    events = engine.on_price("ESH6", D("6010"), at(3))
    (trade,) = trades(events)
    assert (trade.qty, trade.entry_price, trade.exit_price) == (3, D(6000), D(6008))
    assert trade.gross_pnl == D(1200)


def test_closing_the_position_by_hand_cancels_reduce_only_exits():
    engine = make_engine()
    submit_long_bracket(engine, qty=2, entry="6000")
    events = engine.submit(make_order("x1", SELL, 2), at(2))
    assert [(e.order.client_order_id, e.reason) for e in of(events, OrderCancelled)] == [
        ("e1-tp", "reduce-only: no position left to reduce"),
        ("e1-sl", "reduce-only: no position left to reduce"),
    ]


@pytest.mark.parametrize(
    ("side", "qty", "reason"),
    [
        (BUY, 1, "reduce-only buy needs a short position in ESH6"),
        (SELL, 3, "reduce-only quantity 3 exceeds the 2-lot position"),
    ],
)
def test_a_reduce_only_order_that_would_not_reduce_is_rejected(side, qty, reason):
    engine = make_engine()
    engine.submit(make_order("m1", BUY, 2), at(1))
    order = make_order("r1", side, qty, LIMIT, limit_price=D(6010), reduce_only=True)
    (event,) = engine.submit(order, at(2))
    assert event.reason == reason


# Positions and P&L.


@pytest.mark.parametrize(
    ("symbol", "side", "qty", "entry", "exit_", "commission", "gross", "net"),
    [
        ("ESH6", BUY, 2, "6000.25", "6003.75", "1.29", "350.00", "344.84"),
        ("MESH6", BUY, 3, "6000.00", "5998.75", "0.62", "-18.75", "-22.47"),
        ("NQH6", SELL, 1, "21000.50", "20990.25", "2.14", "205.00", "200.72"),
        ("CLJ6", BUY, 1, "70.12", "70.57", "2.50", "450.00", "445.00"),
        ("GCJ6", SELL, 2, "2701.3", "2705.8", "2.50", "-900.00", "-910.00"),
        ("6JH6", BUY, 1, "0.0066000", "0.0066005", "2.50", "6.25", "1.25"),
    ],
)
def test_round_trip_pnl_is_exact_to_the_cent(
    symbol, side, qty, entry, exit_, commission, gross, net
):
    engine = MatchingEngine(TERMS, commission_per_contract=D(commission), cash=D("50000.00"))
    events = trade_round_trip(engine, symbol, side, qty, entry, exit_)
    (trade,) = trades(events)
    assert trade.side is (PositionSide.LONG if side is BUY else PositionSide.SHORT)
    assert (trade.qty, trade.entry_price, trade.exit_price) == (qty, D(entry), D(exit_))
    assert (trade.entry_time, trade.exit_time) == (at(1), at(2))
    assert trade.gross_pnl == D(gross)
    assert trade.commission == D(commission) * 2 * qty
    assert trade.net_pnl == D(net)
    assert engine.position(symbol).realized_pnl == D(gross)
    assert engine.cash == D("50000.00") + D(net)
    assert engine.equity() == engine.cash


def test_partial_exits_realize_as_they_go_and_the_trade_covers_the_round_trip():
    engine = make_engine(commission_per_contract=D(2), cash=D(10000))
    engine.submit(make_order("b", BUY, 3), at(1))
    engine.on_price("ESH6", D("6004"), at(2))
    events = engine.submit(make_order("s1", SELL, 1), at(2))
    assert of(events, OrderFilled)[0].realized_pnl == D(200)
    assert trades(events) == []
    assert (engine.position("ESH6").qty, engine.position("ESH6").avg_price) == (2, D(6000))
    engine.on_price("ESH6", D("6010"), at(3))
    events = engine.submit(make_order("s2", SELL, 2), at(3))
    assert of(events, OrderFilled)[0].realized_pnl == D(1000)
    (trade,) = trades(events)
    assert (trade.qty, trade.entry_price, trade.exit_price) == (3, D(6000), D(6008))
    assert (trade.entry_time, trade.exit_time, trade.exit_order_id) == (at(1), at(3), "s2")
    assert (trade.gross_pnl, trade.commission, trade.net_pnl) == (D(1200), D(12), D(1188))
    assert engine.cash == D(10000) + D(1200) - D(12)


def test_average_price_is_total_cost_over_quantity_with_more_decimals_than_the_tick():
    engine = make_engine(price="6000.25")
    engine.submit(make_order("b1", BUY, 1), at(1))
    engine.on_price("ESH6", D("6000"), at(2))
    engine.submit(make_order("b2", BUY, 2), at(2))
    position = engine.position("ESH6")
    assert (position.qty, position.cost) == (3, D("18000.25"))
    assert position.avg_price == D("18000.25") / 3
    assert engine.unrealized_pnl({"ESH6": D("6001")}) == D("137.50")


def test_mixed_price_partial_exits_sum_to_the_exact_trade_gross():
    engine = make_engine(price="6000.25")
    engine.submit(make_order("b1", BUY, 1), at(1))
    engine.on_price("ESH6", D("6000"), at(2))
    engine.submit(make_order("b2", BUY, 2), at(2))
    engine.on_price("ESH6", D("6001"), at(3))
    first = of(engine.submit(make_order("s1", SELL, 1), at(3)), OrderFilled)[0].realized_pnl
    assert abs(first - D("45.8333333333333333")) < D("1e-9")
    engine.on_price("ESH6", D("6002"), at(4))
    (trade,) = trades(engine.submit(make_order("s2", SELL, 2), at(4)))
    assert trade.gross_pnl == D("237.50")
    assert engine.position("ESH6").realized_pnl == D("237.50")
    assert engine.position("ESH6").cost == 0


def test_a_flip_closes_the_trade_and_opens_the_rest_at_the_fill_price():
    engine = make_engine(commission_per_contract=D("2.5"), cash=D(10000))
    engine.submit(make_order("b", BUY, 2), at(1))
    engine.on_price("ESH6", D("6010"), at(2))
    events = engine.submit(make_order("flip", SELL, 5), at(2))
    assert of(events, OrderFilled)[0].realized_pnl == D(1000)
    (trade,) = trades(events)
    assert (trade.side, trade.qty, trade.gross_pnl, trade.commission) == (
        PositionSide.LONG,
        2,
        D(1000),
        D(10),
    )
    position = engine.position("ESH6")
    assert (position.qty, position.avg_price, position.opened_at) == (-3, D(6010), at(2))
    assert position.commission == D("7.5")
    engine.on_price("ESH6", D("6000"), at(3))
    (trade,) = trades(engine.submit(make_order("cover", BUY, 3), at(3)))
    assert (trade.side, trade.qty, trade.entry_time) == (PositionSide.SHORT, 3, at(2))
    assert (trade.gross_pnl, trade.commission, trade.net_pnl) == (D(1500), D(15), D(1485))
    assert engine.cash == D(10000) + D(2500) - D("2.5") * 10


def test_cash_and_equity_follow_realized_unrealized_and_commissions():
    engine = make_engine(commission_per_contract=D("1.50"), cash=D("25000"))
    engine.submit(make_order("b", BUY, 2), at(1))
    assert engine.cash == D("24997.00")
    engine.on_price("ESH6", D("6005"), at(2))
    assert engine.unrealized_pnl() == D(500)
    assert engine.equity() == D("25497.00")
    assert engine.equity({"ESH6": D("5990")}) == D("23997.00")
    engine.submit(make_order("s", SELL, 5), at(2))
    engine.on_price("ESH6", D("6001"), at(3))
    assert engine.position("ESH6").qty == -3
    assert engine.unrealized_pnl() == D(600)
    assert engine.cash == D("25000") + D(500) - D("1.50") * 7


def test_positions_lists_flat_symbols_with_their_realized_pnl():
    engine = MatchingEngine(TERMS)
    trade_round_trip(engine, "CLJ6", BUY, 1, "70.00", "70.10")
    (position,) = engine.positions()
    assert (position.symbol, position.qty, position.realized_pnl) == ("CLJ6", 0, D(100))
    assert position.avg_price is None and position.opened_at is None


# Flatten.


def test_flatten_cancels_the_symbols_orders_and_closes_the_position():
    engine = make_engine()
    submit_long_bracket(engine, qty=2, entry="6000")
    engine.submit(make_order("far", BUY, 1, LIMIT, limit_price=D(5900)), at(1))
    engine.on_price("ESH6", D("5998"), at(2))
    events = engine.flatten("ESH6", "kill-1", at(3))
    assert {e.order.client_order_id for e in of(events, OrderCancelled)} == {
        "e1-tp",
        "e1-sl",
        "far",
    }
    (fill,) = fills(events)
    assert (fill.client_order_id, fill.side, fill.qty, fill.price) == ("kill-1", SELL, 2, D(5998))
    assert trades(events)[0].gross_pnl == D(-200)
    assert engine.working_orders() == () and engine.position("ESH6").qty == 0


def test_flatten_when_flat_only_cancels():
    engine = make_engine()
    engine.submit(make_order("l", BUY, 1, LIMIT, limit_price=D(5990)), at(1))
    events = engine.flatten("ESH6", "kill-1", at(2))
    assert [type(event) for event in events] == [OrderCancelled]


# Restoring from persisted state.


def snapshot(engine: MatchingEngine, **options) -> MatchingEngine:
    """A new engine from what an adapter would have persisted."""
    return MatchingEngine(
        TERMS,
        cash=engine.cash,
        orders=engine.working_orders(),
        positions=engine.positions(),
        last_prices={symbol: engine.last_price(symbol) for symbol in TERMS},
        **options,
    )


def test_an_engine_rebuilt_from_its_state_behaves_identically():
    options = {"slippage_ticks": 1, "commission_per_contract": D("1.10")}
    engine = make_engine(**options)
    submit_long_bracket(engine, qty=2)
    engine.submit(make_order("b", BUY, 1), at(1))
    engine.submit(
        make_order("sl", SELL, 1, STOP_LIMIT, stop_price=D(5997), limit_price=D(5996)), at(1)
    )
    engine.on_price("ESH6", D("5996.50"), at(2))
    twin = snapshot(engine, **options)
    for step, price in enumerate(["5995", "5994", "6003", "6011"], start=3):
        assert engine.on_price("ESH6", D(price), at(step)) == twin.on_price(
            "ESH6", D(price), at(step)
        )
    assert (twin.cash, twin.positions()) == (engine.cash, engine.positions())


def test_position_replay_from_fills_matches_the_engine():
    engine = make_engine(commission_per_contract=D("0.5"))
    every_fill = []
    for coid, side, qty, price in [
        ("a", BUY, 2, "6000"),
        ("b", SELL, 1, "6003"),
        ("c", BUY, 3, "6001.25"),
        ("d", SELL, 6, "6004"),
    ]:
        engine.on_price("ESH6", D(price), at(1))
        every_fill += fills(engine.submit(make_order(coid, side, qty), at(1)))
    assert Position.replay("ESH6", every_fill, D(50)) == engine.position("ESH6")


def test_a_position_from_a_row_restores_qty_average_and_realized():
    position = Position.from_average("ESH6", -2, D("6010.50"), realized_pnl=D(75), opened_at=T0)
    assert (position.avg_price, position.cost) == (D("6010.50"), D("12021.00"))
    fill = Fill("f", "c", "ESH6", BUY, 2, D("6000.50"), D(0), at(1))
    effect = apply_fill(position, fill, D(50))
    assert effect.realized_pnl == D(1000)
    assert effect.position.realized_pnl == D(1075)
    assert effect.trade.entry_time == T0 and effect.trade.gross_pnl == D(1000)


def test_restoring_a_held_exit_without_its_entry_fails_loudly():
    orphan = make_order(
        "tp", SELL, 1, LIMIT, limit_price=D(6010), parent_id="gone", status=OrderStatus.PENDING
    )
    with pytest.raises(DomainValidationError, match="waits for gone"):
        MatchingEngine(TERMS, orders=[orphan])
    filled = make_order("f", BUY, 1, status=OrderStatus.FILLED)
    with pytest.raises(DomainValidationError, match="is filled"):
        MatchingEngine(TERMS, orders=[filled])


# Properties over random price paths and random orders.

PROPERTY_TERMS = {"ESH6": TERMS["ESH6"], "CLJ6": TERMS["CLJ6"]}
PROPERTY_START = {"ESH6": D("6000"), "CLJ6": D("70")}


class Scenario:
    """Drives an engine with random actions and keeps everything it said."""

    def __init__(self, data, slippage: int, commission: D) -> None:
        self.data = data
        self.engine = MatchingEngine(
            PROPERTY_TERMS,
            slippage_ticks=slippage,
            commission_per_contract=commission,
            cash=D(100000),
        )
        self.events: list = []
        self.orders_seen: dict[str, Order] = {}
        self.ids = 0
        self.time = 0

    def draw(self, strategy):
        return self.data.draw(strategy)

    def new_id(self) -> str:
        self.ids += 1
        return f"o{self.ids}"

    def record(self, events: list) -> None:
        self.events += events
        for event in events:
            if hasattr(event, "order"):
                self.orders_seen[event.order.client_order_id] = event.order

    def near(self, symbol: str, ticks: int) -> D:
        tick = PROPERTY_TERMS[symbol].tick_size
        last = self.engine.last_price(symbol) or PROPERTY_START[symbol]
        return (last / tick).to_integral_value() * tick + ticks * tick

    def step(self) -> None:
        self.time += 1
        action = self.draw(st.sampled_from(["price"] * 4 + ["order"] * 3 + ["bracket", "other"]))
        symbol = self.draw(st.sampled_from(sorted(PROPERTY_TERMS)))
        getattr(self, f"do_{action}")(symbol, at(self.time))

    def do_price(self, symbol: str, now: datetime) -> None:
        price = self.near(symbol, self.draw(st.integers(-6, 6)))
        if self.draw(st.integers(0, 5)) == 0:
            price += PROPERTY_TERMS[symbol].tick_size / 3  # an alert's off-grid price
        self.record(self.engine.on_price(symbol, price, now))

    def do_order(self, symbol: str, now: datetime) -> None:
        order_type = self.draw(st.sampled_from(list(OrderType)))
        side = self.draw(st.sampled_from(list(Side)))
        limit = self.near(symbol, self.draw(st.integers(-5, 5)))
        stop = self.near(symbol, self.draw(st.integers(-5, 5)))
        groups = sorted({o.oco_group for o in self.engine.working_orders() if o.oco_group})
        group = self.draw(st.sampled_from([None, f"g{self.ids}", *groups]))
        order = Order(
            self.new_id(),
            symbol,
            side,
            self.draw(st.integers(1, 3)),
            order_type,
            limit_price=limit if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
            stop_price=stop if order_type in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
            oco_group=group,
            reduce_only=self.draw(st.booleans()),
        )
        self.record(self.engine.submit(order, now))

    def do_bracket(self, symbol: str, now: datetime) -> None:
        side = self.draw(st.sampled_from(list(Side)))
        limit = self.near(symbol, self.draw(st.integers(-3, 3)))
        entry_type = self.draw(st.sampled_from([OrderType.MARKET, OrderType.LIMIT]))
        entry = Order(
            self.new_id(),
            symbol,
            side,
            self.draw(st.integers(1, 3)),
            entry_type,
            limit_price=limit if entry_type is OrderType.LIMIT else None,
        )
        up = self.near(symbol, self.draw(st.integers(4, 10)))
        down = self.near(symbol, -self.draw(st.integers(4, 10)))
        take_profit, stop_loss = (up, down) if side is Side.BUY else (down, up)
        self.record(self.engine.submit_bracket(entry, take_profit, stop_loss, now))

    def do_other(self, symbol: str, now: datetime) -> None:
        working = [o.client_order_id for o in self.engine.working_orders()]
        target = self.draw(st.sampled_from([*working, "unknown"]))
        choice = self.draw(st.sampled_from(["cancel", "qty", "price", "flatten"]))
        if choice == "cancel":
            self.record(self.engine.cancel(target, now))
        elif choice == "qty":
            self.record(self.engine.modify(target, now, qty=self.draw(st.integers(0, 4))))
        elif choice == "price":
            price = self.near(symbol, self.draw(st.integers(-5, 5)))
            self.record(self.engine.modify(target, now, limit_price=price))
        else:
            self.record(self.engine.flatten(symbol, self.new_id(), now))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    slippage=st.integers(0, 2),
    commission=st.sampled_from([D(0), D("1.29"), D("2.5")]),
)
def test_random_trading_keeps_the_books_exact(data, slippage, commission):
    scenario = Scenario(data, slippage, commission)
    for _ in range(data.draw(st.integers(5, 40))):
        scenario.step()
    engine, events = scenario.engine, scenario.events
    all_fills = fills(events)

    # (a) every fill is on its contract's tick grid, and a limit never fills beyond its limit
    for event in of(events, OrderFilled):
        assert event.fill.price % PROPERTY_TERMS[event.fill.symbol].tick_size == 0
        limit = event.order.limit_price
        if limit is not None:
            assert (
                event.fill.price <= limit if event.fill.side is BUY else event.fill.price >= limit
            )

    # (b) a position is the sum of its signed fills
    net = Counter()
    for fill in all_fills:
        net[fill.symbol] += fill.qty if fill.side is BUY else -fill.qty
    for symbol in PROPERTY_TERMS:
        assert engine.position(symbol).qty == net[symbol]

    # (c) realized + unrealized is the brute-force mark-to-market, exactly
    realized = sum((position.realized_pnl for position in engine.positions()), D(0))
    for symbol, terms in PROPERTY_TERMS.items():
        flows = sum(
            (-f.price * f.qty if f.side is BUY else f.price * f.qty)
            for f in all_fills
            if f.symbol == symbol
        )
        mark = engine.last_price(symbol) or D(0)
        brute = (flows + net[symbol] * mark) * terms.point_value
        position = engine.position(symbol)
        unrealized = position.unrealized_pnl(mark, terms.point_value) if position.qty else D(0)
        assert position.realized_pnl + unrealized == brute
        closed = sum((t.gross_pnl for t in trades(events) if t.symbol == symbol), D(0))
        if position.qty == 0:
            assert position.realized_pnl == closed
    commissions = sum((f.commission for f in all_fills), D(0))
    assert engine.cash == D(100000) + realized - commissions
    assert engine.equity() == engine.cash + engine.unrealized_pnl()

    # (d) an OCO group never has more than one leg filled; no order fills twice
    filled_by_group = defaultdict(set)
    for event in of(events, OrderFilled):
        if event.order.oco_group:
            filled_by_group[event.order.oco_group].add(event.order.client_order_id)
    assert all(len(legs) <= 1 for legs in filled_by_group.values())
    fill_ids = [fill.fill_id for fill in all_fills]
    assert len(fill_ids) == len(set(fill_ids))
