"""Replay benchmark (DESIGN §7): 1,000 recorded alerts over a month of 1-minute bars ≤ 5 s.

The month is a seeded random walk of an MES-like contract on its 0.25 grid: 22 trading
days of 23 hours (the daily hour's break left without bars, as CME's is), about 30,000
bars. The alerts are spread evenly over it, received a few seconds into a minute: buys
and sells with a stop and a target (a third of them with a trailing stop, about a
quarter with break-even), exits and reversals, each parsed from its JSON body as the
webhook parses it. Built before any timing; each run is a fresh venue
(`app.domain.replay.replay`), once as recorded and once in the moderate risk mode (each
entry with a stop sized from a $50,000 balance plus the closed P&L). `--service` also
times the whole POST /api/replay path on a temporary SQLite database
(bars and alerts read from their tables, both sides' metrics and the JSON answer).

    .venv/bin/python bench/replay.py [--alerts 1000] [--days 22] [--repeat 5] [--service]
"""

import argparse
import json
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import print_rows, timed  # noqa: E402 (bench/timing.py, beside this file)

from app.domain.bars import Bar  # noqa: E402
from app.domain.matching import ContractTerms  # noqa: E402
from app.domain.replay import ReplayAlert, ReplaySettings, replay  # noqa: E402
from app.domain.signals import SignalDefaults, parse_signal  # noqa: E402
from app.domain.vocabulary import RiskMode  # noqa: E402

SYMBOL = "MESZ6"
TICK = Decimal("0.25")
TERMS = {SYMBOL: ContractTerms(TICK, Decimal(5))}
TARGET_MS = 5000.0
# Sunday 27 September 2026, 17:00 Chicago: the month's alerts all trade MES1! = MESZ6
# (no roll inside it), so the service path finds every contract's bars.
FIRST_DAY = datetime(2026, 9, 27, 22, 0, tzinfo=UTC)
THURSDAY = 3
MINUTES_A_DAY = 23 * 60


def synthetic_bars(days: int, seed: int) -> list[Bar]:
    """A random walk in ticks, one bar a minute, 23 hours a day from Sunday to Thursday
    evenings (the sessions of Monday to Friday)."""
    rng = random.Random(seed)
    price, bars = 20_000, []  # in ticks: 5000.00
    day = FIRST_DAY
    for _ in range(days):
        for minute in range(MINUTES_A_DAY):
            path = [price + rng.randint(-3, 3) for _ in range(4)]
            high, low = max(price, *path), min(price, *path)
            bars.append(
                Bar(
                    day + timedelta(minutes=minute),
                    price * TICK,
                    high * TICK,
                    low * TICK,
                    path[-1] * TICK,
                    rng.randint(1, 200),
                )
            )
            price = path[-1]
        day += timedelta(days=3 if day.weekday() == THURSDAY else 1)  # no weekend session
    return bars


def synthetic_alerts(bars: list[Bar], count: int, seed: int) -> list[ReplayAlert]:
    rng = random.Random(seed)
    defaults = SignalDefaults(max_quantity=100, symbol="MES1!", quantity=1)
    step = len(bars) // count
    alerts = []
    for number in range(count):
        bar = bars[number * step]
        received = bar.time + timedelta(seconds=rng.randint(1, 50))
        body = _body(rng, bar.close)
        signal = parse_signal(json.dumps(body), defaults, received)
        alerts.append(ReplayAlert(number + 1, received, signal, SYMBOL))
    return alerts


def _body(rng: random.Random, close: Decimal) -> dict:
    kind = rng.random()
    if kind < 0.15:
        return {"action": "exit"}
    if kind < 0.25:
        return {"action": "reverse", "price": str(close)}
    body = {
        "action": rng.choice(("buy", "sell")),
        "quantity": rng.randint(1, 3),
        "price": str(close),
        "stop_loss": {"ticks": 16},
        "take_profit": {"ticks": 24},
    }
    if kind < 0.5:
        body["trailing_stop"] = {"ticks": 12, "activation": {"ticks": 8}}
    elif kind < 0.7:
        body["break_even"] = {"trigger": {"ticks": 8}, "offset": {"ticks": 1}}
    return body


def domain_row(
    bars: list[Bar], alerts: list[ReplayAlert], repeat: int, mode: RiskMode | None = None
) -> tuple:
    """The pure replay; with `mode`, every entry with a stop is sized from a $50,000
    balance plus the closed P&L, as the risk mode override does."""
    settings = ReplaySettings(
        slippage_ticks=1,
        commission_per_contract=Decimal("0.62"),
        risk_mode=mode,
        starting_balance=Decimal(50_000),
    )
    median, best, cpu, found = timed(
        lambda: replay(alerts, {SYMBOL: bars}, TERMS, settings), repeat
    )
    net = sum((trade.record.pnl for trade in found.trades), Decimal(0))
    answer = (
        f"{len(found.trades)} trades, net {net}, {len(found.skipped)} skipped, "
        f"{len(found.gaps)} gaps"
    )
    name = f"replay (domain, risk mode {mode.value})" if mode else "replay (domain)"
    return name, median, best, cpu, answer


def service_row(bars: list[Bar], alerts: list[ReplayAlert], repeat: int) -> tuple:
    """The whole API path on a temporary SQLite database at the newest schema: the alerts
    and bars read from their tables, both sides' metrics, the JSON answer."""
    import tempfile

    from sqlalchemy import create_engine

    from app import create_app
    from app.api.replay import answer_json
    from app.domain.vocabulary import BarSource, EventStatus, Timeframe
    from app.extensions import db
    from app.models import WebhookEvent
    from app.schema import upgrade_to_head
    from app.services.insight.replay import replay_of
    from app.services.market import bars as bar_store
    from app.services.setup.accounts import create_account
    from app.services.setup.strategies import create_strategy
    from config import TestConfig

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        engine = create_engine(url)
        upgrade_to_head(engine)
        engine.dispose()
        settings = {"DATABASE_URL": url, "INSTANCE_DIR": Path(folder)}
        app = create_app(type("BenchConfig", (TestConfig,), settings))
        with app.app_context():
            create_account(
                {"name": "bench", "broker": "paper", "starting_balance": Decimal(50_000)}
            )
            strategy_id = create_strategy({"name": "bench", "symbol": "MES1!"}).id
            for alert in alerts:
                db.session.add(
                    WebhookEvent(
                        strategy_id=strategy_id,
                        received_at=alert.time,
                        raw_body="{}",
                        signal=alert.signal.to_json(),
                        idempotency_key=f"id:{alert.alert_id}",
                        status=EventStatus.EXECUTED,
                    )
                )
            db.session.commit()
            bar_store.store(SYMBOL, Timeframe.M1, bars, BarSource.IMPORT)

            def work() -> dict:
                return answer_json(replay_of(strategy_id, None, bars[-1].time, {}))

            median, best, cpu, found = timed(work, repeat)
            answer = f"{len(found['replay']['trades'])} trades, net {found['replay']['net_pnl']}"
            db.engine.dispose()
            return "POST /api/replay path (SQLite)", median, best, cpu, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=22)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--service", action="store_true")
    args = parser.parse_args()
    bars = synthetic_bars(args.days, args.seed)
    alerts = synthetic_alerts(bars, args.alerts, args.seed)
    rows = [
        domain_row(bars, alerts, args.repeat),
        domain_row(bars, alerts, args.repeat, RiskMode.MODERATE),
    ]
    if args.service:
        rows.append(service_row(bars, alerts, args.repeat))
    load = os.getloadavg()[0]
    print_rows(
        f"{len(alerts):,} alerts over {len(bars):,} 1-minute bars ({args.days} days), "
        f"{args.repeat} runs each, load average {load:.1f}",
        (
            (name, median, best, cpu, answer, f"≤ {TARGET_MS:.0f} ms: {_verdict(median)}")
            for name, median, best, cpu, answer in rows
        ),
    )


def _verdict(median: float) -> str:
    return "met" if median <= TARGET_MS else "NOT MET"


if __name__ == "__main__":
    main()
