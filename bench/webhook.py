"""Webhook benchmark over HTTP: DeskPilot's production server beside the floor, in one run.

DeskPilot runs as deployed: `run.py serve` (gunicorn, one gthread worker, WEB_THREADS
threads), a fresh SQLite database, the paper broker, the webhook rate limit off and the
scheduler running (paper feed, position poller, monitor). The floor (bench/floor_app.py,
a bare Flask route that parses the JSON and inserts one SQLite row) is served the same
way. Keep-alive clients on 127.0.0.1, then, against DESIGN §7:

1. latency: one sender for --seconds to each server: round trip p50 / p95 / p99;
2. throughput: 8 concurrent senders, all to ONE account, for --seconds: alerts/s;
3. the ratios: DeskPilot p50 ≤ 2× the floor's; DeskPilot throughput ≥ 50 % of the floor's;
4. burst: 50 alerts at once to 5 strategies × 2 accounts (--bursts times): every answer
   within 1 s, p99 ≤ 250 ms;
5. exactly once: every alert answered 200 with an event of its own and exactly the
   filled orders its traders make, and the database holds those orders and no others;
6. where an alert's time goes, in-process: SQL statements and commits per alert
   (SQLAlchemy event listeners), the stored stage timings, and cProfile's own time per
   package and top functions.

    .venv/bin/python bench/webhook.py [--seconds 5] [--bursts 3] [--profile-alerts 200]
"""

import argparse
import cProfile
import http.client
import json
import logging
import os
import pstats
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.services.setup.auth import issue_api_token, owner  # noqa: E402
from config import Config, TestConfig  # noqa: E402

PYTHON = sys.executable
SENDERS = 8
BURST = 50
BURST_STRATEGIES = 5


@dataclass
class Answer:
    """One alert's round trip: milliseconds, HTTP status and the decoded body."""

    ms: float
    status: int
    body: dict


@dataclass
class Run:
    answers: list[Answer]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.answers) / self.seconds


# --- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_line(log: Path, text: str, process: subprocess.Popen, seconds: float = 90) -> None:
    """Wait until the server's log says `text` (its worker is up and ready)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()}")
        time.sleep(0.2)
    raise SystemExit(f"no {text!r} in {log} after {seconds} s")


def start_deskpilot(workdir: Path) -> tuple[subprocess.Popen, int, dict]:
    """`run.py serve` with its scheduler; returns the process, port and API headers."""
    port = free_port()
    env = {
        **os.environ,
        "DESKPILOT_INSTANCE_DIR": str(workdir),
        "ADMIN_PASSWORD": "benchmark-password",
        "PORT": str(port),
        "WEBHOOK_RATE_LIMIT": "off",
        "SCHEDULER_ENABLED": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    log = workdir / "deskpilot.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [PYTHON, "run.py", "serve"], cwd=ROOT, env=env, stdout=output, stderr=output
        )
    wait_for_line(log, "scheduler started with", server)
    token = subprocess.run(
        [PYTHON, "run.py", "token"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    return server, port, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def start_floor(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = workdir / "floor.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [PYTHON, str(ROOT / "bench" / "floor_app.py"), str(workdir / "floor.db"), str(port)],
            stdout=output,
            stderr=output,
        )
    wait_for_line(log, "Booting worker", server)
    # gunicorn listens before its worker has made the app: a request waits until it has.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=90)
    connection.request("GET", "/")
    connection.getresponse().read()
    connection.close()
    return server, port


def api(port: int, headers: dict, method: str, path: str, body=None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        payload = json.loads(response.read())
    finally:
        connection.close()
    if response.status >= 400:
        raise SystemExit(f"{method} {path}: {response.status} {payload}")
    return payload


def prepare_desk(port: int, headers: dict) -> tuple[str, list[str]]:
    """One strategy on the seeded paper account; five on both it and a second account."""
    first = api(port, headers, "GET", "/api/accounts")["items"][0]["id"]
    second = api(port, headers, "POST", "/api/accounts", {"name": "Paper 2", "broker": "paper"})
    single = make_strategy(port, headers, "bench", [first])
    burst = [
        make_strategy(port, headers, f"burst {n}", [first, second["id"]])
        for n in range(BURST_STRATEGIES)
    ]
    return single, burst


def make_strategy(port: int, headers: dict, name: str, accounts: list[int]) -> str:
    strategy = api(port, headers, "POST", "/api/strategies", {"name": name, "symbol": "MES1!"})
    for account in accounts:
        trader = {"strategy_id": strategy["id"], "account_id": account}
        api(port, headers, "POST", "/api/traders", trader)
    return strategy["webhook_token"]


# --- senders -----------------------------------------------------------------------------


def alert(tag: str, number: int) -> bytes:
    side = "buy" if number % 2 == 0 else "sell"
    body = {"action": side, "quantity": 1, "price": "6000.25", "id": f"{tag}-{number}"}
    return json.dumps(body).encode()


def post(connection: http.client.HTTPConnection, path: str, body: bytes) -> Answer:
    started = time.perf_counter()
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    return Answer(elapsed, response.status, json.loads(payload) if payload else {})


def fire(port: int, path: str, seconds: float, senders: int, tag: str) -> Run:
    """Keep-alive senders, each sending its next alert as soon as the last is answered."""
    results: list[list[Answer]] = [[] for _ in range(senders)]
    stop_at = time.monotonic() + seconds

    def sender(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = 0
        while time.monotonic() < stop_at:
            results[number].append(post(connection, path, alert(f"{tag}-{number}", sent)))
            sent += 1
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run([a for mine in results for a in mine], time.monotonic() - started)


def burst(port: int, tokens: list[str], tag: str) -> Run:
    """BURST alerts released at once, spread over the strategies, each on a new connection
    (as TradingView sends them)."""
    gate = threading.Barrier(BURST)
    answers: list[Answer | None] = [None] * BURST

    def sender(number: int) -> None:
        path = f"/webhook/{tokens[number % len(tokens)]}"
        body = alert(f"{tag}-{number % len(tokens)}", number // len(tokens))
        gate.wait()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        answers[number] = post(connection, path, body)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=sender, args=(n,)) for n in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Run([a for a in answers if a is not None], time.monotonic() - started)


# --- figures -----------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    cut = statistics.quantiles(sorted(values), n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98], "max": max(values)}


def line(name: str, run: Run) -> dict:
    figures = percentiles([a.ms for a in run.answers])
    errors = sum(1 for a in run.answers if a.status != 200)
    print(
        f"  {name:<34} p50 {figures['p50']:7.2f}  p95 {figures['p95']:7.2f}  "
        f"p99 {figures['p99']:7.2f}  max {figures['max']:7.2f} ms  "
        f"{run.rate:7.1f}/s  ({len(run.answers)} sent, {errors} not 200)"
    )
    return {**figures, "rate": run.rate}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def exactly_once(runs: list[tuple[Run, int]], database: Path) -> str:
    """Every alert answered 200 `executed` with an event of its own and `traders` filled
    orders; the orders table holds exactly those orders (none lost, none doubled)."""
    answers = [(a, traders) for run, traders in runs for a in run.answers]
    problems = Counter()
    event_ids, order_ids = [], []
    for answer, traders in answers:
        orders = answer.body.get("orders", [])
        if answer.status != 200 or answer.body.get("status") != "executed":
            problems[f"not executed ({answer.status} {first_reason(answer.body)})"] += 1
        if len(orders) != traders or any(o["status"] != "filled" for o in orders):
            problems["not one filled order per trader"] += 1
        if answer.body.get("event_id") is None:
            problems["no event"] += 1
        else:
            event_ids.append(answer.body["event_id"])
        order_ids.extend(o["id"] for o in orders)
    if len(set(event_ids)) != len(event_ids):
        problems["an event shared by two alerts"] += 1
    with sqlite3.connect(database) as connection:
        stored = {row[0] for row in connection.execute("SELECT id FROM orders")}
    if stored != set(order_ids) or len(order_ids) != len(set(order_ids)):
        problems[f"orders table ({len(stored)}) ≠ orders answered ({len(order_ids)})"] += 1
    summary = f"{len(answers)} alerts → {len(set(event_ids))} events, {len(stored)} orders"
    return f"{summary}: " + ("exactly once each" if not problems else f"MISMATCH {dict(problems)}")


def first_reason(body: dict) -> str:
    """What an answer that is not `executed` says: its error or its first order's reason."""
    if "error" in body:
        return body["error"].get("code", "")
    reasons = [o.get("reason") for o in body.get("orders", []) if o.get("reason")]
    return f"{body.get('status')}: {reasons[0] if reasons else ''}"[:120]


# --- one alert, in-process ---------------------------------------------------------------


def profile_alerts(workdir: Path, count: int) -> None:
    """Run alerts through the app in-process (test client: no HTTP server, no scheduler):
    time per alert and its stages, SQL per alert, commits per alert, then cProfile."""
    logging.basicConfig(filename=workdir / "profile.log", level=logging.INFO)  # as served
    config = type(
        "ProfileConfig",
        (TestConfig,),
        {"DATABASE_URL": f"sqlite:///{workdir / 'profile.db'}", "INSTANCE_DIR": workdir},
    )
    app = create_app(config)
    client = app.test_client()
    path = in_process_strategy(app, client)
    for number in range(20):  # warm the caches and the paper book
        client.post(path, data=alert("warm", number))
    started = time.perf_counter()
    for number in range(count):
        client.post(path, data=alert("timed", number))
    per_alert = (time.perf_counter() - started) * 1000 / count
    print("\n6. One alert in-process (test client, no HTTP server, no scheduler):")
    print(f"  {per_alert:.2f} ms per alert, mean of {count}")
    print_stage_timings(app, count)
    statements, commits = count_sql(app, client, path)
    print(f"  {sum(statements.values())} SQL statements and {commits} commits per alert:")
    print("    " + ", ".join(f"{kind} ×{n}" for kind, n in statements.most_common()))
    profiler = cProfile.Profile()
    profiler.enable()
    for number in range(count):
        client.post(path, data=alert("profile", number))
    profiler.disable()
    print_profile(profiler, count)


def in_process_strategy(app, client) -> str:
    with app.app_context():
        token = issue_api_token(owner(), datetime.now(UTC))
    headers = {"Authorization": f"Bearer {token}"}
    account = client.post("/api/accounts", json={"name": "P", "broker": "paper"}, headers=headers)
    strategy = client.post(
        "/api/strategies", json={"name": "p", "symbol": "MES1!"}, headers=headers
    )
    trader = {"strategy_id": strategy.json["id"], "account_id": account.json["id"]}
    client.post("/api/traders", json=trader, headers=headers)
    return f"/webhook/{strategy.json['webhook_token']}"


def count_sql(app, client, path: str) -> tuple[Counter, int]:
    """Statements by kind and table, and commits, for one alert (the median of ten)."""
    seen: list[str] = []
    committed = [0]

    def on_statement(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    def on_commit(_conn) -> None:
        committed[0] += 1

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_statement)
    event.listen(engine, "commit", on_commit)
    totals, commits = [], []
    for number in range(10):
        seen.clear()
        committed[0] = 0
        client.post(path, data=alert("count", number))
        totals.append(Counter(statement_kind(s) for s in seen))
        commits.append(committed[0])
    event.remove(engine, "before_cursor_execute", on_statement)
    event.remove(engine, "commit", on_commit)
    middle = sorted(totals, key=lambda c: sum(c.values()))[len(totals) // 2]
    return middle, int(statistics.median(commits))


def statement_kind(statement: str) -> str:
    """`SELECT strategies`, `INSERT orders`, ...: the verb and the first table named."""
    verb = statement.split(None, 1)[0].upper()
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", statement, re.IGNORECASE)
    return f"{verb} {table.group(1) if table else ''}".strip()


def print_stage_timings(app, count: int) -> None:
    """The medians of the stage timings DeskPilot stored on the last `count` alerts."""
    query = text("SELECT timings_ms FROM webhook_events ORDER BY id DESC LIMIT :n")
    with app.app_context():
        rows = db.session.execute(query, {"n": count}).scalars()
        timings = [json.loads(t) if isinstance(t, str) else t for t in rows if t]
    stages: dict[str, list[float]] = {}
    for timing in timings:
        for stage, ms in timing.items():
            stages.setdefault(re.sub(r"_\d+$", "", stage), []).append(ms)
    shown = ", ".join(f"{s} {statistics.median(v):.2f}" for s, v in stages.items())
    print(f"  stored stage timings, median ms: {shown}")


def print_profile(profiler: cProfile.Profile, count: int) -> None:
    """Own time by package, then the functions with the most own time."""
    stats = pstats.Stats(profiler)
    by_area: Counter = Counter()
    rows = []
    for (filename, lineno, name), (_, calls, own, _cum, _) in stats.stats.items():
        by_area[area(filename, name)] += own
        rows.append((own, calls, f"{short(filename)}:{lineno}({name})"))
    total = sum(by_area.values())
    print(
        f"  cProfile over {count} more alerts, own time by package: "
        + ", ".join(f"{name} {100 * t / total:.0f} %" for name, t in by_area.most_common())
    )
    print("  functions with the most own time (calls per alert):")
    for own, calls, where in sorted(rows, reverse=True)[:10]:
        print(f"    {100 * own / total:5.1f} %  {calls / count:6.1f}  {where}")
    ours = [
        (cumulative, calls, f"{short(filename)}:{lineno}({name})")
        for (filename, lineno, name), (_, calls, _own, cumulative, _) in stats.stats.items()
        if filename.startswith(str(ROOT / "app"))
    ]
    print("  DeskPilot's steps by time spent inside them (share of the alert, calls per alert):")
    for cumulative, calls, where in sorted(ours, reverse=True)[:14]:
        print(f"    {100 * cumulative / total:5.1f} %  {calls / count:6.1f}  {where}")


AREAS = (
    ("sqlite3", "SQLite (C calls)"),
    ("/sqlalchemy/", "SQLAlchemy"),
    ("/flask_sqlalchemy/", "SQLAlchemy"),
    ("/werkzeug/", "Flask/Werkzeug"),
    ("/flask", "Flask/Werkzeug"),
    ("/engineio/", "Flask/Werkzeug"),
    ("/pydantic", "validation"),
    ("/logging/", "logging"),
    ("/json/", "json"),
    (str(ROOT / "app"), "DeskPilot code"),
)


def area(filename: str, name: str) -> str:
    for needle, label in AREAS:
        if needle in filename or needle in name:
            return label
    return "other (stdlib, decimal, ...)"


def short(filename: str) -> str:
    return re.sub(r".*/(site-packages|lib/python3\.\d+|wt-serve)/", "", filename)


# --- the run -----------------------------------------------------------------------------


def measure(args, desk_port: int, floor_port: int, single: str, tokens: list[str]) -> list:
    """Phases 1-4, each server in turn; returns the runs for the exactly-once check."""
    desk_path, floor_path = f"/webhook/{single}", "/floor"
    warm = fire(desk_port, desk_path, 1, SENDERS, "warm")
    fire(floor_port, floor_path, 1, SENDERS, "warm")
    print(f"\n1. Latency, one keep-alive sender, {args.seconds:g} s each (round trip):")
    desk_one = fire(desk_port, desk_path, args.seconds, 1, "one")
    floor_one = fire(floor_port, floor_path, args.seconds, 1, "one")
    mine, theirs = line("DeskPilot", desk_one), line("floor", floor_one)
    print(f"\n2. Throughput, {SENDERS} concurrent senders to ONE account, {args.seconds:g} s:")
    desk_many = fire(desk_port, desk_path, args.seconds, SENDERS, "many")
    floor_many = fire(floor_port, floor_path, args.seconds, SENDERS, "many")
    mine_many, theirs_many = line("DeskPilot", desk_many), line("floor", floor_many)
    latency_ratio = mine["p50"] / theirs["p50"]
    share = mine_many["rate"] / theirs_many["rate"]
    print("\n3. Against the floor (DESIGN §7):")
    print(f"  p50 {latency_ratio:.2f}× the floor's (target ≤ 2×: {verdict(latency_ratio <= 2)})")
    print(
        f"  throughput {100 * share:.0f} % of the floor's (target ≥ 50 %: {verdict(share >= 0.5)})"
    )
    print(f"\n4. Burst: {BURST} alerts at once to {BURST_STRATEGIES} strategies × 2 accounts:")
    bursts = []
    for number in range(args.bursts):
        bursts.append(burst(desk_port, tokens, f"burst{number}"))
        line(f"burst {number + 1}", bursts[-1])
        time.sleep(1)
    every = Run([a for b in bursts for a in b.answers], sum(b.seconds for b in bursts))
    figures = line(f"all {args.bursts} bursts", every)
    print(
        f"  slowest answer {figures['max']:.0f} ms (target ≤ 1000: "
        f"{verdict(figures['max'] <= 1000)}), p99 {figures['p99']:.0f} ms "
        f"(target ≤ 250: {verdict(figures['p99'] <= 250)})"
    )
    return [(warm, 1), (desk_one, 1), (desk_many, 1), *((b, 2) for b in bursts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="per latency/throughput phase")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--profile-alerts", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the databases and server logs")
    args = parser.parse_args()
    print(
        f"DeskPilot `run.py serve` (gunicorn gthread, 1 worker, WEB_THREADS={Config.WEB_THREADS}, "
        f"SQLite, paper broker, scheduler running) beside the floor served the same way; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start."
    )
    workdir = Path(tempfile.mkdtemp(prefix="deskpilot-bench-"))
    try:
        run_all(args, workdir)
    finally:
        if args.keep:
            print(f"databases and server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir)


def run_all(args, workdir: Path) -> None:
    deskpilot, desk_port, headers = start_deskpilot(workdir)
    floor, floor_port = start_floor(workdir)
    try:
        single, tokens = prepare_desk(desk_port, headers)
        runs = measure(args, desk_port, floor_port, single, tokens)
        print("\n5. Exactly once: " + exactly_once(runs, workdir / "deskpilot.db"))
    finally:
        for server in (deskpilot, floor):
            server.terminate()
            server.wait(timeout=30)
    profile_alerts(workdir, args.profile_alerts)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end.")


if __name__ == "__main__":
    main()
