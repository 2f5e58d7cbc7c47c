"""Projection benchmark (issue 16): the Monte Carlo bootstrap of a strategy's trades,
2,000 runs × 500 trades, under no risk mode and each risk mode.

The strategy's record is 300 seeded trades (40 % winners of 1–2.5R, losers of 1R on a
$125 stop, a few without a known stop), built before any timing. Each measure runs
--repeat times and prints its median and best wall time and median CPU time, against
the target of 500 ms, with the answer's median final balance and risk of ruin.

    .venv/bin/python bench/projection.py [--runs 2000] [--trades 500] [--repeat 7]
"""

import argparse
import os
import random
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402 (bench/timing.py, beside this file)

from app.domain.projection import TradeResult, project  # noqa: E402
from app.domain.vocabulary import RiskMode  # noqa: E402

TARGET_MS = 500.0
STOP = Decimal(125)
RECORD = 300


def record(seed: int) -> list[TradeResult]:
    """A strategy's closed trades: wins of 1–2.5R, losses of about 1R, one in ten stopless."""
    rng = random.Random(seed)
    found = []
    for _ in range(RECORD):
        r = Decimal(rng.randint(100, 250)) / 100 if rng.random() < 0.4 else Decimal(-1)
        pnl = (r * STOP + Decimal(rng.randint(-20, 20))).quantize(Decimal("0.01"))
        found.append(TradeResult(pnl, None if rng.random() < 0.1 else STOP))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--trades", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    results, start = record(args.seed), Decimal(50_000)
    load = os.getloadavg()[0]
    print(
        f"{args.runs:,} runs × {args.trades:,} trades from {RECORD} recorded, "
        f"{args.repeat} runs each, load average {load:.1f}"
    )
    print("risk mode | wall median | wall best | CPU median | median final | ruin | target (wall)")
    for mode in [None, *RiskMode]:
        median, best, cpu, answer = timed(
            lambda m=mode: project(results, start, args.trades, m, args.runs, args.seed),
            args.repeat,
        )
        verdict = "met" if median <= TARGET_MS else "NOT MET"
        print(
            f"{mode or 'none (dollar P&L)'} | {median:.1f} ms | {best:.1f} ms | {cpu:.1f} ms | "
            f"{answer.percentiles['p50'][-1]:,} | {answer.risk_of_ruin:.2%} | "
            f"≤ {TARGET_MS:.0f} ms: {verdict}"
        )


if __name__ == "__main__":
    main()
