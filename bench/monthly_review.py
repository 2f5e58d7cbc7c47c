"""Monthly review benchmark: the pure part of GET /api/analytics/monthly-review — each
strategy's month and the month before compared, all strategies together first — over a
seeded synthetic history (bench/analytics.py's trades, dealt round-robin to strategies).

The review runs metrics() twice per card (this month, last month), so its cost grows with
the trades and the number of strategies; DESIGN §7 sets no target for it, so this prints
the figures to watch: the median and best wall time and the median CPU time.

    .venv/bin/python bench/monthly_review.py [--trades 20000] [--strategies 10] [--repeat 7]
"""

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics import synthetic_trades  # noqa: E402 (bench/analytics.py, beside this file)
from timing import timed  # noqa: E402

from app.domain.monthly_review import review  # noqa: E402


def reviews(current, previous, strategies: int) -> list:
    """The all-strategies card, then one per strategy, as the service builds them."""
    cards = [review(None, "All strategies", (current, None), (previous, None), current, [])]
    for sid in range(strategies):
        mine = [t for t in current if t.strategy_id == sid]
        before = [t for t in previous if t.strategy_id == sid]
        cards.append(review(sid, f"S{sid}", (mine, None), (before, None), mine, []))
    return cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000, help="trades in each month")
    parser.add_argument("--strategies", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    history = synthetic_trades(2 * args.trades, seed=16)
    dealt = [replace(t, strategy_id=n % args.strategies) for n, t in enumerate(history)]
    previous, current = dealt[: args.trades], dealt[args.trades :]
    median, best, cpu, cards = timed(
        lambda: reviews(current, previous, args.strategies), args.repeat
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, repeat {args.repeat}")
    print(
        f"monthly review, {args.trades:,} trades a month over {args.strategies} strategies "
        f"({len(cards)} cards): median {median:.1f} ms, best {best:.1f} ms, cpu {cpu:.1f} ms"
    )


if __name__ == "__main__":
    main()
