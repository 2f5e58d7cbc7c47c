"""Prices into 1-minute bars, and minutes into longer bars, on designed price paths."""

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.bar_building import MinuteBars, period_start, roll_up
from app.domain.bars import Bar
from app.domain.vocabulary import Timeframe

T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC).timestamp()  # a minute's start


def test_prices_in_one_minute_make_one_bar_closed_by_the_next_minute():
    book = MinuteBars()
    for offset, price in [(0, "6000"), (10, "6002.25"), (20, "5999.5"), (59.9, "6001")]:
        assert book.add("MESZ6", D(price), T0 + offset) is None
    closed = book.add("MESZ6", D("6001.25"), T0 + 60)
    assert closed == (
        "MESZ6",
        Bar(datetime.fromtimestamp(T0, UTC), D("6000"), D("6002.25"), D("5999.5"), D("6001"), 4),
    )
    assert book.open_bar("MESZ6").open == D("6001.25")


def test_each_symbol_has_its_own_bar_and_a_gap_stays_a_gap():
    book = MinuteBars()
    book.add("MESZ6", D("6000"), T0)
    book.add("MNQZ6", D("21000"), T0 + 5)
    symbol, bar = book.add("MESZ6", D("6001"), T0 + 180)  # two quiet minutes between
    assert (symbol, bar.time.timestamp(), bar.volume) == ("MESZ6", T0, 1)
    assert book.open_bar("MESZ6").time.timestamp() == T0 + 180  # no bars for the gap
    assert book.open_bar("MNQZ6").close == D("21000")


def test_a_late_price_does_not_reopen_a_closed_minute():
    book = MinuteBars()
    book.add("MESZ6", D("6000"), T0 + 61)
    assert book.add("MESZ6", D("5990"), T0 + 30) is None
    assert book.open_bar("MESZ6").low == D("6000")


def test_bars_whose_minute_has_passed_are_closed_by_the_clock():
    book = MinuteBars()
    book.add("MESZ6", D("6000"), T0 + 10)
    assert book.close_before(T0 + 59) == []  # still its minute
    [(symbol, bar)] = book.close_before(T0 + 60)
    assert (symbol, bar.close) == ("MESZ6", D("6000"))
    assert book.open_bar("MESZ6") is None


def minute(at: str, o, h, lo, c, v=1) -> Bar:
    return Bar(datetime.fromisoformat(at), D(o), D(h), D(lo), D(c), v)


def test_five_minutes_roll_up_from_their_clock_start():
    minutes = [
        minute("2026-12-04T14:31:00+00:00", "10", "12", "9", "11", 2),
        minute("2026-12-04T14:33:00+00:00", "11", "15", "10", "14", 3),
        minute("2026-12-04T14:35:00+00:00", "14", "14", "8", "9", 1),
    ]
    assert roll_up(minutes, Timeframe.M5) == [
        minute("2026-12-04T14:30:00+00:00", "10", "15", "9", "14", 5),
        minute("2026-12-04T14:35:00+00:00", "14", "14", "8", "9", 1),
    ]


def test_a_day_is_the_cme_trading_day_that_opens_at_17_chicago():
    # 22:59 UTC is 16:59 Chicago (CST): Friday's session; 23:00 UTC opens the next day's.
    before = minute("2026-12-03T22:59:00+00:00", "10", "10", "10", "10")
    after = minute("2026-12-03T23:00:00+00:00", "11", "11", "11", "11")
    days = roll_up([before, after], Timeframe.D1)
    assert [d.time.isoformat() for d in days] == [
        "2026-12-02T23:00:00+00:00",
        "2026-12-03T23:00:00+00:00",
    ]
    assert period_start(after.time, Timeframe.H1).isoformat() == "2026-12-03T23:00:00+00:00"


@given(
    st.lists(st.tuples(st.integers(0, 600), st.integers(20000, 20100)), min_size=1, max_size=200)
)
def test_rolled_bars_hold_every_price_and_sum_the_counts(ticks):
    book, closed = MinuteBars(), []
    for offset, ticks_price in sorted(ticks):
        done = book.add("X", D(ticks_price) / 4, T0 + offset)
        closed += [done[1]] if done else []
    closed += [bar for _, bar in book.close_before(T0 + 10_000)]
    prices = [D(p) / 4 for _, p in ticks]
    for bars in (closed, roll_up(closed, Timeframe.M15)):
        assert sum(bar.volume for bar in bars) == len(ticks)
        assert min(bar.low for bar in bars) == min(prices)
        assert max(bar.high for bar in bars) == max(prices)


@pytest.mark.parametrize("timeframe", [Timeframe.M5, Timeframe.M15, Timeframe.H1])
def test_period_starts_align_to_the_clock(timeframe):
    at = datetime(2026, 12, 4, 14, 47, 31, tzinfo=UTC)
    start = period_start(at, timeframe)
    assert (
        start <= at
        and int(start.timestamp()) % {"5m": 300, "15m": 900, "1h": 3600}[timeframe.value] == 0
    )
