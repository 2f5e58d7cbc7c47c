"""`MatchingEngine.modify_stops` (the monitor's batch of stop moves) is `modify` one by one."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.matching import (
    ContractTerms,
    MatchingEngine,
    Order,
    OrderModified,
    Position,
    RequestRejected,
    unknown_order,
)
from app.domain.vocabulary import OrderStatus, OrderType, Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
TICK = D("0.25")
TERMS = {"ESH6": ContractTerms(TICK, D(50)), "NQH6": ContractTerms(TICK, D(20))}
SYMBOLS = sorted(TERMS)
BASE = D(6000)


def _price(offset: int) -> D:
    return BASE + offset * TICK


@st.composite
def orders(draw) -> list[Order]:
    """A book as a restore may hand it over: anything working, some OCO pairs, held exits."""
    made: list[Order] = []
    for n in range(draw(st.integers(0, 12))):
        symbol = draw(st.sampled_from(SYMBOLS))
        side = draw(st.sampled_from(list(Side)))
        order_type = draw(st.sampled_from([OrderType.STOP, OrderType.LIMIT, OrderType.STOP_LIMIT]))
        level = _price(draw(st.integers(-12, 12)))
        limit = stop = None
        if order_type is OrderType.LIMIT:
            limit = level
        elif order_type is OrderType.STOP:
            stop = level
        else:
            stop = level
            nudge = draw(st.integers(0, 3)) * TICK
            limit = stop + nudge if side is Side.BUY else stop - nudge
        parent = None
        if made and draw(st.integers(0, 4)) == 0:
            candidates = [o for o in made if o.parent_id is None]
            if candidates:
                parent = draw(st.sampled_from(candidates)).client_order_id
        made.append(
            Order(
                f"o{n}",
                symbol,
                side,
                draw(st.integers(1, 3)),
                order_type,
                limit_price=limit,
                stop_price=stop,
                oco_group=draw(st.sampled_from([None, None, "g1", "g2"])),
                reduce_only=draw(st.booleans()),
                parent_id=parent,
                status=OrderStatus.PENDING if parent else OrderStatus.WORKING,
                triggered=order_type is OrderType.STOP_LIMIT and draw(st.booleans()),
            )
        )
    return made


@st.composite
def stories(draw):
    book = draw(orders())
    positions = [
        Position.from_average(symbol, qty, BASE if qty else None)
        for symbol in SYMBOLS
        if (qty := draw(st.integers(-4, 4)))
    ]
    last = {
        symbol: _price(draw(st.integers(-10, 10)))
        for symbol in SYMBOLS
        if draw(st.integers(0, 5))  # now and then no price yet
    }
    settle = draw(st.booleans())  # sweep first (the live case) or start from a raw restore
    ids = [order.client_order_id for order in book] + ["unknown"]
    changes = draw(
        st.lists(
            st.tuples(st.sampled_from(ids), st.integers(-14, 14).map(_price)),
            max_size=15,
        )
    )
    return book, positions, last, settle, changes


def _engine(book, positions, last, settle) -> MatchingEngine:
    engine = MatchingEngine(
        TERMS,
        slippage_ticks=1,
        commission_per_contract=D("0.62"),
        cash=D(100000),
        orders=book,
        positions=positions,
        last_prices=last,
    )
    if settle:
        for symbol, price in last.items():
            engine.on_price(symbol, price, T0)
    return engine


def _state(engine: MatchingEngine):
    return engine.working_orders(), engine.positions(), engine.cash


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stories())
def test_a_batch_of_stop_moves_equals_the_moves_one_by_one(story):
    book, positions, last, settle, changes = story
    now = T0 + timedelta(seconds=5)
    one_by_one = _engine(book, positions, last, settle)
    expected = []
    for client_order_id, stop_price in changes:
        expected += one_by_one.modify(client_order_id, now, stop_price=stop_price)
    batched = _engine(book, positions, last, settle)
    assert batched.modify_stops(changes, now) == expected
    assert _state(batched) == _state(one_by_one)


def test_stop_moves_on_a_quiet_book_are_modifications_only():
    engine = MatchingEngine(TERMS, last_prices={"ESH6": BASE})
    engine.on_price("ESH6", BASE, T0)  # the book is swept: nothing the price reaches
    engine.submit(Order("lim", "ESH6", Side.SELL, 1, OrderType.LIMIT, limit_price=_price(8)), T0)
    for n in range(3):
        engine.submit(
            Order(f"s{n}", "ESH6", Side.SELL, 1, OrderType.STOP, stop_price=_price(-8 - n)), T0
        )
    events = engine.modify_stops(
        [("s0", _price(-2)), ("s1", _price(1)), ("lim", _price(-1)), ("gone", _price(-3))], T0
    )
    assert [type(event) for event in events] == [
        OrderModified,
        RequestRejected,
        RequestRejected,
        RequestRejected,
    ]
    assert engine.order("s0").stop_price == _price(-2)
    assert "would trigger at once" in events[1].reason  # a sell stop above the market
    assert not unknown_order(events[1]) and not unknown_order(events[2])
    assert unknown_order(events[3])
    assert engine.order("s1").stop_price == _price(-9) and engine.order("s2") is not None


def test_a_fill_in_one_symbol_wakes_the_exits_it_activates_in_another():
    """A restored NQ stop fills on a move's sweep and activates its bracket's ES stops,
    which ES's last price already reaches: the batch must sweep ES again, as one-by-one
    moves would (found by the property above)."""
    level = _price(0)

    def stop(cid, symbol, side, order_type=OrderType.STOP, parent=None):
        return Order(
            cid,
            symbol,
            side,
            1,
            order_type,
            limit_price=level if order_type is OrderType.STOP_LIMIT else None,
            stop_price=level,
            parent_id=parent,
            status=OrderStatus.PENDING if parent else OrderStatus.WORKING,
        )

    book = [
        stop("o0", "NQH6", Side.BUY),
        stop("o1", "ESH6", Side.BUY, parent="o0"),
        stop("o2", "ESH6", Side.BUY, OrderType.STOP_LIMIT, parent="o0"),
        stop("o4", "NQH6", Side.BUY),
        stop("o5", "ESH6", Side.SELL),
    ]
    last = {"ESH6": _price(1), "NQH6": _price(0)}
    changes = [("o1", _price(0)), ("o4", _price(1)), ("o5", _price(0))]
    now = T0 + timedelta(seconds=5)
    one_by_one = _engine(book, [], last, settle=False)
    expected = []
    for client_order_id, stop_price in changes:
        expected += one_by_one.modify(client_order_id, now, stop_price=stop_price)
    batched = _engine(book, [], last, settle=False)
    assert batched.modify_stops(changes, now) == expected
    assert _state(batched) == _state(one_by_one)
