"""Break-even arithmetic: parsing, the trigger, the level on the grid, never loosening."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.break_even import (
    BreakEvenAction,
    BreakEvenSpec,
    level,
    parse_break_even,
    step,
    tighter,
    trigger_price,
    triggered,
)
from app.domain.contracts import is_on_tick
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.vocabulary import PositionSide

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
D = Decimal
Q = D("0.25")


def test_parses_an_offset_trigger_and_offset():
    spec = parse_break_even({"trigger": {"ticks": 8}, "offset": {"ticks": 1}})
    assert spec == BreakEvenSpec(ExitSpec(OffsetUnit.TICKS, D(8)), ExitSpec(OffsetUnit.TICKS, D(1)))
    assert spec.to_json() == {"trigger": {"ticks": "8"}, "offset": {"ticks": "1"}}


def test_parses_first_target_and_a_missing_offset():
    spec = parse_break_even({"trigger": "first_target"})
    assert spec.on_first_target and spec.offset is None
    assert spec.to_json() == {"trigger": "first_target"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ("8", "break_even"),
        ({}, "break_even.trigger"),
        ({"trigger": {"ticks": 8}, "delay": 1}, "break_even"),
        ({"trigger": {"price": 5010}}, "break_even.trigger"),
        ({"trigger": {"ticks": -1}}, "break_even.trigger.ticks"),
        ({"trigger": {"ticks": 8}, "offset": {"ticks": 1.5}}, "break_even.offset.ticks"),
        ({"trigger": "second_target"}, "break_even.trigger"),
    ],
)
def test_refuses_what_it_cannot_follow_naming_the_field(payload, field):
    with pytest.raises(DomainValidationError) as refused:
        parse_break_even(payload)
    assert refused.value.field == field


def test_trigger_is_an_offset_into_profit_rounded_toward_the_entry():
    spec = BreakEvenSpec(ExitSpec(OffsetUnit.POINTS, D("2.1")))
    assert trigger_price(LONG, D("5000"), spec, Q) == D("5002")
    assert trigger_price(SHORT, D("5000"), spec, Q) == D("4998")
    assert trigger_price(LONG, D("5000"), BreakEvenSpec(None), Q) is None
    assert triggered(LONG, D("5002"), D("5002")) and not triggered(LONG, D("5001.75"), D("5002"))
    assert triggered(SHORT, D("4998"), D("4998")) and not triggered(SHORT, D("4998.25"), D("4998"))


def test_level_is_the_entry_plus_the_offset_rounded_away_from_the_entry():
    one_tick = BreakEvenSpec(None, ExitSpec(OffsetUnit.TICKS, D(1)))
    assert level(LONG, D("5000"), one_tick, Q) == D("5000.25")
    assert level(SHORT, D("5000"), one_tick, Q) == D("4999.75")
    at_entry = BreakEvenSpec(None)
    assert level(LONG, D("5000.1"), at_entry, Q) == D("5000.25")  # an average off the grid
    assert level(SHORT, D("5000.1"), at_entry, Q) == D("5000")


def test_step_moves_holds_waits_and_exits():
    assert (
        step(LONG, D("5004"), D("4996"), D("5000.25"), armed=False).action is BreakEvenAction.WAIT
    )
    moved = step(LONG, D("5004"), D("4996"), D("5000.25"), armed=True)
    assert (moved.action, moved.stop) == (BreakEvenAction.MOVE, D("5000.25"))
    held = step(LONG, D("5004"), D("5001"), D("5000.25"), armed=True)  # a trail is tighter
    assert (held.action, held.stop) == (BreakEvenAction.HOLD, D("5001"))
    gone = step(LONG, D("5000"), D("4996"), D("5000.25"), armed=True)
    assert (gone.action, gone.stop) == (BreakEvenAction.EXIT, D("5000.25"))
    short = step(SHORT, D("4990"), D("5004"), D("4999.75"), armed=True)
    assert (short.action, short.stop) == (BreakEvenAction.MOVE, D("4999.75"))


def test_tighter_of_a_trailing_stop_and_break_even():
    assert tighter(LONG, D("5001"), D("5000.25")) == D("5001")
    assert tighter(SHORT, D("4999"), D("4999.75")) == D("4999")
    assert tighter(LONG, None, D("5000.25")) == D("5000.25")
    assert tighter(SHORT, D("4999"), None) == D("4999")


ticks = st.sampled_from([D("0.25"), D("0.1"), D("0.01"), D("1"), D("0.005")])
sides = st.sampled_from([LONG, SHORT])
offsets = st.one_of(
    st.none(),
    st.integers(1, 40).map(lambda n: ExitSpec(OffsetUnit.TICKS, D(n))),
    st.decimals(D("0.01"), D("20"), places=2).map(lambda n: ExitSpec(OffsetUnit.POINTS, n)),
    st.decimals(D("0.01"), D("2"), places=2).map(lambda n: ExitSpec(OffsetUnit.PERCENT, n)),
)


@given(
    side=sides,
    tick=ticks,
    entry_ticks=st.integers(1_000, 2_000_000),
    entry_skew=st.decimals(D(0), D("0.99"), places=2),
    offset=offsets,
    stop_ticks=st.one_of(st.none(), st.integers(-400, 400)),
    price_ticks=st.integers(-400, 400),
)
def test_break_even_never_loosens_and_stays_on_the_grid(
    side, tick, entry_ticks, entry_skew, offset, stop_ticks, price_ticks
):
    entry = entry_ticks * tick + entry_skew * tick  # an average may sit off the grid
    spec = BreakEvenSpec(None, offset)
    target = level(side, entry, spec, tick)
    assert is_on_tick(target, tick)
    assert target >= entry if side is LONG else target <= entry  # at least break-even
    stop = None if stop_ticks is None else (entry_ticks + stop_ticks) * tick
    price = (entry_ticks + price_ticks) * tick
    result = step(side, price, stop, target, armed=True)
    assert is_on_tick(result.stop, tick)
    if stop is not None:
        assert result.stop >= stop if side is LONG else result.stop <= stop  # never looser
    assert result.stop >= target if side is LONG else result.stop <= target
    if result.action is BreakEvenAction.MOVE:  # a stop the broker takes: on the safe side
        assert result.stop < price if side is LONG else result.stop > price
