"""Market-data benchmark: chart styles and indicators over N one-minute bars (DESIGN §7).

The bars are a seeded random walk of an MES-like contract (tick 0.25, price near 5000,
closes up to 4 ticks apart, wicks up to 3 ticks), built before any timing. Each measure
runs --repeat times and prints its median and best, against the target where DESIGN §7
sets one (any chart style over 100,000 bars ≤ 200 ms). Each section is a function that
takes the bars and the arguments and yields rows; add a section (ticks into bars, price
rules) by writing one and listing it in SECTIONS.

    .venv/bin/python bench/market.py [--bars 100000] [--repeat 7] [--only styles indicators]
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.domain import chart_styles, indicators  # noqa: E402
from app.domain.bars import Bar  # noqa: E402

TICK = Decimal("0.25")
STYLE_TARGET_MS = 200.0


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


def timed(work: Callable[[], list], repeat: int) -> tuple[float, float, float, int]:
    """Median and best wall time and median CPU time in ms over `repeat` runs, and how many
    items came out.

    CPU time is printed beside the wall time because the machine may be shared: under
    other load the wall time grows, the process's own CPU time much less. Each run's answer
    is dropped before the next starts, so the garbage collector does not walk the previous
    100,000 items (a server answering one request would not).
    """
    wall, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        size = len(work())
        cpu.append((time.process_time() - used) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return statistics.median(wall), min(wall), statistics.median(cpu), size


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
        median, best, cpu, size = timed(run, repeat)
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
        median, best, cpu, size = timed(run, repeat)
        yield name, median, best, cpu, f"{size:,} values", "no target"


SECTIONS = {"styles": styles, "indicators": indicator_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    bars = random_walk(args.bars, args.seed)
    load = os.getloadavg()[0]
    print(f"{args.bars:,} one-minute bars, {args.repeat} runs each, load average {load:.1f}")
    print("measure | wall median | wall best | CPU median | answer | target (DESIGN §7, wall)")
    for section in args.only:
        for name, median, best, cpu, answer, target in SECTIONS[section](bars, args.repeat):
            print(f"{name} | {median:.1f} ms | {best:.1f} ms | {cpu:.1f} ms | {answer} | {target}")


if __name__ == "__main__":
    main()
