"""Trading metrics over closed trades: what a strategy earned, how rough the ride was, and
how well its orders were filled.

Pure: plain data in, plain data out, no clock read. Money is exact `Decimal` (averages
rounded half-even to the ledger's 0.0001); ratios are floats rounded for show (percents
to 2 places, other ratios to 3). A trade belongs to the CME trading day of its exit
(`app.domain.trading_day`: the day opens at 17:00 Chicago the evening before). The work
goes column by column in C (itertools, bisect, NumPy over flags and daily floats, and
over the balances as floats where those order exactly), not a Python loop per trade, for
DESIGN §7's 100,000 trades in 200 ms (bench/analytics.py).
"""

import logging
import math
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import accumulate, compress, islice, repeat
from operator import attrgetter, gt, le, lt, mul, sub, truediv

import numpy as np

from app.domain.errors import DomainValidationError
from app.domain.trading_day import CHICAGO, trading_day_start
from app.domain.vocabulary import PositionSide

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
MONEY_QUANTUM = Decimal("0.0001")  # the Money columns' scale
TRADING_DAYS_PER_YEAR = 252
PERCENT_DIGITS = 2
RATIO_DIGITS = 3
ONE_DAY = timedelta(days=1)
SATURDAY = 5
DAY_OPENS = time(17)  # Chicago: see app.domain.trading_day
# Balances under 10^10 in whole ten-thousandths are floats within a millionth; falls are
# whole ten-thousandths, so 0.00005 is far above a float's error and below their step.
FLOAT_EXACT_BELOW = 1e10
FALL_SLACK = 5e-5


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """One closed round trip as the metrics read it: a `trades` row plus what its entry
    order knew (the alert's price and time, the first fill's time), its contract's tick and
    its excursions (None until its bars gave them). Times are timezone-aware; `pnl` is net
    of `commission`."""

    entry_time: datetime
    exit_time: datetime
    side: PositionSide
    qty: int
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    commission: Decimal
    pnl: Decimal
    strategy_id: int | None = None
    symbol: str = ""
    alert_price: Decimal | None = None
    alert_time: datetime | None = None
    first_fill_time: datetime | None = None
    tick_size: Decimal | None = None
    tick_value: Decimal | None = None
    mae: Decimal | None = None
    mfe: Decimal | None = None


@dataclass(frozen=True)
class Drawdown:
    """The largest fall of the equity below a previous high, in money.

    `peak_time` is the last time the equity stood at that high before the fall, `trough`
    the lowest point after it; `duration` is peak → trough, `recovery` trough → the first
    point back at or above the high (None while it has not come back). `pct` is the fall
    as a percent of that high."""

    amount: Decimal
    pct: float
    peak: Decimal
    peak_time: datetime
    trough_time: datetime
    duration: timedelta
    recovery: timedelta | None


@dataclass(frozen=True)
class DayPnl:
    day: date  # the CME trading day's name (the date it closes on)
    pnl: Decimal


@dataclass(frozen=True)
class TradingDay:
    day: date  # the CME trading day's name (the date it closes on)
    trades: int
    pnl: Decimal
    close: Decimal  # the balance after the day's last trade


@dataclass(frozen=True)
class Execution:
    """Alert price vs fill, over the trades that came from an alert with a price.

    Slippage is the average entry price's distance from the alert's price, signed so that
    positive is worse for the trader (a long filled above the alert, a short below it):
    `avg_slippage_ticks` is the mean over those trades of the distance per contract in
    ticks; `slippage` is the total in money (ticks × tick value × contracts), exact.
    Delay is alert → first fill in milliseconds, over trades that know both times.
    `avg_mae` / `avg_mfe` are the mean maximum adverse / favourable excursion in money
    over the trades whose bars gave one (`excursion_trades`; see domain/excursions)."""

    trades: int
    avg_slippage_ticks: float | None
    slippage: Decimal
    avg_fill_delay_ms: float | None
    max_fill_delay_ms: float | None
    excursion_trades: int = 0
    avg_mae: Decimal | None = None
    avg_mfe: Decimal | None = None


@dataclass(frozen=True)
class Metrics:
    """Every metric over one set of trades; see `metrics` for each definition."""

    trades: int
    wins: int
    losses: int
    win_rate: float | None
    avg_win: Decimal | None
    avg_loss: Decimal | None
    payoff_ratio: float | None
    profit_factor: float | None
    expectancy: Decimal | None
    gross_pnl: Decimal
    commission: Decimal
    net_pnl: Decimal
    max_drawdown: Decimal
    max_drawdown_pct: float
    drawdown: Drawdown | None
    sharpe: float | None
    sortino: float | None
    annual_return_pct: float | None
    calmar: float | None
    longest_win_streak: int
    longest_loss_streak: int
    best_day: DayPnl | None
    worst_day: DayPnl | None
    avg_hold_seconds: float | None
    execution: Execution
    curve_times: list[datetime]
    curve_equity: list[Decimal]

    @property
    def equity_curve(self) -> list[tuple[datetime, Decimal]]:
        """[(time, balance)]: kept as two columns, paired only when asked, because 100,000
        pairs built in `metrics` would cost about as much again as all the metrics."""
        return list(zip(self.curve_times, self.curve_equity, strict=True))


def metrics(
    trades: Sequence[TradeRecord], starting_balance: Decimal, risk_free_rate: float = 0.0
) -> Metrics:
    """All metrics over `trades` (any order; read in exit order) from `starting_balance`.

    - trades, wins (net P&L > 0), losses (< 0); a trade at exactly 0 is neither.
    - win_rate: wins / trades, in percent. avg_win / avg_loss: mean net P&L of the wins /
      of the losses (avg_loss is negative). payoff_ratio: avg_win / |avg_loss|.
    - profit_factor: sum of wins / |sum of losses|; None when there is no loss.
    - expectancy: net P&L / trades, the money one trade earns on average.
    - gross_pnl, commission, net_pnl: sums over the trades (net = gross − commission).
    - equity_curve: the starting balance at the earliest entry, then the balance after
      each exit; max_drawdown and friends are read from it (see `Drawdown`).
    - sharpe, sortino, annual_return_pct, calmar: from daily returns, see `daily_ratios`.
    - longest win / loss streak: most wins (losses) in a row; a trade at 0 breaks both.
    - best_day / worst_day: the trading days with the highest / lowest net P&L.
    - avg_hold_seconds: mean of exit time − entry time.
    - execution: see `Execution`.
    """
    if starting_balance <= 0:
        raise DomainValidationError("starting_balance", "must be above 0")
    exits = list(map(attrgetter("exit_time"), trades))
    if not all(map(le, exits, islice(exits, 1, None))):  # the ledger reads them in order
        trades = sorted(trades, key=attrgetter("exit_time"))
        exits = list(map(attrgetter("exit_time"), trades))
    pnls = list(map(attrgetter("pnl"), trades))
    equity = list(accumulate(pnls, initial=starting_balance))
    entries = list(map(attrgetter("entry_time"), trades))
    times = [min(entries, default=None), *exits]
    net = equity[-1] - starting_balance
    floats = _ordered_floats(equity)
    outcome = _outcomes(pnls, net, floats)
    drawdown = _drawdown(times, equity, floats) if trades else None
    days = trading_days(exits, equity)
    ratios = daily_ratios([day.close for day in days], starting_balance, risk_free_rate)
    max_pct = drawdown.pct if drawdown else 0.0
    calmar = None
    if ratios.annual_return_pct is not None and drawdown:
        exact_pct = float(drawdown.amount / drawdown.peak * 100)
        calmar = round(ratios.annual_return_pct / exact_pct, RATIO_DIGITS)
    traded = [day for day in days if day.trades]
    hold = sum(map(sub, exits, entries), timedelta())
    return Metrics(
        **outcome,
        gross_pnl=sum(map(attrgetter("gross_pnl"), trades), ZERO),
        commission=sum(map(attrgetter("commission"), trades), ZERO),
        net_pnl=net,
        max_drawdown=drawdown.amount if drawdown else ZERO,
        max_drawdown_pct=max_pct,
        drawdown=drawdown,
        sharpe=ratios.sharpe,
        sortino=ratios.sortino,
        annual_return_pct=ratios.annual_return_pct,
        calmar=calmar,
        best_day=_day_pnl(max(traded, key=attrgetter("pnl"), default=None)),
        worst_day=_day_pnl(min(traded, key=attrgetter("pnl"), default=None)),
        avg_hold_seconds=round(hold.total_seconds() / len(trades), 1) if trades else None,
        execution=execution(trades),
        curve_times=times if trades else [],
        curve_equity=equity if trades else [],
    )


def _day_pnl(day: TradingDay | None) -> DayPnl | None:
    return DayPnl(day.day, day.pnl) if day else None


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def _ordered_floats(equity: list[Decimal]) -> np.ndarray | None:
    """The balances as floats when these order exactly as the Decimals do, else None.

    They do when every balance is a whole number of ten-thousandths (the Money scale)
    under 10^10 in size: at most 15 significant digits, which a correctly rounded float
    keeps apart and in order. One look at the last balance proves the first half: an
    exact sum's exponent is its terms' smallest, so the balances' exponents only fall
    along the curve, and a sum Decimal had to round (past 28 digits) would end far below
    −4. Then wins, losses and the deepest fall are found in NumPy (`_drawdown`)."""
    last = equity[-1]
    if not last.is_finite() or last.as_tuple().exponent < -4:
        return None
    floats = np.fromiter(map(float, equity), dtype=float, count=len(equity))
    return floats if np.abs(floats).max() < FLOAT_EXACT_BELOW else None


def _outcomes(pnls: list[Decimal], net: Decimal, floats: np.ndarray | None) -> dict:
    """Counts, averages, the ratios between wins and losses, and the longest streaks;
    `net` is the sum of `pnls`, `floats` the balances if `_ordered_floats` gave them (a
    trade won when the balance after it is the higher, exactly)."""
    count = len(pnls)
    if floats is None:
        won_flags = np.fromiter(map(lt, repeat(ZERO), pnls), dtype=bool, count=count)
        lost_flags = np.fromiter(map(gt, repeat(ZERO), pnls), dtype=bool, count=count)
    else:
        steps = np.diff(floats)
        won_flags, lost_flags = steps > 0, steps < 0
    wins, losses = int(won_flags.sum()), int(lost_flags.sum())
    won_sum = sum(compress(pnls, won_flags), ZERO)
    lost_sum = net - won_sum  # a trade at 0 adds nothing to either
    payoff = None
    if wins and losses:
        payoff = round(float(won_sum / wins / -(lost_sum / losses)), RATIO_DIGITS)
    return {
        "trades": count,
        "wins": wins,
        "losses": losses,
        "win_rate": round(100 * wins / count, PERCENT_DIGITS) if count else None,
        "avg_win": _money(won_sum / wins) if wins else None,
        "avg_loss": _money(lost_sum / losses) if losses else None,
        "payoff_ratio": payoff,
        "profit_factor": round(float(won_sum / -lost_sum), RATIO_DIGITS) if losses else None,
        "expectancy": _money((won_sum + lost_sum) / count) if count else None,
        "longest_win_streak": _longest_run(won_flags),
        "longest_loss_streak": _longest_run(lost_flags),
    }


def _drawdown(
    times: list[datetime], equity: list[Decimal], floats: np.ndarray | None
) -> Drawdown | None:
    """The largest fall below a previous high (see `Drawdown`); None if there is none.
    `floats` are the balances from `_ordered_floats`, if it gave them."""
    found = _deepest_fall(equity) if floats is None else _deepest_fall_of_floats(equity, floats)
    if found is None:
        return None
    peak, start, trough, back = found
    amount = peak - equity[trough]
    return Drawdown(
        amount=amount,
        pct=round(float(amount / peak * 100), PERCENT_DIGITS),
        peak=peak,
        peak_time=times[start],
        trough_time=times[trough],
        duration=times[trough] - times[start],
        recovery=None if back is None else times[back] - times[trough],
    )


def _deepest_fall(equity: list[Decimal]) -> tuple[Decimal, int, int, int | None] | None:
    """(peak, start, trough, back) of the deepest fall, in Decimals: the first point
    where the fall below the running high is largest (trough), that high (as first
    reached), the last point at it before the trough (start), and the first point after
    it back at the high (back, None while below); None if the equity never falls."""
    peaks = list(accumulate(equity, max))
    falls = list(map(sub, peaks, equity))
    amount = max(falls)
    if amount <= 0:
        return None
    trough = falls.index(amount)
    peak = peaks[trough]
    # The last point at the high before the trough: the fall starts there.
    start = trough - equity[trough::-1].index(peak)
    # Back at the high is the first point after the trough that falls nothing.
    try:
        back = falls.index(ZERO, trough + 1)
    except ValueError:  # still below the high
        back = None
    return peak, start, trough, back


def _deepest_fall_of_floats(
    equity: list[Decimal], floats: np.ndarray
) -> tuple[Decimal, int, int, int | None] | None:
    """`_deepest_fall` in NumPy over balances that order exactly as floats. Highs and
    their places are exact; the float falls are off by at most a few millionths, so
    every point within `FALL_SLACK` of the deepest is measured again in Decimals and the
    first of the deepest wins, as in `_deepest_fall`."""
    highs = np.maximum.accumulate(floats)
    falls = highs - floats
    deepest = falls.max()
    if deepest == 0:
        return None
    at_high = np.flatnonzero(floats == highs)  # the points where the equity is at its high
    near = np.flatnonzero(falls >= deepest - FALL_SLACK)
    starts = at_high[np.searchsorted(at_high, near, side="right") - 1]
    exact = [equity[s] - equity[t] for s, t in zip(starts.tolist(), near.tolist(), strict=True)]
    pick = exact.index(max(exact))
    trough = int(near[pick])
    peak = equity[int(np.searchsorted(highs, highs[trough]))]  # where it was first reached
    after = int(np.searchsorted(at_high, trough, side="right"))
    back = int(at_high[after]) if after < at_high.size else None
    return peak, int(starts[pick]), trough, back


def _longest_run(flags: np.ndarray) -> int:
    """The longest run of True in `flags`."""
    edges = np.diff(np.concatenate(([0], flags.view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if starts.size else 0


def trading_day_name(moment: datetime) -> date:
    """The CME trading day `moment` falls in, named by the date it closes on."""
    return (trading_day_start(moment).astimezone(CHICAGO) + ONE_DAY).date()


def trading_days(exits: list[datetime], equity: list[Decimal]) -> list[TradingDay]:
    """Every trading day from the first exit's to the last exit's, in order, with its
    trades, net P&L and closing balance: each weekday, whether or not a trade closed on
    it (it counts as a 0 return), and a weekend-named day only if a trade closed on it.
    `exits` are in order; `equity[k]` is the balance after the first k trades, so a day's
    P&L is its closing balance less the previous one, exact."""
    if not exits:
        return []
    days, done = [], 0
    day, last = trading_day_name(exits[0]), trading_day_name(exits[-1])
    while day <= last:
        # The day named `day` closes at 17:00 Chicago on that date.
        closes = datetime.combine(day, DAY_OPENS, CHICAGO).astimezone(UTC)
        end = bisect_left(exits, closes, done)
        if end > done or day.weekday() < SATURDAY:
            days.append(TradingDay(day, end - done, equity[end] - equity[done], equity[end]))
        day, done = day + ONE_DAY, end
    return days


@dataclass(frozen=True)
class DailyRatios:
    sharpe: float | None
    sortino: float | None
    annual_return_pct: float | None


def daily_ratios(
    closes: list[Decimal], starting_balance: Decimal, risk_free_rate: float = 0.0
) -> DailyRatios:
    """Risk-adjusted returns from the equity's closes on the days of `trading_days`.

    A day's return r is its change over the previous close (the first day's over the
    starting balance). With rf = risk_free_rate / 252 (a yearly rate as a fraction):
    - sharpe = (mean(r) − rf) / sample stdev(r) × √252;
    - sortino = (mean(r) − rf) / √mean(min(0, r − rf)²) × √252, over all days;
    - annual_return_pct = ((final / start)^(252 / days) − 1) × 100, −100 once the
      balance is gone.
    Sharpe and Sortino need two days and some spread (all returns equal, or no day below
    rf for Sortino, gives None rather than infinity); all three are None after a close
    at or below 0, where a return means nothing.
    """
    if not closes:
        return DailyRatios(None, None, None)
    if min(closes) <= 0:
        return DailyRatios(None, None, -100.0)
    balances = np.array([float(starting_balance), *map(float, closes)])
    returns = np.diff(balances) / balances[:-1]
    annual = _annualised_pct(float(balances[-1] / balances[0]), returns.size)
    if returns.size < 2 or returns.max() == returns.min():
        return DailyRatios(None, None, annual)
    excess = returns - risk_free_rate / TRADING_DAYS_PER_YEAR
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    sharpe = round(float(excess.mean() / returns.std(ddof=1) * scale), RATIO_DIGITS)
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    sortino = round(float(excess.mean() / downside * scale), RATIO_DIGITS) if downside else None
    return DailyRatios(sharpe, sortino, annual)


def _annualised_pct(growth: float, days: int) -> float | None:
    """The yearly return in percent that compounds to `growth` over `days` trading days;
    None when a short lucky stretch would compound past a float (it means nothing)."""
    try:
        return round((growth ** (TRADING_DAYS_PER_YEAR / days) - 1) * 100, PERCENT_DIGITS)
    except OverflowError:
        return None


# Entry minus alert price is worse for a long when positive, for a short when negative.
_WORSE_SIGN = {PositionSide.LONG: Decimal(1), PositionSide.SHORT: Decimal(-1)}
_MS = timedelta(milliseconds=1)


def _column(trades: Sequence[TradeRecord], name: str) -> Iterator:
    return map(attrgetter(name), trades)


def execution(trades: Sequence[TradeRecord]) -> Execution:
    """Slippage, fill delay and excursions (see `Execution`), column by column: the work
    runs in C and makes no tuple per trade (which would wake the garbage collector over
    100,000). A column is read over all the trades first and filtered only when a value
    is missing (None, which no price or time can be subtracted from): in the common case,
    every trade from an alert, no filter is built."""
    priced, worse_ticks, money = _slippage(trades)
    try:
        delays = list(_fill_delays(trades))
    except TypeError:  # a trade without an alert or fill time
        delays = list(
            _fill_delays(
                [t for t in trades if t.alert_time is not None and t.first_fill_time is not None]
            )
        )
    measured = [t for t in trades if t.mae is not None and t.mfe is not None]
    return Execution(
        trades=priced,
        avg_slippage_ticks=round(float(worse_ticks / priced), 2) if priced else None,
        slippage=money,
        avg_fill_delay_ms=round(sum(delays, timedelta()) / len(delays) / _MS, 1)
        if delays
        else None,
        max_fill_delay_ms=round(max(delays) / _MS, 1) if delays else None,
        excursion_trades=len(measured),
        avg_mae=_mean(list(_column(measured, "mae"))),
        avg_mfe=_mean(list(_column(measured, "mfe"))),
    )


def _fill_delays(trades: Sequence[TradeRecord]) -> Iterator[timedelta]:
    return map(sub, _column(trades, "first_fill_time"), _column(trades, "alert_time"))


def _worse_points(trades: Sequence[TradeRecord]) -> Iterator[Decimal]:
    """Each trade's entry − alert price, signed so that worse for the trader is positive."""
    points = map(sub, _column(trades, "entry_price"), _column(trades, "alert_price"))
    return map(mul, points, map(_WORSE_SIGN.__getitem__, _column(trades, "side")))


def _ticks(trades: Sequence[TradeRecord]) -> tuple[set, set]:
    return set(_column(trades, "tick_size")), set(_column(trades, "tick_value"))


def _slippage(trades: Sequence[TradeRecord]) -> tuple[int, Decimal, Decimal]:
    """(trades, ticks, money): how many trades had an alert price and a tick (size and
    value neither None nor 0), and their slippage summed in ticks and in money.

    With one tick size and value for them all (one contract, the common case) the sums
    come by algebra from exact sums of price distances: Σ ticks = Σ ±(entry − alert) / tick
    and Σ money = Σ ±qty × (entry − alert) × tick value / tick, one division in all rather
    than one a trade. Otherwise each trade's own tick counts."""
    sizes, values = _ticks(trades)
    signed = None
    if all(sizes) and all(values):
        try:
            signed = list(_worse_points(trades))
        except TypeError:  # a trade without an alert price
            pass
    if signed is None:
        trades = [t for t in trades if t.alert_price is not None and t.tick_size and t.tick_value]
        sizes, values = _ticks(trades)
        signed = list(_worse_points(trades))
    if len(sizes) == 1 and len(values) == 1:
        (size,), (value,) = sizes, values
        money = sum(map(mul, signed, _column(trades, "qty")), ZERO) * value / size
        return len(trades), sum(signed, ZERO) / size, money
    ticks = list(map(truediv, signed, _column(trades, "tick_size")))
    per_contract = map(mul, ticks, _column(trades, "tick_value"))
    return len(trades), sum(ticks, ZERO), sum(map(mul, per_contract, _column(trades, "qty")), ZERO)


def _mean(amounts: list[Decimal]) -> Decimal | None:
    return _money(sum(amounts, ZERO) / len(amounts)) if amounts else None
