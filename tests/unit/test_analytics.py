"""Trading metrics against values computed by hand on small designed trade lists, the edge
cases (no trades, all wins, all losses, one trade, zero variance) and a few properties."""

import math
import statistics
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.analytics import (
    TradeRecord,
    _deepest_fall,
    _deepest_fall_of_floats,
    _ordered_floats,
    metrics,
    trading_day_name,
)
from app.domain.errors import DomainValidationError
from app.domain.vocabulary import PositionSide

D = Decimal
COMMISSION = D("2")
MONDAY = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)  # 09:00 Chicago (CST, UTC−6)


def make_trade(
    pnl: str | Decimal,
    exit_time: datetime,
    held: timedelta = timedelta(minutes=30),
    side: PositionSide = PositionSide.LONG,
    **execution: object,
) -> TradeRecord:
    """A one-contract round trip closing at `exit_time` with net `pnl` after $2 fees."""
    net = D(pnl)
    return TradeRecord(
        entry_time=exit_time - held,
        exit_time=exit_time,
        side=side,
        qty=execution.pop("qty", 1),
        entry_price=execution.pop("entry_price", D("5000")),
        exit_price=D("5000"),
        gross_pnl=net + COMMISSION,
        commission=COMMISSION,
        pnl=net,
        symbol="MESH6",
        **execution,
    )


def week() -> list[TradeRecord]:
    """Monday to Friday of one week: W L on Monday, W on Tuesday, L L on Wednesday, no trade
    on Thursday, W on Friday. Equity from 10,000: 10,100 10,050 10,250 9,950 9,850 10,100."""
    day = timedelta(days=1)
    return [
        make_trade("100", MONDAY),
        make_trade("-50", MONDAY + timedelta(hours=1)),
        make_trade("200", MONDAY + day),
        make_trade("-300", MONDAY + 2 * day),
        make_trade("-100", MONDAY + 2 * day + timedelta(hours=1)),
        make_trade("250", MONDAY + 4 * day),
    ]


def test_counts_averages_and_ratios_of_a_designed_week():
    found = metrics(week(), D("10000"))
    assert (found.trades, found.wins, found.losses) == (6, 3, 3)
    assert found.win_rate == 50.0  # 3 / 6
    assert found.avg_win == D("183.3333")  # (100 + 200 + 250) / 3 = 183.333…
    assert found.avg_loss == D("-150.0000")  # (−50 − 300 − 100) / 3
    assert found.payoff_ratio == 1.222  # 183.333… / 150
    assert found.profit_factor == 1.222  # 550 / 450
    assert found.expectancy == D("16.6667")  # 100 / 6
    assert found.net_pnl == D("100")  # 550 − 450
    assert found.gross_pnl == D("112")  # 100 + 6 × 2
    assert found.commission == D("12")  # 6 × 2
    assert (found.longest_win_streak, found.longest_loss_streak) == (1, 2)  # W L W L L W
    assert found.avg_hold_seconds == 1800.0  # every trade held 30 minutes


def test_max_drawdown_of_a_designed_week_has_not_recovered():
    found = metrics(week(), D("10000"))
    # Peaks 10,000 10,100 10,100 10,250 10,250 10,250 10,250; the deepest fall is
    # 10,250 (Tuesday's trade) → 9,850 (Wednesday's second) = 400, 400 / 10,250 = 3.90 %.
    assert found.max_drawdown == D("400")
    assert found.max_drawdown_pct == 3.9
    drawdown = found.drawdown
    assert drawdown.peak == D("10250")
    assert drawdown.peak_time == MONDAY + timedelta(days=1)
    assert drawdown.trough_time == MONDAY + timedelta(days=2, hours=1)
    assert drawdown.duration == timedelta(days=1, hours=1)
    assert drawdown.recovery is None  # it ends at 10,100, below 10,250


def test_drawdown_runs_from_the_last_time_at_the_high_to_the_time_back_at_it():
    trades = [
        make_trade("100", MONDAY),
        make_trade("-20", MONDAY + timedelta(hours=1)),
        make_trade("20", MONDAY + timedelta(hours=2)),
        make_trade("-60", MONDAY + timedelta(hours=3)),
        make_trade("80", MONDAY + timedelta(hours=5)),
    ]
    found = metrics(trades, D("1000"))
    # 1,000 1,100 1,080 1,100 1,040 1,120: the deepest fall is 60 from the second 1,100
    # (the 3rd exit) to the 4th exit, 60 / 1,100 = 5.4545 %; back above at the 5th exit.
    assert found.max_drawdown == D("60")
    assert found.max_drawdown_pct == 5.45
    assert found.drawdown.duration == timedelta(hours=1)  # 3rd exit → 4th exit
    assert found.drawdown.recovery == timedelta(hours=2)  # 4th exit → 5th exit


def test_daily_returns_count_the_empty_weekday_and_give_sharpe_sortino_calmar():
    found = metrics(week(), D("10000"))
    # Closes Mon 10,050, Tue 10,250, Wed 9,850, Thu 9,850 (no trade: return 0), Fri 10,100.
    returns = [50 / 10000, 200 / 10050, -400 / 10250, 0.0, 250 / 9850]
    mean, stdev = statistics.mean(returns), statistics.stdev(returns)
    downside = math.sqrt(sum(min(0.0, r) ** 2 for r in returns) / 5)
    assert found.sharpe == 1.412  # mean / stdev × √252 = 1.41196
    assert found.sharpe == round(mean / stdev * math.sqrt(252), 3)
    assert found.sortino == 2.048  # mean / downside × √252 = 2.04783
    assert found.sortino == round(mean / downside * math.sqrt(252), 3)
    # ((10,100 / 10,000)^(252 / 5) − 1) × 100 = 65.119 %; / 3.9024 % drawdown = 16.687.
    assert found.annual_return_pct == 65.12
    assert found.calmar == 16.687
    assert found.best_day.day == date(2026, 1, 9) and found.best_day.pnl == D("250")
    assert found.worst_day.day == date(2026, 1, 7) and found.worst_day.pnl == D("-400")


def test_a_risk_free_rate_lowers_sharpe_and_sortino():
    found = metrics(week(), D("10000"), risk_free_rate=0.05)
    # rf per day 0.05 / 252, taken from each return; stdev is unchanged, the downside
    # deviation is over r − rf: Sharpe 1.28752, Sortino 1.85789.
    assert (found.sharpe, found.sortino) == (1.288, 1.858)


def test_equity_curve_starts_at_the_earliest_entry_and_steps_at_each_exit():
    trades = week()
    found = metrics(list(reversed(trades)), D("10000"))  # any order in, exit order out
    assert found.equity_curve[0] == (MONDAY - timedelta(minutes=30), D("10000"))
    assert [equity for _, equity in found.equity_curve] == [
        D(n) for n in ("10000", "10100", "10050", "10250", "9950", "9850", "10100")
    ]
    assert [at for at, _ in found.equity_curve[1:]] == [t.exit_time for t in trades]


def test_execution_quality_signs_slippage_against_the_trader():
    alert = MONDAY - timedelta(minutes=30)
    tick = {"tick_size": D("0.25"), "tick_value": D("1.25")}
    trades = [
        # long 2 filled 5000.50 over an alert at 5000.00: +2 ticks, 2 × 1.25 × 2 = $5.00
        make_trade("10", MONDAY, qty=2, entry_price=D("5000.50"), alert_price=D("5000"),
                   alert_time=alert, first_fill_time=alert + timedelta(milliseconds=120), **tick),
        # short 1 sold 4999.75 under an alert at 5000.00: worse, +1 tick, $1.25
        make_trade("10", MONDAY + timedelta(hours=1), side=PositionSide.SHORT,
                   entry_price=D("4999.75"), alert_price=D("5000"), alert_time=alert,
                   first_fill_time=alert + timedelta(milliseconds=80), **tick),
        # long 1 bought 5000.75 under an alert at 5001.00: better, −1 tick, −$1.25
        make_trade("10", MONDAY + timedelta(hours=2), entry_price=D("5000.75"),
                   alert_price=D("5001"), alert_time=alert,
                   first_fill_time=alert + timedelta(milliseconds=400), **tick),
        make_trade("10", MONDAY + timedelta(hours=3)),  # not from an alert: left out
    ]  # fmt: skip
    found = metrics(trades, D("10000")).execution
    assert found.trades == 3
    assert found.avg_slippage_ticks == 0.67  # (2 + 1 − 1) / 3
    assert found.slippage == D("5.00")  # 5.00 + 1.25 − 1.25
    assert found.avg_fill_delay_ms == 200.0  # (120 + 80 + 400) / 3
    assert found.max_fill_delay_ms == 400.0


def test_excursions_average_over_the_trades_whose_bars_gave_them():
    trades = [
        make_trade("10", MONDAY, mae=D("12.50"), mfe=D("30")),
        make_trade("-5", MONDAY + timedelta(hours=1), mae=D("7.25"), mfe=D("0")),
        make_trade("3", MONDAY + timedelta(hours=2)),  # no bars: left out
    ]
    found = metrics(trades, D("10000")).execution
    assert found.excursion_trades == 2
    assert (found.avg_mae, found.avg_fill_delay_ms) == (D("9.8750"), None)
    assert found.avg_mfe == D("15.0000")


def test_the_order_the_trades_come_in_does_not_matter():
    trades = week()
    assert metrics(trades[::-1], D("10000")) == metrics(trades, D("10000"))


def test_no_trades_gives_zeroes_and_nones_not_errors():
    found = metrics([], D("10000"))
    assert (found.trades, found.wins, found.losses) == (0, 0, 0)
    assert found.net_pnl == found.gross_pnl == found.commission == found.max_drawdown == 0
    assert found.max_drawdown_pct == 0.0 and found.drawdown is None
    nones = (found.win_rate, found.avg_win, found.avg_loss, found.payoff_ratio,
             found.profit_factor, found.expectancy, found.sharpe, found.sortino,
             found.annual_return_pct, found.calmar, found.best_day, found.worst_day,
             found.avg_hold_seconds, found.execution.avg_slippage_ticks,
             found.execution.avg_fill_delay_ms)  # fmt: skip
    assert nones == (None,) * len(nones)
    assert found.equity_curve == []
    assert (found.longest_win_streak, found.longest_loss_streak) == (0, 0)


def test_all_wins_have_no_profit_factor_and_no_drawdown():
    trades = [make_trade(pnl, MONDAY + timedelta(days=n)) for n, pnl in enumerate("123")]
    found = metrics(trades, D("1000"))
    assert found.win_rate == 100.0
    assert found.profit_factor is None and found.payoff_ratio is None
    assert found.avg_loss is None and found.avg_win == D("2.0000")  # 6 / 3
    assert found.max_drawdown == 0 and found.drawdown is None and found.calmar is None
    assert (found.longest_win_streak, found.longest_loss_streak) == (3, 0)
    # Returns 1/1000, 2/1001, 3/1003 differ: Sharpe is defined; no day lost, so no Sortino.
    assert found.sharpe is not None and found.sortino is None


def test_all_losses_have_profit_factor_zero_and_an_open_drawdown():
    trades = [make_trade(pnl, MONDAY + timedelta(days=n)) for n, pnl in enumerate(["-1", "-3"])]
    found = metrics(trades, D("100"))
    assert found.win_rate == 0.0 and found.avg_win is None
    assert found.profit_factor == 0.0  # 0 / 4
    assert found.max_drawdown == D("4")  # 100 → 96
    assert found.max_drawdown_pct == 4.0 and found.drawdown.recovery is None
    assert found.longest_loss_streak == 2
    # Returns −1/100 and −3/99: mean −0.0201515, sample stdev |−0.01 + 0.030303| / √2
    # = 0.0143565: −0.0201515 / 0.0143565 × √252 = −22.282.
    assert found.sharpe == -22.282


def test_one_trade_has_no_sharpe_but_an_annual_return():
    found = metrics([make_trade("50", MONDAY)], D("1000"))
    assert found.sharpe is None and found.sortino is None  # one day: no spread
    assert found.annual_return_pct == round((1.05**252 - 1) * 100, 2)
    assert found.best_day == found.worst_day
    assert found.longest_win_streak == 1


def test_zero_variance_gives_no_sharpe_rather_than_infinity():
    # +1 % each day: 100 on 10,000 then 101 on 10,100; the returns are equal.
    trades = [make_trade("100", MONDAY), make_trade("101", MONDAY + timedelta(days=1))]
    found = metrics(trades, D("10000"))
    assert found.sharpe is None and found.sortino is None
    # Two days grew 10,000 to 10,201: (1.0201^(252 / 2) − 1) × 100 = 1127.40 %.
    assert found.annual_return_pct == 1127.4


def test_a_balance_gone_stops_the_ratios():
    found = metrics([make_trade("-150", MONDAY), make_trade("10", MONDAY)], D("100"))
    assert found.sharpe is None and found.annual_return_pct == -100.0
    assert found.max_drawdown_pct == 150.0  # 100 → −50


def test_a_trade_after_17_chicago_belongs_to_the_next_trading_day():
    assert trading_day_name(datetime(2026, 1, 5, 22, 59, tzinfo=UTC)) == date(2026, 1, 5)
    assert trading_day_name(datetime(2026, 1, 5, 23, 0, tzinfo=UTC)) == date(2026, 1, 6)
    # Sunday evening's session is Monday's.
    assert trading_day_name(datetime(2026, 1, 4, 23, 30, tzinfo=UTC)) == date(2026, 1, 5)
    evening = MONDAY.replace(hour=23, minute=30)
    found = metrics([make_trade("5", MONDAY), make_trade("7", evening)], D("1000"))
    assert found.best_day.day == date(2026, 1, 6) and found.best_day.pnl == D("7")


def test_starting_balance_must_be_above_zero():
    with pytest.raises(DomainValidationError) as refused:
        metrics(week(), D("0"))
    assert refused.value.field == "starting_balance"


cents = st.integers(min_value=-100_000, max_value=100_000).map(lambda n: D(n) / 100)


@given(
    st.lists(st.tuples(cents, st.integers(0, 500), st.integers(0, 72 * 60)), max_size=40),
    st.integers(min_value=1, max_value=10**7).map(D),
)
def test_properties_hold_for_any_trades(rows, start):
    trades, at = [], MONDAY
    for pnl, fee_cents, gap_minutes in rows:
        at += timedelta(minutes=gap_minutes)
        trade = make_trade(pnl, at)
        fee = D(fee_cents) / 100
        trades.append(replace(trade, commission=fee, gross_pnl=pnl + fee))
    found = metrics(trades, start)
    assert found.net_pnl == found.gross_pnl - found.commission
    assert found.max_drawdown >= 0 and found.max_drawdown_pct >= 0
    assert found.wins + found.losses <= found.trades == len(trades)
    if trades:
        assert found.equity_curve[-1][1] == start + found.net_pnl
        assert found.max_drawdown <= max(e for _, e in found.equity_curve) - min(
            e for _, e in found.equity_curve
        )


def test_slippage_of_mixed_contracts_counts_each_trades_own_tick():
    alert = MONDAY - timedelta(minutes=30)
    trades = [
        # MES long 1, 5000.50 over 5000.00 at 0.25 / $1.25: +2 ticks, +$2.50
        make_trade("10", MONDAY, entry_price=D("5000.50"), alert_price=D("5000"),
                   alert_time=alert, tick_size=D("0.25"), tick_value=D("1.25")),
        # a 0.1 / $10 contract, short 3 sold 99.9 under an alert at 100.2: +3 ticks, +$90
        make_trade("10", MONDAY + timedelta(hours=1), side=PositionSide.SHORT, qty=3,
                   entry_price=D("99.9"), alert_price=D("100.2"), alert_time=alert,
                   tick_size=D("0.1"), tick_value=D("10")),
        # long 2 bought 4999.75 under 5000.00 at 0.25 / $12.50: −1 tick, −$25
        make_trade("10", MONDAY + timedelta(hours=2), qty=2, entry_price=D("4999.75"),
                   alert_price=D("5000"), alert_time=alert,
                   tick_size=D("0.25"), tick_value=D("12.50")),
        # an alert price but no tick value known: left out of the slippage
        make_trade("10", MONDAY + timedelta(hours=3), entry_price=D("5001"),
                   alert_price=D("5000"), alert_time=alert, tick_size=D("0.25"),
                   tick_value=D("0")),
    ]  # fmt: skip
    found = metrics(trades, D("10000")).execution
    assert found.trades == 3
    assert found.avg_slippage_ticks == 1.33  # (2 + 3 − 1) / 3
    assert found.slippage == D("67.50")  # 2.50 + 90 − 25
    assert found.avg_fill_delay_ms is None  # alert times, but no fill times


def test_slippage_when_every_trade_is_from_an_alert_on_one_contract():
    alert = MONDAY - timedelta(minutes=30)
    tick = {"tick_size": D("0.25"), "tick_value": D("1.25"), "alert_time": alert}
    trades = [
        # short 3 sold 5000.25 over an alert at 5000.00: better, −1 tick, 3 × −1.25
        make_trade("10", MONDAY, side=PositionSide.SHORT, qty=3, entry_price=D("5000.25"),
                   alert_price=D("5000"), first_fill_time=alert + timedelta(milliseconds=50),
                   **tick),
        # long 2 bought 5000.75 over an alert at 5000.00: +3 ticks, 2 × 3.75
        make_trade("10", MONDAY + timedelta(hours=1), qty=2, entry_price=D("5000.75"),
                   alert_price=D("5000"), **tick),
    ]  # fmt: skip
    found = metrics(trades, D("10000")).execution
    assert found.trades == 2
    assert found.avg_slippage_ticks == 1.0  # (−1 + 3) / 2
    assert found.slippage == D("3.75")  # −3.75 + 7.50
    assert found.avg_fill_delay_ms == found.max_fill_delay_ms == 50.0  # one trade has both


@pytest.mark.parametrize("start", ["10000.00001", "12345678901"])
def test_balances_floats_cannot_order_exactly_give_the_same_metrics(start):
    # A fifth decimal, or 11 digits before the point: the metrics work in Decimals only.
    found, plain = metrics(week(), D(start)), metrics(week(), D("10000"))
    assert found.max_drawdown == D("400") and found.drawdown.peak == D(start) + 250
    assert (found.drawdown.peak_time, found.drawdown.trough_time) == (
        plain.drawdown.peak_time,
        plain.drawdown.trough_time,
    )
    assert (found.wins, found.losses, found.longest_loss_streak) == (3, 3, 2)
    assert found.avg_loss == D("-150.0000")


# Steps of a few cents: many equal balances and equal falls, where the first must win.
steps = st.lists(st.integers(min_value=-3, max_value=3).map(lambda n: D(n) / 4), max_size=60)


@given(steps, st.sampled_from([D("1"), D("99999999.99"), D("9999999000.0001")]))
def test_the_deepest_fall_is_the_same_in_floats_and_in_decimals(moves, start):
    equity = list(accumulate(moves, initial=start))
    floats = _ordered_floats(equity)
    assert floats is not None  # whole ten-thousandths below 10^10
    assert _deepest_fall_of_floats(equity, floats) == _deepest_fall(equity)
    ups, downs = np.diff(floats) > 0, np.diff(floats) < 0
    assert ups.tolist() == [m > 0 for m in moves] and downs.tolist() == [m < 0 for m in moves]


def test_two_equal_falls_that_floats_see_apart_keep_the_first():
    # The same 68.3245 fall from two highs: in floats the second reads about 1e-8 deeper,
    # so only the Decimal recheck of the near-deepest keeps the first, as Decimals do.
    equity = [D("830849729.9875"), D("830849661.6630"), D("830890490.8617"), D("830890422.5372")]
    floats = _ordered_floats(equity)
    assert floats is not None
    assert _deepest_fall_of_floats(equity, floats) == _deepest_fall(equity)
    assert _deepest_fall(equity)[1:3] == (0, 1)


def test_floats_are_refused_where_they_could_not_order_exactly():
    assert _ordered_floats([D("1"), D("1.00001")]) is None  # a fifth decimal
    assert _ordered_floats([D("1"), D("10000000000")]) is None  # 10^10
    assert _ordered_floats([D("1"), D("NaN")]) is None
    assert _ordered_floats([D("5000"), D("4999.9999")]) is not None
