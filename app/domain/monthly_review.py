"""The monthly review: one month's figures against the month before, the change of each,
the best and worst trades, and the shifts worth a sentence.

A month is the CME trading days named in it (`app.domain.trading_day`: a day opens at
17:00 Chicago the evening before and is named by the date it closes on), the rule the
analytics' day breakdown and the daily summary already follow: a trade closed on Sunday
evening 30 November counts in December, with Monday 1 December's trading day. So the
months meet at 17:00 Chicago on the last evening of a month, whatever the owner's zone.

Pure: the trades and the settings' changes come in, figures and sentences go out, no
clock read. The figures are `app.domain.analytics.metrics`'s own definitions.
"""

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from app.domain.analytics import DAY_OPENS, TradeRecord, metrics
from app.domain.errors import DomainValidationError
from app.domain.trading_day import CHICAGO

logger = logging.getLogger(__name__)

MONTH_FORMAT = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 1970, 9998  # a month whose neighbours are dates Python can hold
# metrics() wants a starting balance for its percentages and ratios, which the review does
# not show; every figure it shows (counts, sums, averages, the drawdown's depth in money)
# is the same from any balance above 0, so a nominal one is passed.
NOMINAL_BALANCE = Decimal(1_000_000)

# The shifts told as sentences: a move past these is news, anything smaller is noise.
WIN_RATE_SHIFT_POINTS = 10.0
DRAWDOWN_GROWTH = Decimal(2)  # the deepest fall at least doubled
ACTIVITY_FACTOR = 2  # trades at least doubled or at most halved …
ACTIVITY_FLOOR = 4  # … from a month with at least this many (1 → 2 is not a change of pace)
SLIPPAGE_SHIFT_TICKS = Decimal(1)  # per contract


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str | None) -> "Month":
        """`YYYY-MM`, refused naming `month` otherwise."""
        found = MONTH_FORMAT.fullmatch(text or "")
        if found is None:
            raise DomainValidationError("month", "must be a month as YYYY-MM, e.g. 2026-11")
        year, month = int(found[1]), int(found[2])
        if not 1 <= month <= 12:
            raise DomainValidationError("month", "must have a month from 01 to 12")
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise DomainValidationError("month", f"must be in {FIRST_YEAR}–{LAST_YEAR}")
        return cls(year, month)

    @classmethod
    def of(cls, day: date) -> "Month":
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def name(self) -> str:
        """How a trader says it: "November 2026"."""
        return date(self.year, self.month, 1).strftime("%B %Y")

    def previous(self) -> "Month":
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def following(self) -> "Month":
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def opens(self) -> datetime:
        """When the month's first trading day opens: 17:00 Chicago the evening before the 1st."""
        eve = date(self.year, self.month, 1) - timedelta(days=1)
        return datetime.combine(eve, DAY_OPENS, CHICAGO).astimezone(UTC)

    def closes(self) -> datetime:
        """When its last trading day closes (the next month opens); exits before it count."""
        return self.following().opens()


@dataclass(frozen=True)
class Figures:
    """One month of one strategy (or of all of them): see `figures_of`."""

    trades: int
    win_rate: float | None
    net_pnl: Decimal
    profit_factor: float | None
    expectancy: Decimal | None
    max_drawdown: Decimal
    avg_slippage_ticks: Decimal | None


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


@dataclass(frozen=True)
class Figure:
    """A figure's definition: its name in `Figures`, how a trader calls it, and which way
    is better (+1 higher, −1 lower, 0 neither: more trades is not better in itself)."""

    key: str
    label: str
    better: int


FIGURES = (
    Figure("trades", "Trades", 0),
    Figure("win_rate", "Win rate", 1),
    Figure("net_pnl", "Net P&L", 1),
    Figure("profit_factor", "Profit factor", 1),
    Figure("expectancy", "Expectancy", 1),
    Figure("max_drawdown", "Max drawdown", -1),
    Figure("avg_slippage_ticks", "Avg slippage (ticks)", -1),
)
_ROUNDING = {"win_rate": 2, "profit_factor": 3}  # float figures, rounded as metrics() does


@dataclass(frozen=True)
class Comparison:
    figure: Figure
    current: int | float | Decimal | None
    previous: int | float | Decimal | None
    change: int | float | Decimal | None  # current − previous; None unless both are known
    verdict: Verdict | None  # None for a figure no direction improves, or an unknown change


@dataclass(frozen=True)
class Shift:
    figure: str
    good: bool
    text: str


@dataclass(frozen=True)
class SettingChange:
    """One audited change of the strategy's settings (or its traders') in the month:
    `fields` are {name: [old, new]} when the entry recorded a diff, else {}."""

    at: datetime
    message: str
    fields: dict
    strategy_id: int | None = None


@dataclass(frozen=True)
class Review:
    strategy_id: int | None  # None: all strategies together (manual trades too)
    name: str
    current: Figures
    previous: Figures
    comparisons: list[Comparison]
    best: object | None  # the caller's trade objects (anything with `pnl`, `exit_time`)
    worst: object | None
    changes: list[SettingChange]
    shifts: list[Shift]


def figures_of(trades: Sequence[TradeRecord], avg_slippage_ticks: Decimal | None) -> Figures:
    """The month's figures over its closed `trades`, as `metrics` defines them; slippage is
    the trades' entries against their alerts' prices, which the caller joined (the
    records here may lack them), so the caller brings it."""
    found = metrics(trades, NOMINAL_BALANCE)
    return Figures(
        trades=found.trades,
        win_rate=found.win_rate,
        net_pnl=found.net_pnl,
        profit_factor=found.profit_factor,
        expectancy=found.expectancy,
        max_drawdown=found.max_drawdown,
        avg_slippage_ticks=avg_slippage_ticks,
    )


def compare(current: Figures, previous: Figures) -> list[Comparison]:
    """Each figure this month, last month, the change and whether it is for the better."""
    found = []
    for figure in FIGURES:
        now, then = getattr(current, figure.key), getattr(previous, figure.key)
        change = None if now is None or then is None else now - then
        if change is not None and figure.key in _ROUNDING:
            change = round(change, _ROUNDING[figure.key])
        verdict = None
        if change is not None and figure.better:
            verdict = (
                Verdict.SAME
                if change == 0
                else Verdict.BETTER
                if (change > 0) == (figure.better > 0)
                else Verdict.WORSE
            )
        found.append(Comparison(figure, now, then, change, verdict))
    return found


def best_and_worst(trades: Sequence) -> tuple[object | None, object | None]:
    """The trade that netted most and the one that netted least (the earlier one on a
    tie); with a single trade it is the best and there is no worst to tell apart."""
    if not trades:
        return None, None
    ordered = sorted(trades, key=lambda t: t.exit_time)
    best = max(ordered, key=lambda t: t.pnl)
    worst = min(ordered, key=lambda t: t.pnl)
    return best, (worst if len(ordered) > 1 else None)


def shifts(current: Figures, previous: Figures) -> list[Shift]:
    """The month-on-month moves large enough to tell (the thresholds above), in the order
    a trader reads them: results, then how they came, then how often and how well filled."""
    told: list[Shift] = []
    if previous.trades and not current.trades:
        return [Shift("trades", False, f"No trades this month, after {previous.trades}.")]
    if not previous.trades or not current.trades:
        return told
    if (previous.net_pnl > 0) != (current.net_pnl > 0) and current.net_pnl != 0:
        turned = "a profit" if current.net_pnl > 0 else "a loss"
        told.append(Shift("net_pnl", current.net_pnl > 0, f"Net P&L turned to {turned}."))
    move = current.win_rate - previous.win_rate
    if abs(move) > WIN_RATE_SHIFT_POINTS:
        way = "up" if move > 0 else "down"
        told.append(
            Shift(
                "win_rate",
                move > 0,
                f"Win rate {way} {abs(round(move, 2)):g} points "
                f"({previous.win_rate:g} % → {current.win_rate:g} %).",
            )
        )
    if (
        previous.max_drawdown > 0
        and current.max_drawdown >= DRAWDOWN_GROWTH * previous.max_drawdown
    ):
        told.append(
            Shift(
                "max_drawdown",
                False,
                f"Max drawdown deepened from {_plain(previous.max_drawdown)} "
                f"to {_plain(current.max_drawdown)}.",
            )
        )
    if previous.trades >= ACTIVITY_FLOOR:
        if current.trades >= ACTIVITY_FACTOR * previous.trades:
            told.append(Shift("trades", True, _pace("More", previous, current)))
        elif current.trades * ACTIVITY_FACTOR <= previous.trades:
            told.append(Shift("trades", False, _pace("Fewer", previous, current)))
    if current.avg_slippage_ticks is not None and previous.avg_slippage_ticks is not None:
        worse = current.avg_slippage_ticks - previous.avg_slippage_ticks
        if abs(worse) >= SLIPPAGE_SHIFT_TICKS:
            told.append(
                Shift(
                    "avg_slippage_ticks",
                    worse < 0,
                    f"Fills {'worse' if worse > 0 else 'better'} by {_plain(abs(worse))} ticks "
                    "a contract against the alerts' prices.",
                )
            )
    return told


def _pace(word: str, previous: Figures, current: Figures) -> str:
    return f"{word} trades: {current.trades}, after {previous.trades}."


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def review(
    strategy_id: int | None,
    name: str,
    current: tuple[Sequence[TradeRecord], Decimal | None],
    previous: tuple[Sequence[TradeRecord], Decimal | None],
    trades: Sequence,
    changes: Sequence[SettingChange],
) -> Review:
    """One strategy's review: `current` and `previous` are each month's trade records and
    average slippage; `trades` are this month's trades as the caller shows them (for the
    best and worst); `changes` the month's audited settings changes, in time order."""
    now, then = figures_of(*current), figures_of(*previous)
    best, worst = best_and_worst(trades)
    return Review(
        strategy_id,
        name,
        now,
        then,
        compare(now, then),
        best,
        worst,
        sorted(changes, key=lambda change: change.at),
        shifts(now, then),
    )


def diff_of(data: dict | None) -> dict:
    """An audit entry's {field: [old, new]} when it recorded a diff (an update), else {}
    (a creation records the whole settings, which are no change to list)."""
    if not data or not all(isinstance(v, list) and len(v) == 2 for v in data.values()):
        return {}
    return dict(data)
