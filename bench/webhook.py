"""Webhook benchmark: alert → order accepted on the paper broker, against the floor.

Starts DeskPilot (`run.py serve`, fresh SQLite, paper account, rate limit off) and the
floor server (bench/floor_app.py) on 127.0.0.1, fires the same alerts at both from
concurrent keep-alive clients for a fixed time, and prints latency percentiles (client
round trip, and DeskPilot's own received → broker-answer time from the stored stage
timings), sustained throughput, the DeskPilot / floor ratios, and a check that every alert
placed exactly one order.

    .venv/bin/python bench/webhook.py [--seconds 20] [--clients 4]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


def start_deskpilot(workdir: Path) -> tuple[subprocess.Popen, str, dict]:
    port = free_port()
    env = {
        **os.environ,
        "DESKPILOT_INSTANCE_DIR": str(workdir),
        "ADMIN_PASSWORD": "benchmark-password",
        "PORT": str(port),
        "WEBHOOK_RATE_LIMIT": "off",
        "SCHEDULER_ENABLED": "0",
        "PYTHONUNBUFFERED": "1",
    }
    log = open(workdir / "server.log", "w")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(
        [PYTHON, "run.py", "serve"], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/login")
    token = subprocess.run(
        [PYTHON, "run.py", "token"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    return server, base, {"Authorization": f"Bearer {token}"}


def start_floor(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen(
        [PYTHON, str(ROOT / "bench" / "floor_app.py"), str(workdir / "floor.db"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/")
    return server, base


def prepare_strategy(base: str, headers: dict) -> str:
    accounts = requests.get(f"{base}/api/accounts", headers=headers, timeout=10).json()["items"]
    strategy = requests.post(
        f"{base}/api/strategies",
        json={"name": "bench", "symbol": "MES1!"},
        headers=headers,
        timeout=10,
    ).json()
    requests.post(
        f"{base}/api/traders",
        json={"strategy_id": strategy["id"], "account_id": accounts[0]["id"]},
        headers=headers,
        timeout=10,
    ).raise_for_status()
    return strategy["webhook_token"]


def fire(url: str, seconds: float, clients: int, tag: str) -> tuple[list[float], int, float]:
    """Send alerts from `clients` threads for `seconds`: round trips (ms), errors, time."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(number: int) -> None:
        nonlocal errors
        session = requests.Session()
        sent = 0
        mine: list[float] = []
        failures = 0
        while time.monotonic() < stop_at:
            side = "buy" if sent % 2 == 0 else "sell"
            body = json.dumps(
                {"action": side, "quantity": 1, "price": "6000.25", "id": f"{tag}-{number}-{sent}"}
            )
            started = time.perf_counter()
            response = session.post(url, data=body, headers={"Content-Type": "application/json"})
            mine.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                failures += 1
            sent += 1
        with lock:
            latencies.extend(mine)
            errors += failures

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, time.monotonic() - started


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cut[49], "p95": cut[94], "p99": cut[98]}


def server_side_timings(base: str, headers: dict) -> list[float]:
    """DeskPilot's own received → broker-answer time for the alerts the log still keeps
    (each strategy's newest 1,000: the end of the measured run)."""
    totals: list[float] = []
    url = f"{base}/api/webhook-events"
    while url:
        page = requests.get(url, headers=headers, timeout=30).json()
        totals.extend(item["timings_ms"]["total"] for item in page["items"])
        url = f"{base}{page['next']}" if page.get("next") else None
    return totals


def count_pages(url: str, headers: dict, keep) -> int:
    total = 0
    base = url.split("/api/")[0]
    while url:
        page = requests.get(url, headers=headers, timeout=30).json()
        total += sum(1 for item in page["items"] if keep(item))
        url = f"{base}{page['next']}" if page.get("next") else None
    return total


def check_exactly_once(base: str, headers: dict, answered: int) -> str:
    """Every alert answered 200 placed exactly one filled order: none lost, none doubled.
    (The alert log itself keeps each strategy's newest 1,000 events, so it is not counted.)"""
    filled = count_pages(f"{base}/api/orders", headers, lambda o: o["status"] == "filled")
    kept = count_pages(f"{base}/api/webhook-events", headers, lambda e: True)
    verdict = "exactly once each" if answered == filled else "MISMATCH"
    return (
        f"{answered} alerts answered 200 → {filled} orders filled: {verdict} "
        f"(alert log keeps the newest {kept})"
    )


def report(name: str, latencies: list[float], errors: int, elapsed: float) -> dict:
    figures = percentiles(latencies)
    rate = len(latencies) / elapsed
    print(
        f"{name:<22} p50 {figures['p50']:6.2f} ms  p95 {figures['p95']:6.2f} ms  "
        f"p99 {figures['p99']:6.2f} ms  {rate:7.1f} alerts/s  ({len(latencies)} sent, "
        f"{errors} errors)"
    )
    return {**figures, "rate": rate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskpilot-bench-") as folder:
        workdir = Path(folder)
        deskpilot, base, headers = start_deskpilot(workdir)
        floor, floor_base = start_floor(workdir)
        try:
            token = prepare_strategy(base, headers)
            warm = fire(f"{base}/webhook/{token}", 2, args.clients, "warm")
            fire(f"{floor_base}/floor", 2, args.clients, "warm")
            print(f"{args.clients} keep-alive clients, {args.seconds:.0f} s each, 127.0.0.1\n")
            ours = fire(f"{base}/webhook/{token}", args.seconds, args.clients, "run")
            floor_run = fire(f"{floor_base}/floor", args.seconds, args.clients, "run")
            mine = report("DeskPilot round trip", *ours)
            base_figures = report("floor round trip", *floor_run)
            inside = percentiles(server_side_timings(base, headers))
            print(
                f"{'DeskPilot in-process':<22} p50 {inside['p50']:6.2f} ms  p95 "
                f"{inside['p95']:6.2f} ms  p99 {inside['p99']:6.2f} ms  "
                "(received → broker answer, from stored stage timings)"
            )
            print(
                f"\nratio DeskPilot / floor: p50 {mine['p50'] / base_figures['p50']:.2f}x  "
                f"p99 {mine['p99'] / base_figures['p99']:.2f}x  "
                f"throughput {base_figures['rate'] / mine['rate']:.2f}x slower"
            )
            answered = sum(len(run[0]) - run[1] for run in (warm, ours))
            print(check_exactly_once(base, headers, answered))
        finally:
            for server in (deskpilot, floor):
                server.terminate()
                server.wait(timeout=10)


if __name__ == "__main__":
    main()
