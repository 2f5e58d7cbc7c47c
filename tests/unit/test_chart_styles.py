"""Chart styles against their textbook definitions, worked by hand on designed price paths."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.bars import Bar
from app.domain.chart_styles import heikin_ashi, kagi, point_and_figure, renko
from app.domain.errors import DomainValidationError

D = Decimal
TICK = D("0.25")
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def ohlc(*rows: tuple[str, str, str, str]) -> list[Bar]:
    """One bar a minute from (open, high, low, close) rows."""
    return [Bar(at(n), *(D(p) for p in row), 10 + n) for n, row in enumerate(rows)]


def closes(*prices: str) -> list[Bar]:
    """Bars whose open, high, low and close are all one price: a close-only path."""
    return ohlc(*((p, p, p, p) for p in prices))


def bricks(chart) -> list[tuple[int, str, str, str]]:
    """Renko bricks as (minute, open, close, direction) for comparing with the hand work."""
    return [
        (
            int((b["time"] - T0).total_seconds() // 60),
            str(b["open"]),
            str(b["close"]),
            b["direction"],
        )
        for b in chart.bricks
    ]


def points(line) -> list[tuple[int, str, str]]:
    return [
        (int((p["time"] - T0).total_seconds() // 60), str(p["price"]), p["thickness"]) for p in line
    ]


def columns(chart) -> list[tuple[str, str, str, int]]:
    return [(c["direction"], str(c["low"]), str(c["high"]), c["boxes"]) for c in chart]


# --- bars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "volume", "field"),
    [
        (("100", "99", "101", "100"), 1, "high"),  # high below low
        (("102", "101", "99", "100"), 1, "open"),  # open above the high
        (("100", "101", "99", "98.75"), 1, "close"),  # close below the low
        (("100", "101", "99", "100"), -1, "volume"),
    ],
)
def test_a_bar_that_cannot_exist_is_refused_naming_the_field(row, volume, field):
    with pytest.raises(DomainValidationError) as refused:
        Bar(T0, *(D(p) for p in row), volume)
    assert refused.value.field == field


# --- Heikin-Ashi -----------------------------------------------------------------------


def test_heikin_ashi_matches_the_hand_computation():
    bars = ohlc(
        ("100", "100", "100", "100"),
        ("100", "105", "99", "104"),
        ("104", "104", "100", "101"),
        ("101", "102", "97", "98"),
        ("98", "103", "98", "103"),
    )
    candles = [
        (str(c["open"]), str(c["high"]), str(c["low"]), str(c["close"]), c["volume"])
        for c in heikin_ashi(bars, TICK)
    ]
    assert candles == [
        # open (100+100)/2 = 100; close 400/4 = 100; high/low the bar's
        ("100.00", "100.00", "100.00", "100.00", 10),
        # open (100+100)/2 = 100; close (100+105+99+104)/4 = 102; high max(105,100,102),
        # low min(99,100,102)
        ("100.00", "105.00", "99.00", "102.00", 11),
        # open (100+102)/2 = 101; close (104+104+100+101)/4 = 102.25 (on the grid)
        ("101.00", "104.00", "100.00", "102.25", 12),
        # open (101+102.25)/2 = 101.625 = 406.5 ticks, half to even: 406 ticks = 101.50;
        # close (101+102+97+98)/4 = 99.5; high max(102, 101.5, 99.5); low 97
        ("101.50", "102.00", "97.00", "99.50", 13),
        # open (101.5+99.5)/2 = 100.5 (the rounded open feeds the next bar); close
        # (98+103+98+103)/4 = 100.5; high 103; low 98
        ("100.50", "103.00", "98.00", "100.50", 14),
    ]


@pytest.mark.parametrize(
    ("first", "opened"),
    [
        # (100 + 100.25)/2 = 100.125 = 400.5 ticks: the even neighbour is 400 ticks = 100.00
        (("100", "100.25", "100", "100.25"), "100.00"),
        # (100.25 + 100.50)/2 = 100.375 = 401.5 ticks: the even neighbour is 402 = 100.50
        (("100.25", "100.5", "100.25", "100.5"), "100.50"),
    ],
)
def test_heikin_ashi_rounds_a_half_tick_to_the_even_tick(first, opened):
    assert str(heikin_ashi(ohlc(first), TICK)[0]["open"]) == opened


def test_heikin_ashi_of_nothing_is_nothing():
    assert heikin_ashi([], TICK) == []


def test_heikin_ashi_of_a_flat_market_is_the_market():
    assert {
        (c["open"], c["high"], c["low"], c["close"])
        for c in heikin_ashi(closes(*["5000"] * 5), TICK)
    } == {(D("5000"),) * 4}


def walk(draw_steps) -> list[Bar]:
    """Bars on the 0.25 grid from (close step, upper wick, lower wick) triples in ticks."""
    price, bars = 20_000, []
    for n, (step, up, down) in enumerate(draw_steps):
        opened, price = price, price + step
        high, low = max(opened, price) + up, min(opened, price) - down
        bars.append(Bar(at(n), *(D(t) * TICK for t in (opened, high, low, price)), n))
    return bars


STEPS = st.lists(st.tuples(st.integers(-12, 12), st.integers(0, 4), st.integers(0, 4)), max_size=60)


@settings(max_examples=150, deadline=None)
@given(STEPS)
def test_heikin_ashi_stays_within_one_and_a_half_ticks_of_the_exact_series(steps):
    bars = walk(steps)
    candles = heikin_ashi(bars, TICK)
    exact_open = exact_close = None
    for bar, candle in zip(bars, candles, strict=True):
        o, h, lo, c = (Fraction(p) for p in (bar.open, bar.high, bar.low, bar.close))
        exact_open = (o + c) / 2 if exact_open is None else (exact_open + exact_close) / 2
        exact_close = (o + h + lo + c) / 4
        assert abs(Fraction(candle["open"]) - exact_open) < Fraction(3, 2) * Fraction(TICK)
        assert abs(Fraction(candle["close"]) - exact_close) <= Fraction(TICK) / 2
        assert candle["high"] == max(bar.high, candle["open"], candle["close"])
        assert candle["low"] == min(bar.low, candle["open"], candle["close"])
        assert all(candle[k] % TICK == 0 for k in ("open", "high", "low", "close"))


# --- Renko -----------------------------------------------------------------------------


def test_renko_matches_the_hand_computation():
    # box 1: the first close 100 sits in the box 100–101 (the start, not drawn)
    chart = renko(closes("100", "101", "103", "102", "99", "98", "101", "104"), TICK, D("1"))
    assert chart.box == D("1")
    assert bricks(chart) == [
        # 101: not a full box above 101. 103: two full boxes above the top 101
        (2, "101.00", "102.00", "up"),
        (2, "102.00", "103.00", "up"),
        # 102: inside the last brick 102–103. 99: a reversal needs a close at or below
        # 102 - 1 = 101 (two boxes below the top 103); 99 passes three boxes from 102
        (4, "102.00", "101.00", "down"),
        (4, "101.00", "100.00", "down"),
        (4, "100.00", "99.00", "down"),
        # 98: one more box down, from 99
        (5, "99.00", "98.00", "down"),
        # 101: up needs 99 + 1 = 100 or more (two boxes above the bottom 98): 99→100→101
        (6, "99.00", "100.00", "up"),
        (6, "100.00", "101.00", "up"),
        # 104: three more boxes up at once
        (7, "101.00", "102.00", "up"),
        (7, "102.00", "103.00", "up"),
        (7, "103.00", "104.00", "up"),
    ]


def test_renko_gap_through_several_boxes_draws_every_box_at_that_bar():
    # box 2.50 from 0: 100 is in 100–102.50; 113 is 4 full boxes above 102.50 (115 is not)
    chart = renko(closes("100", "113"), TICK, D("2.5"))
    assert bricks(chart) == [
        (1, "102.50", "105.00", "up"),
        (1, "105.00", "107.50", "up"),
        (1, "107.50", "110.00", "up"),
        (1, "110.00", "112.50", "up"),
    ]


@pytest.mark.parametrize(
    ("last", "reversed_"),
    [
        ("101", True),  # last brick 102–103: 101 is exactly two boxes below the top
        ("101.25", False),  # a tick short of it
    ],
)
def test_renko_reversal_needs_two_full_boxes_exactly_at_the_threshold(last, reversed_):
    chart = renko(closes("100", "103", last), TICK, D("1"))
    assert bricks(chart)[2:] == ([(2, "102.00", "101.00", "down")] if reversed_ else [])


def test_renko_of_a_flat_market_or_of_nothing_has_no_bricks():
    assert renko(closes(*["100"] * 20), TICK, D("1")).bricks == []
    assert renko([], TICK, D("1")) == renko([], TICK, D("1.00"))
    assert renko([], TICK, D("1")).bricks == []


ATR_BARS = (
    ("9", "10", "8", "9"),
    # TR max(12-10, |12-9|, |10-9|) = 3
    ("10", "12", "10", "11"),
    # TR max(11-9, |11-11|, |9-11|) = 2
    ("11", "11", "9", "9.5"),
    # TR max(9-7, |9-9.5|, |7-9.5|) = 2.5; first ATR(3) = (3+2+2.5)/3 = 2.5
    ("9", "9", "7", "8"),
    # TR max(13-12, |13-8|, |12-8|) = 5; ATR = 2.5 + (5-2.5)/3 = 3.333… = 13.33 ticks
    ("12", "13", "12", "13"),
)


def test_renko_box_from_the_atr_is_rounded_to_the_tick():
    chart = renko(ohlc(*ATR_BARS), TICK, atr_period=3)
    # 13.33 ticks → 13 ticks = 3.25; boxes are multiples of 3.25: the first close 9 is in
    # 6.50–9.75, and 13 is a full box above 9.75
    assert chart.box == D("3.25")
    assert bricks(chart) == [(4, "9.75", "13.00", "up")]


def test_renko_atr_box_needs_enough_bars_and_is_at_least_a_tick():
    # ATR(3) needs 4 bars (three true ranges, each needing the close before)
    assert renko(ohlc(*ATR_BARS[:3]), TICK, atr_period=3) == renko([], TICK)
    assert renko(ohlc(*ATR_BARS[:3]), TICK, atr_period=3).box == 0
    # a flat market's ATR is 0: the box is one tick, and still no brick
    flat = renko(closes(*["100"] * 20), TICK)
    assert (flat.box, flat.bricks) == (TICK, [])


@settings(max_examples=150, deadline=None)
@given(STEPS, st.integers(1, 8))
def test_renko_bricks_are_contiguous_and_each_one_box(steps, box_ticks):
    box = box_ticks * TICK
    chart = renko(walk(steps), TICK, box)
    previous = None
    for brick in chart.bricks:
        assert abs(brick["close"] - brick["open"]) == box
        assert brick["open"] % box == 0
        assert brick["direction"] == ("up" if brick["close"] > brick["open"] else "down")
        if previous is not None:
            # the same way: from the last close; a reversal: from the last brick's open
            same = brick["direction"] == previous["direction"]
            assert brick["open"] == (previous["close"] if same else previous["open"])
        previous = brick


# --- Kagi ------------------------------------------------------------------------------


def test_kagi_matches_the_hand_computation_with_its_thickness():
    line = kagi(closes("100", "104", "101", "100", "103", "99", "102", "105"), TICK, D("2"))
    assert points(line) == [
        # 104 is 4 >= 2 from the first close: the first line rises from 100, yang
        (0, "100.00", "yang"),
        # 101 is 3 back from 104: the line turns; 104 is the shoulder
        (1, "104.00", "yang"),
        # 100 extends the down line; 103 is 3 back: it turns; 100 is the waist
        (3, "100.00", "yang"),
        # 99 is 4 back from 103: it turns (103 the new shoulder) and falls below the
        # waist 100: thin from 100 on
        (4, "103.00", "yang"),
        (5, "100.00", "yin"),
        # 102 is 3 back from 99: it turns (99 the waist), still below the shoulder 103
        (5, "99.00", "yin"),
        # 105 rises above the shoulder 103: thick from 103 on, to the line's end 105
        (7, "103.00", "yang"),
        (7, "105.00", "yang"),
    ]


@pytest.mark.parametrize(
    ("back_to", "end"),
    [
        ("102", [(2, "102.00", "yang")]),  # exactly the reversal amount (2) back from 104
        ("102.25", []),  # a tick short: the line stays where it was
    ],
)
def test_kagi_turns_exactly_at_the_reversal_amount(back_to, end):
    line = points(kagi(closes("100", "104", back_to), TICK, D("2")))
    assert line == [(0, "100.00", "yang"), (1, "104.00", "yang"), *end]


def test_kagi_reversal_between_ticks_is_met_by_the_next_tick():
    # 1.1 on a 0.25 grid: a move of 1.00 is short, 1.25 is enough
    assert kagi(closes("100", "101"), TICK, D("1.1")) == []
    assert len(kagi(closes("100", "101.25"), TICK, D("1.1"))) == 2


def test_kagi_percent_reversal_is_a_percent_of_the_extreme():
    # 10 %: 111 is 11 >= 10 (10 % of the first close 100) above it: the line rises, yang.
    # 100 is 11 back from 111, short of 11.1 (10 % of the extreme 111); 105 neither
    # extends nor turns; 99.75 is 11.25 back: it turns
    line = kagi(closes("100", "111", "100", "105", "99.75"), TICK, D("10"), percent=True)
    assert points(line) == [(0, "100.00", "yang"), (1, "111.00", "yang"), (4, "99.75", "yang")]


def test_kagi_rising_to_the_shoulder_without_passing_it_stays_thin():
    # the hand path up to the yin turn at 99 (bar 5), then 103: exactly the shoulder 103,
    # not above it
    line = kagi(closes("100", "104", "101", "100", "103", "99", "102", "103"), TICK, D("2"))
    assert points(line)[-3:] == [(5, "100.00", "yin"), (5, "99.00", "yin"), (7, "103.00", "yin")]


def test_kagi_falling_to_the_waist_without_passing_it_stays_thick():
    # rises from 100 to 104 (yang), turns at 101, waist 100, turns up at 103, then falls
    # back to exactly the waist 100: not below it
    line = kagi(closes("100", "104", "101", "100", "103", "100"), TICK, D("2"))
    assert points(line)[-2:] == [(4, "103.00", "yang"), (5, "100.00", "yang")]


def test_kagi_first_line_falling_is_yin():
    assert points(kagi(closes("100", "97"), TICK, D("2"))) == [
        (0, "100.00", "yin"),
        (1, "97.00", "yin"),
    ]


def test_kagi_of_a_flat_market_or_of_nothing_has_no_line():
    assert kagi(closes(*["100"] * 10), TICK, D("1")) == []
    assert kagi(closes("100"), TICK, D("1")) == []
    assert kagi([], TICK, D("1")) == []


def lines(line) -> list[tuple[int, Decimal]]:
    """The line's vertical strokes as (direction, length): changes of thickness merged away."""
    strokes: list[list] = []
    for a, b in pairwise(line):
        move = b["price"] - a["price"]
        direction = 1 if move > 0 else -1
        if strokes and strokes[-1][0] == direction:
            strokes[-1][1] += abs(move)
        else:
            strokes.append([direction, abs(move)])
    return [(d, length) for d, length in strokes]


@settings(max_examples=150, deadline=None)
@given(STEPS, st.integers(1, 12))
def test_kagi_alternates_direction_and_every_line_is_at_least_the_reversal(steps, ticks):
    reversal = ticks * TICK
    line = kagi(walk(steps), TICK, reversal)
    strokes = lines(line)
    assert all(a[0] != b[0] for a, b in pairwise(strokes))
    assert all(length >= reversal for _, length in strokes)
    assert all(a["price"] != b["price"] for a, b in pairwise(line))


# --- point & figure --------------------------------------------------------------------


def test_point_and_figure_matches_the_hand_computation():
    chart = point_and_figure(
        ohlc(
            ("100", "100", "100", "100"),  # start: the close 100, level 100
            ("100", "105", "99", "104"),  # the high reaches 105: X from 100 to 105
            (
                "104",
                "104",
                "100",
                "101",
            ),  # no new high; the low 100 is 5 >= 3 boxes below: O 104–100
            ("101", "102", "97", "98"),  # a new low 97 extends the O column
            ("98", "103", "98", "103"),  # no new low; the high 103 is 6 >= 3 above 97: X 98–103
        ),
        TICK,
        D("1"),
    )
    assert columns(chart) == [
        ("X", "100.00", "105.00", 6),
        ("O", "97.00", "104.00", 8),
        ("X", "98.00", "103.00", 6),
    ]


def test_point_and_figure_extends_before_it_reverses():
    # X up to 105; then a bar with a new high 106 and a low 100 (which alone would reverse):
    # the column extends and the low is not looked at
    chart = point_and_figure(
        ohlc(
            ("100", "100", "100", "100"), ("100", "105", "100", "105"), ("105", "106", "100", "101")
        ),
        TICK,
        D("1"),
    )
    assert columns(chart) == [("X", "100.00", "106.00", 7)]


def test_point_and_figure_o_column_extends_before_it_reverses():
    # O down to 95; then a bar with a new low 94 and a high 99 (4 boxes up): extends only
    chart = point_and_figure(
        ohlc(("100", "100", "100", "100"), ("100", "100", "95", "95"), ("95", "99", "94", "98")),
        TICK,
        D("1"),
    )
    assert columns(chart) == [("O", "94.00", "100.00", 7)]


@pytest.mark.parametrize(
    ("low", "reverses"),
    [
        ("102", True),  # exactly 3 boxes below the top 105
        ("102.25", False),  # its level is 103 (a low counts only the levels it reached)
    ],
)
def test_point_and_figure_reversal_exactly_at_the_count(low, reverses):
    chart = point_and_figure(
        ohlc(("100", "100", "100", "100"), ("100", "105", "100", "105"), ("105", "105", low, low)),
        TICK,
        D("1"),
    )
    expected = [("X", "100.00", "105.00", 6)]
    assert columns(chart) == expected + ([("O", "102.00", "104.00", 3)] if reverses else [])


@pytest.mark.parametrize(
    ("high", "reverses"),
    [
        ("98", True),  # exactly 3 boxes above the bottom 95
        ("97.75", False),  # its level is 97 (a high counts only the levels it reached)
    ],
)
def test_point_and_figure_o_reversal_exactly_at_the_count(high, reverses):
    chart = point_and_figure(
        ohlc(("100", "100", "100", "100"), ("100", "100", "95", "95"), ("95", high, "95", high)),
        TICK,
        D("1"),
    )
    expected = [("O", "95.00", "100.00", 6)]
    assert columns(chart) == expected + ([("X", "96.00", "98.00", 3)] if reverses else [])


@pytest.mark.parametrize(
    ("bar", "first"),
    [
        # the close 100.75 starts at level 100; a high of 101 reaches the level above
        (("100.75", "101", "100.75", "101"), ("X", "100.00", "101.00", 2)),
        # a low of 99 reaches the level below
        (("100.75", "100.75", "99", "99"), ("O", "99.00", "100.00", 2)),
        # a bar that does both: the high first
        (("100.75", "101", "99", "100"), ("X", "100.00", "101.00", 2)),
    ],
)
def test_point_and_figure_first_column_starts_one_level_from_the_start(bar, first):
    chart = point_and_figure(ohlc(("100.75",) * 4, bar), TICK, D("1"))
    assert columns(chart) == [first]


def test_point_and_figure_first_column_can_fall_and_a_gap_fills_every_box():
    # levels of box 2 from 0; the close 101 starts at level 100; the low 92.5 reaches 94
    chart = point_and_figure(
        ohlc(("101", "101", "101", "101"), ("101", "101", "92.5", "93")), TICK, D("2")
    )
    assert columns(chart) == [("O", "94.00", "100.00", 4)]


def test_point_and_figure_of_a_flat_market_or_of_one_bar_has_no_column():
    assert point_and_figure(closes(*["100.75"] * 10), TICK, D("1")) == []
    assert point_and_figure(closes("100"), TICK, D("1")) == []
    assert point_and_figure([], TICK, D("1")) == []


@settings(max_examples=150, deadline=None)
@given(STEPS, st.integers(1, 8), st.integers(1, 5))
def test_point_and_figure_columns_alternate_and_hold_the_reversal(steps, box_ticks, count):
    box = box_ticks * TICK
    chart = point_and_figure(walk(steps), TICK, box, count)
    for column in chart:
        assert column["low"] % box == 0 and column["high"] % box == 0
        assert column["boxes"] == (column["high"] - column["low"]) / box + 1
    for before, after in pairwise(chart):
        assert before["direction"] != after["direction"]
        assert after["boxes"] >= count
        if after["direction"] == "O":  # starts one box below the X column's top
            assert after["high"] == before["high"] - box
        else:
            assert after["low"] == before["low"] + box


# --- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("draw", "field"),
    [
        (lambda bars: heikin_ashi(bars, D(0)), "tick"),
        (lambda bars: renko(bars, TICK, D(0)), "box"),
        (lambda bars: renko(bars, TICK, D("-1")), "box"),
        (lambda bars: renko(bars, TICK, D("1.1")), "box"),  # not whole ticks
        (lambda bars: renko(bars, TICK, atr_period=0), "atr_period"),
        (lambda bars: renko(bars, D("-0.25"), D("1")), "tick"),
        (lambda bars: kagi(bars, TICK, D(0)), "reversal"),
        (lambda bars: kagi(bars, TICK, D("-2")), "reversal"),
        (lambda bars: kagi(bars, TICK, D("100"), percent=True), "reversal"),
        (lambda bars: point_and_figure(bars, TICK, D(0)), "box"),
        (lambda bars: point_and_figure(bars, TICK, D("0.3")), "box"),
        (lambda bars: point_and_figure(bars, TICK, D("1"), 0), "reversal"),
        (lambda bars: point_and_figure(bars, TICK, D("1"), 2.5), "reversal"),
        (lambda bars: point_and_figure(bars, TICK, D("1"), True), "reversal"),
    ],
)
@pytest.mark.parametrize("bars", [[], closes("100", "104")], ids=["no bars", "bars"])
def test_bad_parameters_are_refused_naming_the_field(draw, field, bars):
    with pytest.raises(DomainValidationError) as refused:
        draw(bars)
    assert refused.value.field == field


def test_prices_stay_exact_on_a_tick_floats_cannot_hold():
    # crude oil's tick 0.01 is no binary fraction: 75.37 / 0.01 is 7536.999… in floats,
    # yet comes out as 75.37 exactly. HA close (75.37+75.41+75.33+75.39)/4 = 75.375 =
    # 7537.5 ticks → the even tick 7538 = 75.38
    bars = ohlc(("75.37", "75.41", "75.33", "75.39"))
    candle = heikin_ashi(bars, D("0.01"))[0]
    assert (str(candle["high"]), str(candle["low"]), str(candle["close"])) == (
        "75.41",
        "75.33",
        "75.38",
    )
    # box 0.10 from 0: 75.39 is in 75.30–75.40; 75.61 is two full boxes above 75.40
    chart = renko(closes("75.39", "75.61"), D("0.01"), D("0.10"))
    assert [(b["open"], b["close"]) for b in chart.bricks] == [
        (D("75.40"), D("75.50")),
        (D("75.50"), D("75.60")),
    ]


def test_a_price_off_the_tick_grid_is_taken_to_its_nearest_tick():
    # 100.1 on a 0.25 grid is 400.4 ticks → 400 = 100.00
    assert heikin_ashi(closes("100.1"), TICK)[0]["close"] == D("100")


def test_a_tick_too_small_for_exact_arithmetic_is_refused():
    with pytest.raises(DomainValidationError) as refused:
        heikin_ashi(closes("5000"), D("1e-12"))
    assert refused.value.field == "tick"
