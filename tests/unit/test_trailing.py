"""Trailing-stop arithmetic: ratchet, rounding toward the best price, activation, exits."""

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.domain.contracts import is_on_tick
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.trailing import (
    Trail,
    TrailAction,
    TrailState,
    activation_price,
    distance,
    start,
    step,
    stop_for,
)
from app.domain.vocabulary import PositionSide

LONG, SHORT = PositionSide.LONG, PositionSide.SHORT
Q = Decimal("0.25")
D = Decimal


def trail(side=LONG, unit=OffsetUnit.TICKS, amount="8", tick=Q, activation=None) -> Trail:
    return Trail(side, unit, D(amount), tick, None if activation is None else D(activation))


def walk(state: TrailState, *path: str) -> list[tuple[TrailState, TrailAction]]:
    seen = []
    for price in path:
        state, action = step(state, D(price))
        seen.append((state, action))
    return seen


# --- unit tests ----------------------------------------------------------------------------


def test_a_long_trail_ratchets_up_with_the_highs_and_holds_on_dips():
    (s1, a1), (s2, a2), (s3, a3), (s4, a4) = walk(start(trail()), "5000", "5003.25", "5002", "5004")
    assert (a1, s1.best, s1.stop) == (TrailAction.ACTIVATE, D("5000"), D("4998"))
    assert (a2, s2.best, s2.stop) == (TrailAction.TIGHTEN, D("5003.25"), D("5001.25"))
    assert (a3, s3) == (TrailAction.HOLD, s2)  # a dip changes nothing
    assert (a4, s4.best, s4.stop) == (TrailAction.TIGHTEN, D("5004"), D("5002"))


def test_a_short_trail_mirrors_below_the_lows():
    short = trail(SHORT, OffsetUnit.POINTS, "2")
    (s1, a1), (s2, a2), (s3, a3) = walk(start(short), "5000", "4995.5", "4997")
    assert (a1, s1.stop) == (TrailAction.ACTIVATE, D("5002"))
    assert (a2, s2.best, s2.stop) == (TrailAction.TIGHTEN, D("4995.5"), D("4997.5"))
    assert a3 is TrailAction.HOLD and s3.stop == D("4997.5")


def test_a_print_at_or_through_the_stop_is_an_exit_even_on_a_gap():
    state, _ = step(start(trail()), D("5000"))  # stop 4998
    assert step(state, D("4998"))[1] is TrailAction.EXIT
    gapped, action = step(state, D("4990"))
    assert action is TrailAction.EXIT and gapped == state  # never "moved" below the gap
    short, _ = step(start(trail(SHORT)), D("5000"))  # stop 5002
    assert step(short, D("5002.25"))[1] is TrailAction.EXIT
    assert step(short, D("5001.75"))[1] is TrailAction.HOLD


def test_activation_waits_for_its_price_then_trails_from_that_print():
    pending = start(trail(activation="5005"))
    (s1, a1), (s2, a2) = walk(pending, "5002", "4990")
    assert (a1, a2) == (TrailAction.WAIT, TrailAction.WAIT)
    assert s2 == pending and s2.stop is None and not s2.activated
    (s3, a3), (s4, a4) = walk(s2, "5006", "5007")
    assert (a3, s3.activated, s3.best, s3.stop) == (
        TrailAction.ACTIVATE,
        True,
        D("5006"),
        D("5004"),
    )
    assert (a4, s4.stop) == (TrailAction.TIGHTEN, D("5005"))


def test_a_short_activates_at_or_below_its_price():
    pending = start(trail(SHORT, activation="4990"))
    assert step(pending, D("4990.25"))[1] is TrailAction.WAIT
    state, action = step(pending, D("4990"))
    assert action is TrailAction.ACTIVATE and state.stop == D("4992")


@pytest.mark.parametrize(
    ("unit", "amount", "best", "long_stop", "short_stop"),
    [
        (OffsetUnit.TICKS, "8", "5000", "4998", "5002"),
        (OffsetUnit.POINTS, "3.1", "5000", "4997", "5003"),  # 4996.9 rounds up, 5003.1 down
        (OffsetUnit.PERCENT, "0.1", "5000", "4995", "5005"),
        (OffsetUnit.PERCENT, "0.05", "5001.25", "4998.75", "5003.75"),  # 2.500625 pts
    ],
)
def test_percent_points_and_ticks_round_toward_the_best_price(
    unit, amount, best, long_stop, short_stop
):
    assert stop_for(trail(LONG, unit, amount), D(best)) == D(long_stop)
    assert stop_for(trail(SHORT, unit, amount), D(best)) == D(short_stop)


def test_a_percent_trail_widens_as_the_price_rises():
    percent = trail(unit=OffsetUnit.PERCENT, amount="1")
    assert distance(percent, D("5000")) == D("50")
    assert distance(percent, D("6000")) == D("60")


def test_a_trail_narrower_than_a_tick_still_keeps_one_tick():
    tiny = trail(unit=OffsetUnit.POINTS, amount="0.1")
    assert stop_for(tiny, D("5000")) == D("4999.75")
    assert stop_for(replace(tiny, side=SHORT), D("5000")) == D("5000.25")
    assert stop_for(tiny, D("5000.1")) == D("5000")  # an off-grid print: strictly below it


def test_off_grid_prints_still_give_stops_on_the_grid():
    state, _ = step(start(trail(unit=OffsetUnit.POINTS, amount="2")), D("5000.13"))
    assert state.stop == D("4998.25") and is_on_tick(state.stop, Q)


@pytest.mark.parametrize(
    ("side", "spec", "expected"),
    [
        (LONG, ExitSpec(OffsetUnit.TICKS, D(8)), "5002"),
        (SHORT, ExitSpec(OffsetUnit.TICKS, D(8)), "4998"),
        (LONG, ExitSpec(OffsetUnit.POINTS, D("1.3")), "5001.25"),  # toward the entry
        (SHORT, ExitSpec(OffsetUnit.POINTS, D("1.3")), "4998.75"),
        (LONG, ExitSpec(OffsetUnit.PERCENT, D("0.1")), "5005"),
        (LONG, ExitSpec(OffsetUnit.PRICE, D("5010.5")), "5010.5"),
    ],
)
def test_activation_offsets_count_from_the_entry(side, spec, expected):
    assert activation_price(side, D("5000"), spec, Q) == D(expected)


@pytest.mark.parametrize(
    ("unit", "amount"),
    [(OffsetUnit.PRICE, "5"), (OffsetUnit.TICKS, "0"), (OffsetUnit.PERCENT, "100")],
)
def test_a_trail_is_a_positive_distance(unit, amount):
    with pytest.raises(DomainValidationError):
        trail(unit=unit, amount=amount)


def test_a_restored_state_resumes_exactly():
    live, _ = walk(start(trail()), "5000", "5006")[-1]
    restored = TrailState(trail(), activated=True, best=live.best, stop=live.stop)
    assert step(restored, D("5007")) == step(live, D("5007"))


# --- properties over random price paths -----------------------------------------------------

TICKS = [D("0.25"), D("0.1"), D("0.01"), D("0.005"), D("0.0078125"), D("0.0000005"), D("1")]


@st.composite
def trails_and_paths(draw):
    tick = draw(st.sampled_from(TICKS))
    side = draw(st.sampled_from([LONG, SHORT]))
    unit = draw(st.sampled_from([OffsetUnit.TICKS, OffsetUnit.POINTS, OffsetUnit.PERCENT]))
    base_ticks = draw(st.integers(min_value=2_000, max_value=5_000_000))
    base = base_ticks * tick
    if unit is OffsetUnit.TICKS:
        amount = D(draw(st.integers(min_value=1, max_value=200)))
    elif unit is OffsetUnit.POINTS:
        amount = draw(st.integers(min_value=1, max_value=400)) * tick / 2  # on and off the grid
    else:
        amount = D(draw(st.integers(min_value=1, max_value=500))) / 100  # 0.01% .. 5%
    activation = None
    if draw(st.booleans()):
        activation = base + draw(st.integers(min_value=-20, max_value=20)) * tick
    moves = draw(st.lists(st.integers(min_value=-30, max_value=30), min_size=1, max_size=80))
    off_grid = draw(st.booleans())  # alert prices need not be on the grid
    path, ticks = [], base_ticks
    for move in moves:
        ticks = max(ticks + move, 1)
        price = ticks * tick
        if off_grid:
            price += tick * D(draw(st.integers(min_value=0, max_value=9))) / 10
        path.append(price)
    return Trail(side, unit, amount, tick, activation), path


@settings(max_examples=400, deadline=None)
@given(trails_and_paths())
def test_the_stop_never_loosens_and_stays_on_the_grid(case):
    trail_, path = case
    state = start(trail_)
    long = trail_.side is LONG
    for price in path:
        before = state
        state, action = step(state, price)
        if not state.activated:
            assert action is TrailAction.WAIT and state.stop is None
            continue
        assert is_on_tick(state.stop, trail_.tick), (state.stop, trail_.tick)
        if before.stop is not None:
            assert state.stop >= before.stop if long else state.stop <= before.stop
            assert (action is TrailAction.TIGHTEN) == (state.stop != before.stop)
            if action is not TrailAction.EXIT:  # a stop only moves in whole ticks
                moved = abs(state.stop - before.stop)
                assert moved == 0 or moved >= trail_.tick


@settings(max_examples=400, deadline=None)
@given(trails_and_paths())
def test_the_stop_is_never_farther_than_the_trail_and_never_at_the_best_price(case):
    trail_, path = case
    state = start(trail_)
    for price in path:
        state, action = step(state, price)
        if not state.activated or action is TrailAction.EXIT:
            continue
        gap = abs(state.best - state.stop)
        assert gap > 0
        # Farther than the trail only where the trail is under a tick (the one-tick floor).
        assert gap <= max(distance(trail_, state.best), 2 * trail_.tick)
        if distance(trail_, state.best) >= trail_.tick:
            assert gap <= distance(trail_, state.best)
        assert state.stop < state.best if trail_.side is LONG else state.stop > state.best


@settings(max_examples=300, deadline=None)
@given(trails_and_paths())
def test_an_exit_comes_exactly_when_a_print_reaches_the_stop(case):
    trail_, path = case
    state = start(trail_)
    for price in path:
        before = state
        state, action = step(state, price)
        if before.activated:
            through = price <= before.stop if trail_.side is LONG else price >= before.stop
            assert (action is TrailAction.EXIT) == through
            if through:
                assert state == before


@settings(max_examples=200, deadline=None)
@given(trails_and_paths())
def test_nothing_activates_before_a_print_reaches_the_activation_price(case):
    trail_, path = case
    assume(trail_.activation_price is not None)
    state = start(trail_)
    for price in path:
        reached = (
            price >= trail_.activation_price
            if trail_.side is LONG
            else price <= trail_.activation_price
        )
        was_active = state.activated
        state, action = step(state, price)
        if not was_active:
            assert state.activated == reached
            assert action is (TrailAction.ACTIVATE if reached else TrailAction.WAIT)
