"""Live P&L benchmark: price tick → `pnl` event at a Socket.IO client (DESIGN §7, p99 ≤ 100 ms).

A fresh SQLite database gets paper accounts holding positions in 20 contracts (ten products,
front and next month), opened with market orders through the paper broker and the ledger.
The production server (`app/server.py`: gunicorn, one gthread worker, Flask-SocketIO in
threading mode with simple-websocket) serves it on 127.0.0.1 with the scheduler off, so
the only prices are the benchmark's: a ticker thread in the server's process feeds the
last-price cache as a market-data thread does, 20 symbols × --rate ticks/s for --seconds
(as many as it can when the cache's subscribers are slower than that), each tick at a price
of its own (one tick above the symbol's last), its time taken just before the cache hears
it. The owner logs in through the login form (`requests`) and a python-socketio client
connects over the websocket transport with that session cookie, as the browser does.

Two runs, each on a server of its own: "as built", where the paper venue hears every tick
before the pusher does (it writes the venue's last price and checks every live paper book),
and "pusher alone", where the server's paper venue is unsubscribed from the cache, so the
push path's own cost shows. `pnl` goes out at most once a second per account by design
(DESIGN §4), so, per run:

(a) freshness: for every `pnl` that arrives while the ticker runs, its arrival minus the
    time of the newest tick it shows — the figure held against the target;
(a') behind at arrival: how long the oldest tick the `pnl` misses (sent before it arrived,
    not shown) had been in the cache: the push's own delay, which (a) also counts when
    the ticker itself stalls;
(b) first showing: for every tick, the wait until the first `pnl` showing it or a later
    tick of its symbol (bounded by the one-second interval);
and ticks/s sent, the time a tick holds the cache's thread, `pnl`/s received and the
server process's CPU.

    .venv/bin/python bench/pnl_push.py [--seconds 20] [--rate 20] [--accounts 4] [--keep]
"""

import argparse
import bisect
import json
import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import socketio  # noqa: E402

from app import create_app  # noqa: E402
from app.brokers.paper import broker as paper_broker  # noqa: E402
from app.domain.contracts import resolve_symbol  # noqa: E402
from app.extensions import db  # noqa: E402
from app.server import Server  # noqa: E402
from app.services.live.pusher import PNL_INTERVAL_SECONDS  # noqa: E402
from app.services.market import prices  # noqa: E402
from app.services.setup.accounts import create_account  # noqa: E402
from app.services.trading.manual import place_manual_order  # noqa: E402
from config import Config  # noqa: E402

PYTHON = sys.executable
PASSWORD = "benchmark-password"
# Ten products, each in its front and next month: 20 contracts.
PRODUCTS = {
    "ES": "5000",
    "MES": "5000",
    "NQ": "18000",
    "MNQ": "18000",
    "YM": "40000",
    "RTY": "2000",
    "CL": "75",
    "GC": "2300",
    "ZN": "110",
    "6E": "1.08",
}
TARGET_P99_MS = 100
RUNS = (("as built", True), ("pusher alone", False))  # name, paper venue hears the ticks


def bench_config(workdir: Path) -> type[Config]:
    """Production settings on the run's own database; no jobs, so no paper feed moves the
    prices the benchmark sets, and no paper account is seeded beside the benchmark's."""
    return type(
        "BenchConfig",
        (Config,),
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
            "INSTANCE_DIR": workdir,
            "ADMIN_PASSWORD": PASSWORD,
            "SCHEDULER_ENABLED": False,
            "SEED_PAPER_ACCOUNT": False,
        },
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the book ----------------------------------------------------------------------------


def open_book(workdir: Path, accounts: int) -> dict:
    """Paper accounts and one position per contract (round robin over the accounts), by
    market orders through the paper broker; returns the plan the server's ticker follows."""
    now = datetime.now(UTC)
    contracts = [resolve_symbol(f"{root}{nth}!", now.date()) for root in PRODUCTS for nth in (1, 2)]
    app = create_app(bench_config(workdir))
    plan = {"symbols": [], "holders": {}}
    with app.app_context():
        ids = [
            create_account({"name": f"Paper {n + 1}", "broker": "paper"}).id
            for n in range(accounts)
        ]
        for number, contract in enumerate(contracts):
            tick = contract.spec.tick_size
            start = Decimal(PRODUCTS[contract.spec.root]) + number % 2 * 20 * tick
            prices.update(contract.code, start, now, "bench")
            order = {
                "account_id": ids[number % accounts],
                "symbol": contract.code,
                "side": "buy" if number % 3 else "sell",
                "qty": 1 + number % 3,
            }
            placed = place_manual_order(order, now)
            if placed[0].status != "filled":
                raise SystemExit(f"{contract.code}: not filled ({placed[0].reason})")
            plan["symbols"].append(
                {"symbol": contract.code, "start": str(start), "tick": str(tick)}
            )
            plan["holders"][contract.code] = order["account_id"]
        db.engine.dispose()
    prices.clear()
    return plan


# --- the server (its own process) --------------------------------------------------------


def serve(workdir: Path) -> None:
    """Run the production server on the plan's port, with the ticker in its worker."""
    plan = json.loads((workdir / "plan.json").read_text())

    def make_app():
        app = create_app(bench_config(workdir))
        if not plan["paper_venue"]:
            prices.subscribers.remove(paper_broker.on_price)
        threading.Thread(target=ticker, args=(workdir, plan), daemon=True).start()
        return app

    Server(make_app, host="127.0.0.1", port=plan["port"], threads=Config.WEB_THREADS).run()


def ticker(workdir: Path, plan: dict) -> None:
    """Once `go` exists: evenly spaced ticks, symbol after symbol, each one tick above that
    symbol's last, until the plan's count or its seconds are up; written to ticks.json
    with their times, how long each held the cache's thread, and the process's CPU time."""
    while not (workdir / "go").exists():
        time.sleep(0.01)
    symbols = plan["symbols"]
    total = int(plan["seconds"] * plan["rate"]) * len(symbols)
    spacing = 1 / (plan["rate"] * len(symbols))
    steps = [0] * len(symbols)
    sent = []
    cpu, started = time.process_time(), time.time()
    for number in range(total):
        delay = started + number * spacing - time.time()
        if delay > 0:
            time.sleep(delay)
        elif time.time() - started >= plan["seconds"]:
            break  # the subscribers are slower than the rate asked: the run ends on time
        which = number % len(symbols)
        steps[which] += 1
        symbol = symbols[which]
        price = Decimal(symbol["start"]) + steps[which] * Decimal(symbol["tick"])
        at = time.time()
        prices.update(symbol["symbol"], price, datetime.now(UTC), "bench")
        sent.append((symbol["symbol"], str(price), at, time.time() - at))
    result = {
        "ticks": sent,
        "seconds": time.time() - started,
        "cpu_seconds": time.process_time() - cpu,
    }
    (workdir / "ticks.tmp").write_text(json.dumps(result))
    (workdir / "ticks.tmp").rename(workdir / "ticks.json")


# --- the client --------------------------------------------------------------------------


@dataclass
class Heard:
    at: float  # time.time() as the handler ran
    payload: dict


def log_in(base: str) -> requests.Session:
    """The owner through the login form; the session cookie stays on the returned session.
    The first request waits while gunicorn's worker makes the app."""
    browser = requests.Session()
    form = browser.get(f"{base}/login", timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise SystemExit(f"no CSRF token on the login page ({form.status_code})")
    answer = browser.post(
        f"{base}/login",
        data={"csrf_token": token[1], "username": Config.ADMIN_USERNAME, "password": PASSWORD},
        timeout=30,
    )
    if answer.status_code != 200 or "/login" in answer.url:
        raise SystemExit(f"login failed: {answer.status_code} {answer.url}")
    return browser


def listen(base: str, browser: requests.Session, heard: list[Heard]) -> socketio.Client:
    client = socketio.Client(reconnection=False)
    client.on("pnl", lambda payload: heard.append(Heard(time.time(), payload)))
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    client.connect(base, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=30)
    return client


def wait_for(found, seconds: float, what: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found():
            return
        if server.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)
    raise SystemExit(f"no {what} after {seconds:g} s")


def measure(workdir: Path, plan: dict, name: str) -> tuple[dict, list[Heard]]:
    """One server, one client, one ticker run; the ticks and the `pnl` heard after the
    connect's snapshot."""
    for done in ("go", "ticks.json"):
        (workdir / done).unlink(missing_ok=True)
    plan = {**plan, "port": free_port()}
    (workdir / "plan.json").write_text(json.dumps(plan))
    log = workdir / f"server-{name.replace(' ', '-')}.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [PYTHON, __file__, "--serve", str(workdir)], cwd=ROOT, stdout=output, stderr=output
        )
    base, heard, client = f"http://127.0.0.1:{plan['port']}", [], None
    try:
        wait_for(lambda: "Booting worker" in log.read_text(), 60, "worker", server, log)
        client = listen(base, log_in(base), heard)
        accounts = len(set(plan["holders"].values()))
        wait_for(lambda: len(heard) >= accounts, 30, "snapshot pnl", server, log)
        snapshots = len(heard)
        (workdir / "go").touch()
        wait_for((workdir / "ticks.json").exists, plan["seconds"] + 60, "ticks", server, log)
        time.sleep(PNL_INTERVAL_SECONDS + 0.5)  # the last ticks' pnl
        result = json.loads((workdir / "ticks.json").read_text())
    finally:
        if client is not None:
            client.disconnect()
        server.terminate()
        server.wait(timeout=30)
    return result, heard[snapshots:]


# --- figures -----------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return dict.fromkeys(("p50", "p95", "p99", "max"), values[0] if values else float("nan"))
    cut = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "max": max(values)}


class Ticks:
    """The ticks sent, by symbol in order, found again from a price a `pnl` shows."""

    def __init__(self, sent: list) -> None:
        self.times: dict[str, list[float]] = {}
        self.number: dict[str, dict[Decimal, int]] = {}
        for symbol, price, at, _held in sent:
            mine = self.times.setdefault(symbol, [])
            self.number.setdefault(symbol, {})[Decimal(price)] = len(mine)
            mine.append(at)

    def shown(self, heard: Heard) -> dict[str, int]:
        """The tick each position of a `pnl` shows, by symbol (prices no tick sent left out)."""
        found = {}
        for position in heard.payload["positions"]:
            numbers, last = self.number.get(position["symbol"], {}), position["last"]
            if last is not None and Decimal(last) in numbers:
                found[position["symbol"]] = numbers[Decimal(last)]
        return found


def freshness(heard: list[Heard], ticks: Ticks) -> tuple[list[float], list[float]]:
    """Per `pnl` showing a tick: (a) arrival minus the newest tick shown, and (a') how long
    the oldest tick it misses had been sent (0 when it misses none), in ms."""
    ages, behind = [], []
    for event in heard:
        shown = ticks.shown(event)
        if not shown:
            continue
        ages.append((event.at - max(ticks.times[s][n] for s, n in shown.items())) * 1000)
        missed = [
            ticks.times[s][n + 1]
            for s, n in shown.items()
            if n + 1 < len(ticks.times[s]) and ticks.times[s][n + 1] < event.at
        ]
        behind.append((event.at - min(missed)) * 1000 if missed else 0.0)
    return ages, behind


def first_showing(heard: list[Heard], ticks: Ticks) -> tuple[list[float], int]:
    """Per tick: the wait in ms until the first `pnl` showing it or a later tick of its
    symbol; and how many ticks no `pnl` ever showed."""
    seen: dict[str, tuple[list[float], list[int]]] = {}  # arrivals, newest shown so far
    for event in sorted(heard, key=lambda e: e.at):
        for symbol, number in ticks.shown(event).items():
            arrivals, newest = seen.setdefault(symbol, ([], []))
            arrivals.append(event.at)
            newest.append(max(number, newest[-1]) if newest else number)
    waits, never = [], 0
    for symbol, times in ticks.times.items():
        arrivals, newest = seen.get(symbol, ([], []))
        for number, at in enumerate(times):
            first = bisect.bisect_left(newest, number)
            if first == len(newest):
                never += 1
            else:
                waits.append((arrivals[first] - at) * 1000)
    return waits, never


def figures(result: dict, heard: list[Heard]) -> dict:
    sent = result["ticks"]
    ticks = Ticks(sent)
    # After the last tick a `pnl` shows a price that is still the market's: no age to count.
    ticking = [event for event in heard if sent[0][2] <= event.at <= sent[-1][2]]
    ages, behind = freshness(ticking, ticks)
    waits, never = first_showing(heard, ticks)
    return {
        "sent": len(sent) / result["seconds"],
        "held": percentiles([held * 1000 for *_, held in sent]),
        "fresh": percentiles(ages),
        "fresh_count": len(ages),
        "behind": percentiles(behind),
        "first": percentiles(waits),
        "never": never,
        "pnl_rate": len(ticking) / result["seconds"],
        "cpu": 100 * result["cpu_seconds"] / result["seconds"],
    }


def report(args, plan: dict, found: dict[str, dict]) -> None:
    accounts = len(set(plan["holders"].values()))
    symbols = len(plan["symbols"])
    print(
        f"\n{symbols} symbols (front and next month of {symbols // 2} products) × {args.rate:g} "
        f"ticks/s asked for {args.seconds:g} s; {accounts} paper accounts holding "
        f"{symbols // accounts} each; one Socket.IO client over websocket; `pnl` at most once "
        f"per {PNL_INTERVAL_SECONDS:g} s per account by design. {os.cpu_count()} cores, load "
        f"average {os.getloadavg()[0]:.1f}.\n"
    )
    names = list(found)
    print("| per run | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))

    def row(label: str, cell) -> None:
        print(f"| {label} | " + " | ".join(cell(found[name]) for name in names) + " |")

    def spread(key: str, *cuts: str):
        return lambda f: " / ".join(f"{f[key][cut]:.1f}" for cut in cuts) + " ms"

    row("ticks sent", lambda f: f"{f['sent']:.0f}/s of {symbols * args.rate:g} asked")
    row("a tick holds the cache's thread, p50 / p99", spread("held", "p50", "p99"))
    row(
        "**(a) freshness** p50 / p95 / p99 / max",
        lambda f: spread("fresh", "p50", "p95", "p99", "max")(f) + f" ({f['fresh_count']} pnl)",
    )
    row("(a') behind at arrival p50 / p99 / max", spread("behind", "p50", "p99", "max"))
    row(
        "(b) first showing p50 / p99 / max",
        lambda f: spread("first", "p50", "p99", "max")(f) + f" ({f['never']} never shown)",
    )
    row("pnl received while ticking", lambda f: f"{f['pnl_rate']:.2f}/s")
    row("server process CPU", lambda f: f"{f['cpu']:.0f} % of one core")
    row(
        f"(a) p99 ≤ {TARGET_P99_MS} ms",
        lambda f: "met" if f["fresh"]["p99"] <= TARGET_P99_MS else "**NOT met**",
    )


# --- the run -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20, help="how long each ticker runs")
    parser.add_argument("--rate", type=float, default=20, help="ticks per second per symbol")
    parser.add_argument("--accounts", type=int, default=4, help="paper accounts sharing the 20")
    parser.add_argument("--keep", action="store_true", help="keep the database and server logs")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the server's process
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    logging.disable(logging.WARNING)
    workdir = Path(tempfile.mkdtemp(prefix="deskpilot-bench-pnl-"))
    try:
        plan = {**open_book(workdir, args.accounts), "seconds": args.seconds, "rate": args.rate}
        found = {}
        for name, paper_venue in RUNS:
            result, heard = measure(workdir, {**plan, "paper_venue": paper_venue}, name)
            found[name] = figures(result, heard)
        report(args, plan, found)
    finally:
        if args.keep:
            print(f"database and server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
