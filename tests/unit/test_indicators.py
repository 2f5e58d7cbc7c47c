"""Indicators against their textbook definitions, worked by hand on small designed series."""

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainValidationError
from app.domain.indicators import atr, ema, percent_change, rsi, sma, volume_spike

D = Decimal
NAN = float("nan")


def same(actual: np.ndarray, expected: list[float]) -> bool:
    """Equal to 1e-9, NaN where NaN is expected."""
    return np.allclose(actual, expected, rtol=0, atol=1e-9, equal_nan=True) and len(actual) == len(
        expected
    )


def test_sma_is_the_mean_of_the_last_n():
    # (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+5)/3 = 4
    assert same(sma([1, 2, 3, 4, 5], 3), [NAN, NAN, 2, 3, 4])


def test_sma_reads_decimal_prices():
    # (5000.25 + 5000.75)/2 = 5000.5
    assert same(sma([D("5000.25"), D("5000.75")], 2), [NAN, 5000.5])


def test_ema_is_seeded_with_the_sma_of_the_first_n():
    # a = 2/(3+1) = 0.5; seed (2+4+6)/3 = 4; 4 + 0.5(8-4) = 6; 6 + 0.5(4-6) = 5;
    # 5 + 0.5(10-5) = 7.5
    assert same(ema([2, 4, 6, 8, 4, 10], 3), [NAN, NAN, 4, 6, 5, 7.5])


def test_ema_of_period_one_is_the_series():
    # a = 2/2 = 1: each value replaces the last
    assert same(ema([3, 1, 4, 1, 5], 1), [3, 1, 4, 1, 5])


def test_rsi_uses_wilders_smoothing():
    # changes +1, -0.5, +1, -0.5, +1 (into bars 1..5); period 3:
    # bar 3: gain (1+0+1)/3 = 2/3, loss (0+0.5+0)/3 = 1/6 → 100·(2/3)/(2/3+1/6) = 80
    # bar 4 (-0.5): gain 2/3 + (0-2/3)/3 = 4/9, loss 1/6 + (0.5-1/6)/3 = 5/18
    #        → 100·(4/9)/(4/9+5/18) = 800/13
    # bar 5 (+1): gain 4/9 + (1-4/9)/3 = 17/27, loss 5/18 + (0-5/18)/3 = 5/27
    #        → 100·17/22
    assert same(rsi([10, 11, 10.5, 11.5, 11, 12], 3), [NAN, NAN, NAN, 80, 800 / 13, 100 * 17 / 22])


@pytest.mark.parametrize(
    ("series", "reading"),
    [
        ([5, 5, 5, 5, 5], 50.0),  # flat: neither gains nor losses, the neutral reading
        ([1, 2, 3, 4, 5], 100.0),  # no losses
        ([5, 4, 3, 2, 1], 0.0),  # no gains
    ],
)
def test_rsi_at_its_limits(series, reading):
    assert same(rsi(series, 2), [NAN, NAN, reading, reading, reading])


def test_atr_is_wilders_average_of_the_true_range():
    high = [10, 12, 11, 9, 13]
    low = [8, 10, 9, 7, 12]
    close = [9, 11, 9.5, 8, 13]
    # TR from bar 1: max(12-10, |12-9|, |10-9|) = 3; max(11-9, |11-11|, |9-11|) = 2;
    # max(9-7, |9-9.5|, |7-9.5|) = 2.5; max(13-12, |13-8|, |12-8|) = 5
    # ATR(3) at bar 3: (3+2+2.5)/3 = 2.5; bar 4: 2.5 + (5-2.5)/3 = 10/3
    assert same(atr(high, low, close, 3), [NAN, NAN, NAN, 2.5, 10 / 3])


def test_percent_change_over_a_window():
    # window 1: 110/100 → +10; 99/110 → -10; 121/99 → +22.22…
    assert same(percent_change([100, 110, 99, 121], 1), [NAN, 10, -10, 100 * 22 / 99])
    # window 2: 99/100 → -1; 121/110 → +10
    assert same(percent_change([100, 110, 99, 121], 2), [NAN, NAN, -1, 10])


def test_percent_change_from_zero_is_undefined():
    assert same(percent_change([0, 5, 10], 1), [NAN, NAN, 100])


def test_volume_spike_divides_by_the_average_of_the_bars_before():
    # period 2: 30/((10+20)/2) = 2; 40/((20+30)/2) = 1.6; 0/35 = 0; 60/((40+0)/2) = 3
    assert same(volume_spike([10, 20, 30, 40, 0, 60], 2), [NAN, NAN, 2, 1.6, 0, 3])


def test_volume_spike_after_no_volume_is_undefined():
    assert same(volume_spike([0, 0, 5, 5], 2), [NAN, NAN, NAN, 2])


@pytest.mark.parametrize(
    ("indicator", "from_three"),
    [
        (lambda s: sma(s, 3), 1),  # the mean of the first three, at bar 2
        (lambda s: ema(s, 3), 1),  # its seed, at bar 2
        (lambda s: rsi(s, 3), 0),  # three changes need four bars
        (lambda s: atr(s, s, s, 3), 0),  # three true ranges need four bars
        (lambda s: percent_change(s, 3), 0),  # the value three bars before
        (lambda s: volume_spike(s, 3), 0),  # three bars before the bar
    ],
    ids=["sma", "ema", "rsi", "atr", "percent_change", "volume_spike"],
)
@pytest.mark.parametrize("series", [[], [1], [1, 2, 3]], ids=["empty", "one", "three"])
def test_too_few_bars_give_no_value_and_the_same_length(indicator, from_three, series):
    answer = indicator(series)
    assert len(answer) == len(series)
    assert (~np.isnan(answer)).sum() == (from_three if len(series) == 3 else 0)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: sma([1, 2], 0), "period"),
        (lambda: ema([1, 2], -1), "period"),
        (lambda: rsi([1, 2], 2.5), "period"),
        (lambda: atr([1], [1], [1], True), "period"),
        (lambda: percent_change([1, 2], 0), "window"),
        (lambda: volume_spike([1, 2], 0), "period"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(call, field):
    with pytest.raises(DomainValidationError) as refused:
        call()
    assert refused.value.field == field


VALUES = st.lists(st.integers(1, 40_000).map(lambda t: t / 4), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(VALUES, st.integers(1, 20))
def test_vectorised_indicators_match_the_plain_definition(values, n):
    expected_sma = [
        sum(values[i + 1 - n : i + 1]) / n if i + 1 >= n else NAN for i in range(len(values))
    ]
    assert np.allclose(sma(values, n), expected_sma, rtol=1e-12, equal_nan=True)
    expected_spike = [
        values[i] / (sum(values[i - n : i]) / n) if i >= n else NAN for i in range(len(values))
    ]
    assert np.allclose(volume_spike(values, n), expected_spike, rtol=1e-12, equal_nan=True)
    level, expected_ema = None, []
    for i, value in enumerate(values):
        if i + 1 == n:
            level = sum(values[:n]) / n
        elif level is not None:
            level = 2 / (n + 1) * value + (1 - 2 / (n + 1)) * level
        expected_ema.append(NAN if level is None else level)
    assert np.allclose(ema(values, n), expected_ema, rtol=1e-12, equal_nan=True)
    assert np.all((rsi(values, n)[n:] >= 0) & (rsi(values, n)[n:] <= 100))
