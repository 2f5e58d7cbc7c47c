"""Market-data benchmark (DESIGN §7): ticks into bars, chart styles and indicators over N
one-minute bars, and price alert rules on a new bar.

The bars are a seeded random walk of an MES-like contract (tick 0.25, price near 5000,
closes up to 4 ticks apart, wicks up to 3 ticks), built before any timing. Each measure
runs --repeat times and prints its median and best, against the target where DESIGN §7
sets one (any chart style over 100,000 bars ≤ 200 ms). Each section is a function that
takes the bars and the arguments and yields rows; add a section (ticks into bars, price
rules) by writing one and listing it in SECTIONS.

    .venv/bin/python bench/market.py [--bars 100000] [--repeat 7] [--only ticks rules ...]
"""

import argparse
import os
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import print_rows, timed  # noqa: E402 (bench/timing.py, beside this file)

from app.domain import chart_styles, indicators, price_rules  # noqa: E402
from app.domain.bar_building import MinuteBars  # noqa: E402
from app.domain.bars import Bar  # noqa: E402
from app.domain.vocabulary import ConditionJoin  # noqa: E402

TICK = Decimal("0.25")
STYLE_TARGET_MS = 200.0
TICKS = 1_000_000
TICKS_TARGET_MS = 1000.0
RULES = 1000
RULES_TARGET_MS = 100.0


def random_walk(count: int, seed: int) -> list[Bar]:
    """`count` one-minute bars of a random walk on the 0.25 grid."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    price = 20_000  # in ticks: 5000.00
    bars = []
    for n in range(count):
        opened = price
        price += rng.randint(-4, 4)
        high = max(opened, price) + rng.randint(0, 3)
        low = min(opened, price) - rng.randint(0, 3)
        o, h, lo, c = (Decimal(ticks) * TICK for ticks in (opened, high, low, price))
        bars.append(Bar(start + timedelta(minutes=n), o, h, lo, c, rng.randint(1, 2_000)))
    return bars


def styles(bars: list[Bar], repeat: int) -> Iterator[tuple[str, float, float, float, str, str]]:
    """Each chart style over every bar, parameters as a trader might pick them."""
    runs = {
        "Heikin-Ashi": lambda: chart_styles.heikin_ashi(bars, TICK),
        "Renko, box 2.00": lambda: chart_styles.renko(bars, TICK, Decimal("2")).bricks,
        "Renko, box ATR(14)": lambda: chart_styles.renko(bars, TICK).bricks,
        "Kagi, reversal 2.00": lambda: chart_styles.kagi(bars, TICK, Decimal("2")),
        "Kagi, reversal 0.05 %": lambda: chart_styles.kagi(bars, TICK, Decimal("0.05"), True),
        "Point & figure, box 1.00 × 3": lambda: chart_styles.point_and_figure(
            bars, TICK, Decimal("1"), 3
        ),
    }
    for name, run in runs.items():
        median, best, cpu, answer = timed(run, repeat)
        size = len(answer)
        verdict = "met" if median <= STYLE_TARGET_MS else "NOT MET"
        yield name, median, best, cpu, f"{size:,} items", f"≤ {STYLE_TARGET_MS:.0f} ms: {verdict}"


def indicator_rows(
    bars: list[Bar], repeat: int
) -> Iterator[tuple[str, float, float, float, str, str]]:
    """Each indicator over every bar, from the bars' Decimal columns (conversion included)."""
    closes = [b.close for b in bars]
    highs = [b.high for b in bars]
    lows = [b.low for b in bars]
    volumes = [b.volume for b in bars]
    runs = {
        "SMA(20)": lambda: indicators.sma(closes, 20),
        "EMA(20)": lambda: indicators.ema(closes, 20),
        "RSI(14)": lambda: indicators.rsi(closes, 14),
        "ATR(14)": lambda: indicators.atr(highs, lows, closes, 14),
        "percent change over 60": lambda: indicators.percent_change(closes, 60),
        "volume spike over 20": lambda: indicators.volume_spike(volumes, 20),
    }
    for name, run in runs.items():
        median, best, cpu, answer = timed(run, repeat)
        size = len(answer)
        yield name, median, best, cpu, f"{size:,} values", "no target"


def tick_rows(_bars: list[Bar], repeat: int) -> Iterator[tuple[str, float, float, float, str, str]]:
    """A million prices into 1-minute bars: the bar builder's inner loop (a price every
    60 ms of one contract, so about 1,000 minutes), and the same through the service's
    book (its lock and the time's conversion), as the price cache calls it."""
    from app.services.market.bars import BarBook  # the service: flask and sqlalchemy

    rng = random.Random(11)
    start = datetime(2026, 1, 5, 14, 30, tzinfo=UTC).timestamp()
    steps, ticks = [Decimal(n) * TICK for n in range(-2, 3)], []
    price = Decimal(5000)
    for n in range(TICKS):
        price += steps[rng.randrange(5)]
        ticks.append((price, start + n * 0.06))

    def build() -> list:
        book, closed = MinuteBars(), []
        for price, at in ticks:
            done = book.add("MESZ6", price, at)
            if done is not None:
                closed.append(done)
        return closed

    times = [datetime.fromtimestamp(at, UTC) for _, at in ticks]

    def through_the_service() -> list:
        book = BarBook()
        for (price, _), at in zip(ticks, times, strict=True):
            book.on_price("MESZ6", price, at)
        return book.closed

    target = f"≤ {TICKS_TARGET_MS:.0f} ms"
    runs = {
        "1,000,000 ticks → 1m bars": build,
        "the same through BarBook.on_price": through_the_service,
    }
    for name, run in runs.items():
        median, best, cpu, answer = timed(run, repeat)
        size = len(answer)
        verdict = "met" if median <= TICKS_TARGET_MS else "NOT MET"
        yield name, median, best, cpu, f"{size:,} bars", f"{target}: {verdict}"


def rule_rows(bars: list[Bar], repeat: int) -> Iterator[tuple[str, float, float, float, str, str]]:
    """1,000 price alert rules looked at on a new bar: five kinds of rule in turn (a price
    crossing, RSI, an SMA cross, a volume spike, a change over an hour), each given the
    bars it needs (the service reads them once per symbol and timeframe)."""
    kinds = [
        [{"kind": "crosses_above", "value": "5000"}],
        [{"kind": "rsi_above", "value": 70, "period": 14}],
        [{"kind": "sma_cross_above", "fast": 5, "slow": 20}],
        [{"kind": "volume_spike", "value": 2, "period": 20}],
        [{"kind": "change_pct", "value": 1, "window_minutes": 60},
         {"kind": "price_above", "value": "4000"}],
    ]  # fmt: skip
    rules = [price_rules.parse_conditions(kinds[n % len(kinds)]) for n in range(RULES)]
    recent = bars[-max(c.bars_needed for rule in rules for c in rule) :]
    states = [{} for _ in rules]

    def look_all() -> list:
        return [
            price_rules.look(rule, ConditionJoin.AND, recent, None, state, 1)
            for rule, state in zip(rules, states, strict=True)
        ]

    median, best, cpu, answer = timed(look_all, repeat)
    size = len(answer)
    verdict = "met" if median <= RULES_TARGET_MS else "NOT MET"
    yield (
        f"{RULES:,} rules on a new bar ({len(recent)} bars each)",
        median, best, cpu, f"{size:,} looks", f"≤ {RULES_TARGET_MS:.0f} ms: {verdict}",
    )  # fmt: skip


SECTIONS = {
    "styles": styles,
    "indicators": indicator_rows,
    "ticks": tick_rows,
    "rules": rule_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    bars = random_walk(args.bars, args.seed)
    load = os.getloadavg()[0]
    print_rows(
        f"{args.bars:,} one-minute bars, {args.repeat} runs each, load average {load:.1f}",
        (row for section in args.only for row in SECTIONS[section](bars, args.repeat)),
    )


if __name__ == "__main__":
    main()
