"""Monitor benchmark: one tick over N active trailing stops and OCO pairs on the paper broker.

Builds a fresh SQLite database with paper accounts holding long positions in four
contracts, and N advanced orders (half trailing stops with their working stop orders, half
native OCO pairs with both legs working) whose best prices and levels are spread around
the market, as if opened at different times. Then, tick after tick, every contract's price
takes a random-walk step through the price cache (the paper books see it) and one monitor
tick is timed. Printed per size: the first tick after a start (it reads every row), the
steady ticks (median / p95 / max, per order), how many best prices were written and how
many rows went to the broker per tick, the time without any broker work, and the
tick's peak Python allocation (tracemalloc).

    .venv/bin/python bench/monitor.py [--sizes 1000 10000] [--ticks 30] [--accounts 10]
"""

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from app import create_app  # noqa: E402
from app.brokers.base import OrderRequest  # noqa: E402
from app.brokers.paper.broker import PaperBroker, reset_venues  # noqa: E402
from app.brokers.paper.tables import PaperOrder  # noqa: E402
from app.domain.contracts import resolve_symbol  # noqa: E402
from app.domain.exits import OffsetUnit  # noqa: E402
from app.domain.trailing import Trail, stop_for  # noqa: E402
from app.domain.vocabulary import OrderType, PositionSide, Side  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import AdvancedOrder, BrokerAccount, Order  # noqa: E402
from app.services.market import prices  # noqa: E402
from app.services.protection import monitor  # noqa: E402
from config import TestConfig  # noqa: E402

ROOTS = ("MES", "MNQ", "ES", "NQ")
START = {
    "MES": Decimal("5000"),
    "MNQ": Decimal("18000"),
    "ES": Decimal("5000"),
    "NQ": Decimal("18000"),
}  # noqa: E501
TICK = Decimal("0.25")
# The book was set up this long ago: its rows are not "changed since the last look".
OPENED_AGO = timedelta(hours=1)


def make_app(workdir: Path):
    config = type(
        "BenchConfig",
        (TestConfig,),
        {"DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}", "INSTANCE_DIR": workdir},
    )
    return create_app(config)


def build(app, size: int, accounts: int, rng: random.Random) -> dict[str, Decimal]:
    """Accounts, positions, working exit orders and advanced orders; returns the prices."""
    now = datetime.now(UTC)
    symbols = [resolve_symbol(f"{root}1!", now.date()).code for root in ROOTS]
    market = {symbol: START[root] for symbol, root in zip(symbols, ROOTS, strict=True)}
    per_account = -(-size // accounts)
    with app.app_context():
        db.session.add_all(
            BrokerAccount(name=f"Paper {n}", broker="paper", starting_balance=Decimal(10**7))
            for n in range(accounts)
        )
        db.session.commit()
        account_ids = [a.id for a in db.session.query(BrokerAccount).order_by(BrokerAccount.id)]
        for symbol, price in market.items():
            prices.update(symbol, price, now, "bench")
        for account_id in account_ids:  # a long position per contract, big enough for its exits
            broker = PaperBroker(account_id, Decimal(10**7))
            for symbol in symbols:
                request = OrderRequest(f"open-{account_id}-{symbol}", symbol, Side.BUY, per_account)
                db.session.add(_row(account_id, request, "entry"))
                db.session.commit()
                broker.place_order(request)
        orders, advanced = [], []
        next_order = (db.session.query(Order.id).order_by(Order.id.desc()).first()[0]) + 1
        for n in range(size):
            advanced_id = n + 1
            account_id = account_ids[n % accounts]
            symbol = symbols[rng.randrange(len(symbols))]
            price = market[symbol]
            common = {
                "id": advanced_id,
                "account_id": account_id,
                "symbol": symbol,
                "side": PositionSide.LONG.value,
                "quantity": 1,
                "tick_size": TICK,
                "activated": True,
                "status": "active",
                "revision": 1,
                "created_at": now - OPENED_AGO,
                "updated_at": now - OPENED_AGO,
            }
            if n % 2 == 0:  # a trailing stop whose best price was up to 30 ticks higher
                above = rng.randrange(0, 31)
                amount = Decimal(above + rng.randrange(8, 33))
                best = price + above * TICK
                stop = stop_for(Trail(PositionSide.LONG, OffsetUnit.TICKS, amount, TICK), best)
                stop_id = next_order
                next_order += 1
                orders.append(_exit(stop_id, account_id, symbol, "stop_loss", advanced_id, stop))
                advanced.append(
                    {
                        **common,
                        "kind": "trailing",
                        "trail_unit": "ticks",
                        "trail_amount": amount,
                        "best_price": best,
                        "stop_price": stop,
                        "stop_order_id": stop_id,
                        "native": True,
                    }
                )
            else:  # a native OCO pair well around the market
                take = price + rng.randrange(40, 120) * TICK
                loss = price - rng.randrange(40, 120) * TICK
                take_id, stop_id = next_order, next_order + 1
                next_order += 2
                orders.append(_exit(take_id, account_id, symbol, "take_profit", advanced_id, take))
                orders.append(_exit(stop_id, account_id, symbol, "stop_loss", advanced_id, loss))
                advanced.append(
                    {
                        **common,
                        "kind": "oco",
                        "take_profit_price": take,
                        "stop_loss_price": loss,
                        "take_profit_order_id": take_id,
                        "stop_order_id": stop_id,
                        "native": True,
                    }
                )
        db.session.execute(insert(Order), orders)
        db.session.execute(insert(PaperOrder), [_at_venue(order) for order in orders])
        db.session.execute(insert(AdvancedOrder), advanced)
        db.session.commit()
        reset_venues()  # the books reload from the venue's tables, exits included
        for symbol, price in market.items():
            prices.update(symbol, price, now, "bench")
    return market


def _row(account_id: int, request: OrderRequest, role: str) -> Order:
    return Order(
        account_id=account_id,
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side.value,
        quantity=request.qty,
        order_type=request.order_type.value,
        role=role,
        status="pending",
        filled_quantity=0,
    )


def _exit(order_id, account_id, symbol, role, advanced_id, level) -> dict:
    take = role == "take_profit"
    group = f"{'oco' if take or advanced_id % 2 == 0 else 'trail'}-{advanced_id}"
    now = datetime.now(UTC) - OPENED_AGO
    return {
        "id": order_id,
        "account_id": account_id,
        "client_order_id": f"bench-{order_id}",
        "broker_order_id": f"paper-bench-{order_id}",
        "symbol": symbol,
        "side": "sell",
        "quantity": 1,
        "order_type": (OrderType.LIMIT if take else OrderType.STOP).value,
        "limit_price": level if take else None,
        "stop_price": None if take else level,
        "role": role,
        "group_id": group,
        "status": "working",
        "filled_quantity": 0,
        "created_at": now,
        "updated_at": now,
    }


def _at_venue(order: dict) -> dict:
    """The paper venue's own record of a working exit (its book, beside our row)."""
    return {
        "account_id": order["account_id"],
        "client_order_id": order["client_order_id"],
        "symbol": order["symbol"],
        "side": order["side"],
        "quantity": order["quantity"],
        "order_type": order["order_type"],
        "limit_price": order["limit_price"],
        "stop_price": order["stop_price"],
        "oco_group": order["group_id"],
        "reduce_only": True,
        "status": "working",
        "triggered": False,
        "filled_quantity": 0,
        "updated_at": order["updated_at"],
    }


def walk(market: dict[str, Decimal], rng: random.Random) -> None:
    """One random-walk step per contract (at most 3 ticks), through the price cache."""
    now = datetime.now(UTC)
    for symbol in market:
        market[symbol] += rng.randint(-3, 3) * TICK
        prices.update(symbol, market[symbol], now, "bench")


def run(size: int, ticks: int, accounts: int, seed: int) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="dp-bench-monitor-") as folder:
        app = make_app(Path(folder))
        started = time.perf_counter()
        market = build(app, size, accounts, rng)
        built = time.perf_counter() - started
        tracemalloc.start()
        with app.app_context():
            first = monitor.tick(datetime.now(UTC))  # reads every row, as after a restart
        held, _ = tracemalloc.get_traced_memory()  # what the monitor keeps between ticks
        tracemalloc.stop()
        with app.app_context():
            monitor.forget()
            first = monitor.tick(datetime.now(UTC))  # timed again without tracing
        steady, moved, actions, calm = [], [], [], []
        for _ in range(ticks):
            walk(market, rng)
            with app.app_context():
                status = monitor.tick(datetime.now(UTC))
            assert status.errors == 0, status.last_error
            steady.append(status.duration_ms)
            moved.append(status.moved_stops)
            actions.append(status.broker_actions)
            if not status.moved_stops and not status.broker_actions:
                calm.append(status.duration_ms)  # prices moved, no broker work needed
        base = statistics.median(calm) if calm else min(steady)
        busy = [(d, m) for d, m in zip(steady, moved, strict=True) if m]
        per_stop = (
            sum(d - base for d, _ in busy) / sum(m for _, m in busy) if busy else float("nan")
        )
        walk(market, rng)
        tracemalloc.start()
        with app.app_context():
            monitor.tick(datetime.now(UTC))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        with app.app_context():
            watched = monitor.tick(datetime.now(UTC)).watched
            db.engine.dispose()
        prices.clear()
    return {
        "size": size,
        "watched": watched,
        "built_s": built,
        "first_ms": first.duration_ms,
        "calm_ms": base,
        "calm_ticks": len(calm),
        "median_ms": statistics.median(steady),
        "p95_ms": sorted(steady)[max(int(len(steady) * 0.95) - 1, 0)],
        "max_ms": max(steady),
        "moved": statistics.mean(moved),
        "max_moved": max(moved),
        "per_stop_ms": per_stop,
        "actions": sum(actions),
        "peak_mb": peak / 2**20,
        "held_mb": held / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(
        "orders | first tick (reads every row) | tick, prices moved, no stop to move "
        "(per order) | every tick median / p95 / max | stops moved per tick mean (max) | "
        "cost per moved stop | tick peak allocation | memory kept between ticks"
    )
    for size in args.sizes:
        r = run(size, args.ticks, args.accounts, args.seed)
        print(
            f"{r['size']:,} | {r['first_ms']:.1f} ms | {r['calm_ms']:.1f} ms "
            f"({r['calm_ms'] * 1000 / r['size']:.2f} µs) | {r['median_ms']:.1f} / "
            f"{r['p95_ms']:.1f} / {r['max_ms']:.1f} ms | {r['moved']:.0f} ({r['max_moved']}) | "
            f"{r['per_stop_ms']:.2f} ms | {r['peak_mb']:.1f} MB | {r['held_mb']:.1f} MB"
            f"   [{r['calm_ticks']} calm ticks of {args.ticks}; {r['actions']} rows acted on "
            f"one by one; set-up {r['built_s']:.1f} s; {r['watched']:,} still watched]"
        )


if __name__ == "__main__":
    main()
