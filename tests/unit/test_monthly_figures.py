"""The monthly review's pure part: where a month begins and ends in CME trading days, each
figure against the month before with its verdict, the best and worst trades, the shifts
told as sentences, and the notification a trader reads."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.domain.analytics import TradeRecord, trading_day_name
from app.domain.errors import DomainValidationError
from app.domain.monthly_review import (
    Figures,
    Month,
    SettingChange,
    Verdict,
    best_and_worst,
    compare,
    diff_of,
    figures_of,
    review,
    shifts,
)
from app.domain.vocabulary import PositionSide, Tone
from app.services.notify.render import monthly_review

D = Decimal
NOV = Month(2026, 11)


def trade(pnl: str, exit_time: datetime) -> TradeRecord:
    net = D(pnl)
    return TradeRecord(
        entry_time=exit_time - timedelta(minutes=20),
        exit_time=exit_time,
        side=PositionSide.LONG,
        qty=1,
        entry_price=D("6000"),
        exit_price=D("6000"),
        gross_pnl=net + 1,
        commission=D(1),
        pnl=net,
        strategy_id=7,
        symbol="MESZ6",
    )


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 15, 0, tzinfo=UTC)


def figures(trades: int, win_rate, net: str, drawdown: str = "0", slip=None) -> Figures:
    return Figures(trades, win_rate, D(net), None, None, D(drawdown), slip)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-11", Month(2026, 11)), ("2027-01", Month(2027, 1)), ("1970-01", Month(1970, 1))],
)
def test_a_month_is_read_as_yyyy_mm(text, expected):
    assert Month.parse(text) == expected
    assert str(expected) == text


@pytest.mark.parametrize(
    "text", [None, "", "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "0001-01", "9999-12"]
)
def test_anything_else_is_refused_naming_the_month(text):
    with pytest.raises(DomainValidationError) as refused:
        Month.parse(text)
    assert refused.value.field == "month"


def test_a_month_is_the_cme_trading_days_named_in_it():
    # November 2026 opens at 17:00 Chicago (CDT, UTC−5) on 31 October, closes at 17:00
    # Chicago (CST, UTC−6) on 30 November, when December's first trading day opens.
    assert NOV.opens() == datetime(2026, 10, 31, 22, 0, tzinfo=UTC)
    assert NOV.closes() == datetime(2026, 11, 30, 23, 0, tzinfo=UTC) == Month(2026, 12).opens()
    assert trading_day_name(NOV.opens()) == date(2026, 11, 1)
    assert trading_day_name(NOV.closes() - timedelta(seconds=1)) == date(2026, 11, 30)
    assert trading_day_name(NOV.closes()) == date(2026, 12, 1)
    assert Month(2027, 1).previous() == Month(2026, 12) and Month(2026, 12).following() == Month(
        2027, 1
    )
    assert NOV.name == "November 2026"


def test_each_figure_is_compared_with_its_verdict():
    now = figures_of([trade("30", at(3)), trade("-10", at(4)), trade("20", at(5))], D("0.5"))
    then = figures_of([trade("-40", at(3, 10)), trade("10", at(4, 10))], D("2"))
    found = {item.figure.key: item for item in compare(now, then)}
    assert (found["trades"].current, found["trades"].previous, found["trades"].change) == (3, 2, 1)
    assert found["trades"].verdict is None  # more trades is not better in itself
    assert (
        found["win_rate"].change == pytest.approx(16.67)
        and found["win_rate"].verdict is Verdict.BETTER
    )
    assert (found["net_pnl"].current, found["net_pnl"].change) == (D(40), D(70))
    assert found["profit_factor"].current == 5.0 and found["profit_factor"].change == 4.75
    assert found["expectancy"].current == D("13.3333")
    assert found["max_drawdown"].current == D(10) and found["max_drawdown"].previous == D(40)
    assert found["max_drawdown"].verdict is Verdict.BETTER  # shallower
    assert found["avg_slippage_ticks"].change == D("-1.5")
    assert found["avg_slippage_ticks"].verdict is Verdict.BETTER


def test_an_unknown_figure_has_no_change_and_no_verdict():
    now, then = figures_of([trade("5", at(3))], None), figures_of([], None)
    found = {item.figure.key: item for item in compare(now, then)}
    assert found["win_rate"].previous is None and found["win_rate"].change is None
    assert found["win_rate"].verdict is None
    assert found["net_pnl"].verdict is Verdict.BETTER
    assert found["max_drawdown"].verdict is Verdict.SAME


def test_the_best_and_worst_trades_are_the_highest_and_lowest_net():
    first, second, third = trade("20", at(3)), trade("-15", at(4)), trade("20", at(5))
    assert best_and_worst([third, second, first]) == (first, second)  # a tie: the earlier
    assert best_and_worst([second]) == (second, None)
    assert best_and_worst([]) == (None, None)


def test_large_moves_are_told_and_small_ones_are_not():
    told = shifts(figures(10, 40.0, "-50", "200", D("3")), figures(4, 75.0, "120", "80", D("1")))
    texts = [shift.text for shift in told]
    assert texts == [
        "Net P&L turned to a loss.",
        "Win rate down 35 points (75 % → 40 %).",
        "Max drawdown deepened from 80 to 200.",
        "More trades: 10, after 4.",
        "Fills worse by 2 ticks a contract against the alerts' prices.",
    ]
    assert [shift.good for shift in told] == [False, False, False, True, False]
    assert shifts(figures(5, 60.0, "50", "40"), figures(5, 55.0, "30", "30")) == []
    assert shifts(figures(1, 50.0, "5"), figures(2, 50.0, "5")) == []  # too few to be a pace


def test_a_month_without_trades_after_one_with_them_is_one_shift():
    [told] = shifts(figures(0, None, "0"), figures(6, 50.0, "30", "20"))
    assert told.text == "No trades this month, after 6." and not told.good
    assert shifts(figures(3, 50.0, "30"), figures(0, None, "0")) == []


def test_only_a_recorded_diff_is_a_list_of_field_changes():
    assert diff_of({"quantity": [1, 2], "enabled": [True, False]}) == {
        "quantity": [1, 2],
        "enabled": [True, False],
    }
    assert diff_of({"name": "Trend", "quantity": 1}) == {}  # a creation's whole settings
    assert diff_of(None) == {}


def test_the_notification_tells_the_month_and_each_strategy():
    change = SettingChange(at(10), "strategy 'Trend' updated", {"quantity": [1, 2]}, 7)
    trend_now = [trade("30", at(3)), trade("-10", at(4))]
    trend_then = [trade("5", at(3, 10))]
    overall = review(
        None, "All strategies", (trend_now, None), (trend_then, None), trend_now, [change]
    )
    trend = review(7, "Trend", (trend_now, None), (trend_then, None), trend_now, [change])

    told = monthly_review(NOV, [overall, trend], at(1, 12))

    assert told.event_type.value == "monthly_review"
    assert told.message.title == (
        "Monthly review, November 2026: 2 trades, 50 % won, net +20 (October: +5)"
    )
    assert told.message.text == (
        "Trend: 2 trades (was 1), 50 % won, net +20 (was +5), best +30, worst -10, "
        "1 settings change. Win rate down 50 points (100 % → 50 %)."
        "\nWin rate down 50 points (100 % → 50 %)."
    )
    assert told.message.tone is Tone.GOOD and told.message.fields == (("Trend", "+20"),)


def test_a_quiet_month_is_still_told():
    quiet = review(None, "All strategies", ([], None), ([], None), [], [])
    told = monthly_review(NOV, [quiet], at(1, 12))
    assert told.message.title == "Monthly review, November 2026: no trades closed (October: 0)"
    assert told.message.text == "No trades closed in November 2026 or October."
    assert told.message.tone is Tone.INFO
