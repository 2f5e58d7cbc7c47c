"""Analytics benchmark (DESIGN §7): the trading metrics over N closed trades, and room for
the projection and replay figures beside them.

The trades are a seeded synthetic history of an MES-like contract (tick 0.25, $1.25 a
tick): one round trip after another, long or short, 1–3 contracts, held 1–30 minutes
with up to an hour flat between them, each from an alert with a price up to 2 ticks
away from the fill and a fill 50–400 ms after it; built before any timing. Each measure
runs --repeat times and prints its median and best, against the target where DESIGN §7
sets one (analytics over 100,000 trades ≤ 200 ms). Each section is a function that takes
the trades and the arguments and yields rows; add a section (projection, replay) by
writing one and listing it in SECTIONS.

    .venv/bin/python bench/analytics.py [--trades 100000] [--repeat 7] [--only metrics]
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

from timing import Row, print_rows, timed  # noqa: E402 (bench/timing.py, beside this file)

from app.domain import analytics  # noqa: E402
from app.domain.analytics import TradeRecord  # noqa: E402
from app.domain.vocabulary import PositionSide  # noqa: E402

TICK = Decimal("0.25")
TICK_VALUE = Decimal("1.25")
COMMISSION = Decimal("0.62")  # per contract per side
STARTING_BALANCE = Decimal(50_000)
METRICS_TARGET_MS = 200.0


def synthetic_trades(count: int, seed: int) -> list[TradeRecord]:
    """`count` round trips one after another, prices on the 0.25 grid near 5000."""
    rng = random.Random(seed)
    at = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
    price, trades = 20_000, []  # in ticks: 5000.00
    for _ in range(count):
        side = rng.choice((PositionSide.LONG, PositionSide.SHORT))
        qty = rng.randint(1, 3)
        entry, alert = price, price + rng.randint(-2, 2)
        moved = rng.randint(-10, 14)  # a 2-tick edge: the strategy earns its commission
        price += moved if side is PositionSide.LONG else -moved
        gross = moved * TICK_VALUE * qty
        commission = 2 * COMMISSION * qty
        exit_time = at + timedelta(minutes=rng.randint(1, 30))
        trades.append(
            TradeRecord(
                entry_time=at,
                exit_time=exit_time,
                side=side,
                qty=qty,
                entry_price=entry * TICK,
                exit_price=price * TICK,
                gross_pnl=gross,
                commission=commission,
                pnl=gross - commission,
                symbol="MESZ6",
                alert_price=alert * TICK,
                alert_time=at - timedelta(milliseconds=rng.randint(50, 400)),
                first_fill_time=at,
                tick_size=TICK,
                tick_value=TICK_VALUE,
            )
        )
        at = exit_time + timedelta(minutes=rng.randint(1, 60))
    return trades


def metric_rows(trades: list[TradeRecord], repeat: int) -> Iterator[Row]:
    """Every metric over all the trades, as `/api/analytics` asks for them."""
    found = analytics.metrics(trades, STARTING_BALANCE)
    median, best, cpu, _ = timed(lambda: analytics.metrics(trades, STARTING_BALANCE), repeat)
    verdict = "met" if median <= METRICS_TARGET_MS else "NOT MET"
    answer = f"net {found.net_pnl}, Sharpe {found.sharpe}, {len(found.equity_curve):,} points"
    target = f"≤ {METRICS_TARGET_MS:.0f} ms: {verdict}"
    yield f"metrics over {len(trades):,} trades", median, best, cpu, answer, target


SECTIONS = {
    "metrics": metric_rows,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    trades = synthetic_trades(args.trades, args.seed)
    load = os.getloadavg()[0]
    print_rows(
        f"{args.trades:,} synthetic trades, {args.repeat} runs each, load average {load:.1f}",
        (row for section in args.only for row in SECTIONS[section](trades, args.repeat)),
    )


if __name__ == "__main__":
    main()
