"""MAE / MFE from 1-minute bars: the most a trade was down and up while open, in money
over its quantity, for longs and shorts, never below 0, nothing without a bar."""

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.bars import Bar
from app.domain.excursions import Excursion, bar_window, excursion
from app.domain.vocabulary import PositionSide

D = Decimal
T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
MES_POINT = D("5")


def bars(*ranges: tuple[str, str]) -> list[Bar]:
    """One bar a minute from T0 with each (low, high)."""
    return [
        Bar(T0.replace(minute=n), D(low), D(high), D(low), D(high), 1)
        for n, (low, high) in enumerate(ranges)
    ]


def test_a_long_is_down_to_the_lowest_low_and_up_to_the_highest_high():
    found = excursion(
        PositionSide.LONG, D("6000.25"), 2, MES_POINT, bars(("5999", "6001"), ("5998", "6005"))
    )
    assert found == Excursion(mae=D("22.50"), mfe=D("47.50"))  # 2.25 and 4.75 points × $5 × 2


def test_a_short_is_the_other_way_round():
    found = excursion(PositionSide.SHORT, D("6002.75"), 1, MES_POINT, bars(("5998", "6005")))
    assert found == Excursion(mae=D("11.25"), mfe=D("23.75"))


def test_a_trade_that_never_went_against_the_trader_has_an_mae_of_zero():
    found = excursion(PositionSide.LONG, D("6000"), 1, MES_POINT, bars(("6000.5", "6003")))
    assert found == Excursion(mae=D("0"), mfe=D("15"))


def test_no_bar_gives_nothing_rather_than_zero():
    assert excursion(PositionSide.LONG, D("6000"), 1, MES_POINT, []) is None


def test_the_window_starts_at_the_entry_minute_and_ends_at_the_exit():
    entry = T0.replace(minute=3, second=41, microsecond=5)
    exit_ = T0.replace(minute=9, second=2)
    assert bar_window(entry, exit_) == (T0.replace(minute=3), exit_)
