"""Options benchmark (DESIGN §7): price and Greeks of 100,000 options in one vectorised
call, under Black-76 and Black-Scholes-Merton, and the implied volatilities of a chain.

The options are seeded: calls and puts on one underlying at 100, strikes 50–150, 1 day to
3 years, volatilities 5–100 %, built as arrays before any timing. Each measure runs
--repeat times and prints its median and best wall time and median CPU time.

    .venv/bin/python bench/options.py [--options 100000] [--chain 500] [--repeat 7]
"""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import timed  # noqa: E402 (bench/timing.py, beside this file)

from app.domain import options  # noqa: E402

TARGET_MS = 100.0


def book(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "option_type": np.where(rng.random(count) < 0.5, "call", "put"),
        "underlying": 100.0,
        "strike": rng.uniform(50, 150, count),
        "years": rng.uniform(1 / 365, 3, count),
        "rate": 0.04,
        "volatility": rng.uniform(0.05, 1.0, count),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--options", type=int, default=100_000)
    parser.add_argument("--chain", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    inputs = book(args.options, args.seed)
    print(
        f"{args.options:,} options, {args.repeat} runs each, load average {os.getloadavg()[0]:.1f}"
    )
    print("measure | wall median | wall best | CPU median | target (wall)")
    for model, extra in (("black76", {}), ("bsm", {"dividend_yield": 0.015})):
        median, best, cpu, _ = timed(
            lambda m=model, e=extra: options.greeks(m, **inputs, **e), args.repeat
        )
        verdict = "met" if median <= TARGET_MS else "NOT MET"
        print(
            f"Greeks, {model} | {median:.1f} ms | {best:.1f} ms | {cpu:.1f} ms | "
            f"≤ {TARGET_MS:.0f} ms: {verdict}"
        )
    chain = book(args.chain, args.seed + 1)
    prices = options.greeks("black76", **chain).price
    median, best, cpu, found = timed(
        lambda: options.implied_volatilities(
            "black76", chain["option_type"], 100.0, chain["strike"], chain["years"], 0.04, prices
        ),
        args.repeat,
    )
    solved = np.isfinite(found)
    error = np.max(np.abs(found[solved] - chain["volatility"][solved]))
    print(
        f"implied volatility, chain of {args.chain} (Brent per contract) | {median:.1f} ms | "
        f"{best:.1f} ms | {cpu:.1f} ms | {solved.sum()} solved, max error {error:.1e}"
    )


if __name__ == "__main__":
    main()
