"""The scale-out drill (DESIGN §4 "Processes", issue 14): a deployment as the README tells
one to run it — two `run.py serve` web processes and a `run.py worker` on one PostgreSQL
database with REDIS_URL, plus a second worker waiting as the standby — driven from outside.

It proves, on real processes: alerts split across the web processes, and one alert sent to
both at once, each execute exactly once (in our rows and in the paper venue's books); a
browser on one web process hears what the other executed; and when the leader worker is
killed, the standby runs the monitor within the leader lease. Every process is started
once for the whole drill: a start costs 10-20 s on a small machine."""

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
import socketio
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import socketio_channel
from app.services.live import OWNER_ROOM
from app.workers.live_status import STATUS_SECONDS
from tests.integration.conftest import POSTGRES_URL
from tests.integration.processes import Browser, Server, Worker, session_cookie

pytestmark = pytest.mark.postgres

REDIS_URL = "redis://127.0.0.1:6379/15"
LEASE_SECONDS = 3
MONITOR_SECONDS = 1
# The standby tries the lease every third of it (here one monitor interval), and a loaded
# 2-core machine is slow to schedule threads.
SLACK_SECONDS = 2
ALTERNATING = 8  # alerts, every other one to each web process
TWINS = 3  # alerts each sent to both web processes at once


def _redis_reachable() -> None:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"Redis unreachable at 127.0.0.1:6379: {exc}")
    finally:
        client.close()


@pytest.fixture(scope="module")
def database_url():
    """A PostgreSQL database of the drill's own, dropped afterwards."""
    name = f"dp_drill_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, database_url):
    """Web processes `a` and `b` (no jobs), and two workers: one leads, one stands by."""
    _redis_reachable()
    shared = {
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "one-deployment",
        "ENCRYPTION_KEY": "0" * 43 + "=",
        "MONITOR_INTERVAL_SECONDS": str(MONITOR_SECONDS),
        "LEADER_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    a, b = (Server(tmp_path_factory.mktemp(f"web-{name}")) for name in "ab")
    workers = [Worker(tmp_path_factory.mktemp(f"worker-{n}")) for n in (1, 2)]
    for process in (a, b, *workers):
        process.env.update(shared)
    for web in (a, b):
        web.env["SCHEDULER_ENABLED"] = "0"
    started = time.monotonic()
    try:
        a.start()  # migrates the new database and creates the owner; the rest find them
        with ThreadPoolExecutor(3) as pool:
            for start in [pool.submit(p.start) for p in (b, *workers)]:
                start.result()
        print(f"\ndrill: 4 processes started in {time.monotonic() - started:.1f} s")
        yield a, b, workers
    finally:
        with ThreadPoolExecutor(4) as pool:  # each waits for its jobs or requests to end
            for stop in [pool.submit(p.stop) for p in (a, b, *workers)]:
                stop.result()


def _send(server: Server, token: str, body: dict) -> dict:
    answer = requests.post(f"{server.base}/webhook/{token}", data=json.dumps(body), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _alternating(a: Server, b: Server, token: str) -> list[tuple[Server, dict]]:
    """ALTERNATING alerts, every other one to each process (a buys, b sells), both
    processes sending at once; each process's answers."""
    answers: list[tuple[Server, dict]] = []
    lock = threading.Lock()

    def send(server: Server, first: int, action: str) -> None:
        for number in range(first, ALTERNATING, 2):
            body = {"action": action, "quantity": 1, "price": "6000.25", "id": f"alt-{number}"}
            answer = _send(server, token, body)
            with lock:
                answers.append((server, answer))

    with ThreadPoolExecutor(2) as pool:
        for sent in [pool.submit(send, a, 0, "buy"), pool.submit(send, b, 1, "sell")]:
            sent.result()
    return answers


def _twins(a: Server, b: Server, token: str) -> list[list[dict]]:
    """TWINS alerts, each the same body (same `id`) to both processes at the same instant."""
    pairs = []
    for number in range(TWINS):
        body = {"action": "buy", "quantity": 1, "price": "6000.25", "id": f"twin-{number}"}
        together = threading.Barrier(2)

        def send(server: Server, body=body, together=together) -> dict:
            together.wait()
            return _send(server, token, body)

        with ThreadPoolExecutor(2) as pool:
            pairs.append([sent.result() for sent in [pool.submit(send, a), pool.submit(send, b)]])
    return pairs


def _counts(database_url: str, account_id: int, strategy_id: int) -> dict:
    """Rows per alert, order and client order id, ours and the paper venue's."""
    engine = create_engine(database_url)
    one = {"a": account_id, "s": strategy_id}
    queries = {
        "events": "SELECT status, COUNT(*) FROM webhook_events WHERE strategy_id = :s "
        "GROUP BY status",
        "orders_per_event": "SELECT webhook_event_id, COUNT(*) FROM orders "
        "WHERE account_id = :a GROUP BY webhook_event_id",
        "fills_per_order": "SELECT order_id, COUNT(*) FROM fills WHERE account_id = :a "
        "GROUP BY order_id",
        "venue_orders": "SELECT client_order_id, COUNT(*) FROM paper_orders "
        "WHERE account_id = :a GROUP BY client_order_id",
        "venue_fills": "SELECT client_order_id, COUNT(*) FROM paper_fills "
        "WHERE account_id = :a GROUP BY client_order_id",
    }
    try:
        with engine.connect() as connection:
            counts = {
                name: dict(connection.execute(text(q), one).all()) for name, q in queries.items()
            }
            counts["held"] = connection.execute(
                text("SELECT COALESCE(SUM(quantity), 0) FROM positions WHERE account_id = :a"), one
            ).scalar()
            counts["venue_held"] = connection.execute(
                text(
                    "SELECT COALESCE(SUM(quantity), 0) FROM paper_positions WHERE account_id = :a"
                ),
                one,
            ).scalar()
    finally:
        engine.dispose()
    return counts


def _elsewhere_tells_its_owner(payload: dict) -> None:
    """A process of another deployment (another database) on the same Redis server emits
    to its owner's room, on the channel its app would use."""
    channel = socketio_channel("postgresql+psycopg://postgres@127.0.0.1:5432/elsewhere")
    other = socketio.RedisManager(REDIS_URL, channel=channel, write_only=True)
    other.emit("signal", payload, room=OWNER_ROOM, namespace="/")


def _tick(status: dict) -> datetime | None:
    tick = status.get("last_monitor_tick")
    return datetime.fromisoformat(tick) if tick else None


def test_the_deployment_executes_each_alert_once_tells_every_browser_and_fails_over(
    deployment, database_url
):
    a, b, workers = deployment
    a.login()
    b.headers = a.headers
    account = a.api("POST", "/api/accounts", {"name": "Drill", "broker": "paper"})
    strategy = a.api("POST", "/api/strategies", {"name": "Drill", "symbol": "MES1!"})
    a.api("POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    browser = Browser(a, session_cookie(a))
    try:
        elsewhere = {"id": 1, "strategy_id": strategy["id"], "status": "executed", "other": 1}
        _elsewhere_tells_its_owner(elsewhere)

        # 1. Each alert executes exactly once, whichever process took it, twins included.
        token = strategy["webhook_token"]
        alternating = _alternating(a, b, token)
        statuses = [answer["status"] for _, answer in alternating]
        assert statuses == ["executed"] * ALTERNATING, alternating
        pairs = _twins(a, b, token)
        for pair in pairs:
            assert sorted(answer["status"] for answer in pair) == ["duplicate", "executed"], pair
            assert pair[0]["event_id"] == pair[1]["event_id"]
        counts = _counts(database_url, account["id"], strategy["id"])
        assert counts["events"] == {"executed": ALTERNATING + TWINS}
        orders = a.every(f"/api/orders?account_id={account['id']}")
        assert len(orders) == ALTERNATING + TWINS
        assert {o["status"] for o in orders} == {"filled"}
        assert set(counts["orders_per_event"].values()) == {1}
        assert sorted(counts["fills_per_order"]) == sorted(o["id"] for o in orders)
        assert set(counts["fills_per_order"].values()) == {1}
        client_ids = sorted(o["client_order_id"] for o in orders)
        assert sorted(counts["venue_orders"]) == sorted(counts["venue_fills"]) == client_ids
        assert set(counts["venue_orders"].values()) == set(counts["venue_fills"].values()) == {1}
        assert counts["held"] == counts["venue_held"] == TWINS  # the alternation nets to 0

        # 2. A browser on `a` hears the signal, order and fill of an alert `b` executed.
        by_b = next(answer for server, answer in alternating if server is b)
        [order] = by_b["orders"]
        signal = browser.first("signal", lambda s: s["id"] == by_b["event_id"])
        assert (signal["strategy_id"], signal["status"]) == (strategy["id"], "executed")
        mine = lambda p: p["account_id"] == account["id"]  # noqa: E731 - a filter
        browser.first("order", lambda o: mine(o) and o["id"] == order["id"])
        fill = browser.first("fill", lambda f: mine(f) and f["order_id"] == order["id"])
        assert fill["side"] == "sell" and fill["qty"] == 1
        # ...and nothing of another deployment that shares the Redis server (told first).
        assert ("signal", elsewhere) not in browser.everything()

        # 3. The leader worker dies; the standby takes the lease and runs the monitor.
        [leader] = [worker for worker in workers if worker.started_as == "leader"]
        [standby] = [worker for worker in workers if worker is not leader]
        assert standby.started_as == "standby, paused" and standby.took_lease_at() is None
        assert browser.first("status", _tick)["scheduler"]["leader"]  # the leader's monitor
        killed_at = datetime.now(UTC)
        leader.kill()
        status = browser.first(
            "status",
            lambda s: (_tick(s) or killed_at) > killed_at,
            seconds=LEASE_SECONDS + MONITOR_SECONDS + STATUS_SECONDS + 2 * SLACK_SECONDS,
        )
        took = standby.took_lease_at() - killed_at
        ticked = _tick(status) - killed_at
        print(
            f"\ndrill: the kill to the standby's lease {took.total_seconds():.2f} s, "
            f"to its first monitor tick seen {ticked.total_seconds():.2f} s"
        )
        assert took <= timedelta(seconds=LEASE_SECONDS + MONITOR_SECONDS + SLACK_SECONDS)
        # The standby's own tick: the first is due at once, a status tells the last one.
        assert took <= ticked <= took + timedelta(seconds=STATUS_SECONDS + SLACK_SECONDS)
    finally:
        browser.client.disconnect()
