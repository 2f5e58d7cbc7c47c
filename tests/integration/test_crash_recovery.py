"""A real crash: `run.py serve` killed with SIGKILL in the middle of a burst of alerts, then
started again. No alert may stay undecided, none may act twice (issue 9)."""

import json
import sqlite3
import threading
import time
from contextlib import closing
from decimal import Decimal

import pytest
import requests

from app import create_app
from app.extensions import db
from tests.conftest import make_config
from tests.integration.processes import Server

CLIENTS = 6


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.start()
    yield running
    running.stop()


def fire_until_killed(server: Server, token: str) -> dict[str, str]:
    """Alerts from CLIENTS threads until the server is killed once `warm` were answered;
    returns each alert's body by its id, answered or not."""
    url = f"{server.base}/webhook/{token}"
    sent: dict[str, str] = {}
    answered = threading.Semaphore(0)
    lock = threading.Lock()

    def client(number: int) -> None:
        session = requests.Session()
        for count in range(10_000):
            alert_id = f"c{number}-{count}"
            body = json.dumps(
                {
                    "action": "buy" if count % 2 == 0 else "sell",
                    "quantity": 1,
                    "price": "6000.25",
                    "id": alert_id,
                }
            )
            with lock:
                sent[alert_id] = body
            try:
                response = session.post(url, data=body, timeout=10)
            except requests.RequestException:
                return  # killed
            assert response.status_code == 200, response.text
            answered.release()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for _ in range(60):  # warm: alerts are queueing behind the account lock by now
        assert answered.acquire(timeout=30)
    server.kill()
    for thread in threads:
        thread.join(timeout=30)
    return sent


def start_trail(server: Server) -> dict:
    """A long MNQ position with a trailing stop 50 points behind, on a paper account of its
    own that the burst never touches; its strategy and advanced order."""
    account = server.api("POST", "/api/accounts", {"name": "Trail", "broker": "paper"})
    strategy = server.api("POST", "/api/strategies", {"name": "trail", "symbol": "MNQ1!"})
    server.api("POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    alert = {"action": "buy", "quantity": 1, "price": "21000", "trailing_stop": {"points": 50}}
    url = f"{server.base}/webhook/{strategy['webhook_token']}"
    assert requests.post(url, json=alert, timeout=30).json()["status"] == "executed"
    [trail] = server.api("GET", "/api/orders/advanced")["items"]
    assert (trail["status"], Decimal(trail["stop_price"])) == ("active", Decimal("20950"))
    return {"strategy": strategy, "account": account, "trail": trail}


def assert_the_trail_resumes(server: Server, made: dict) -> None:
    """A print 300 points up (an alert's price, which the paper feed follows) moves the
    stop of the trail made before the kill, in our row and at the venue: the restarted
    monitor took it up where the dead process left it."""
    url = f"{server.base}/webhook/{made['strategy']['webhook_token']}"
    jump = {"action": "cancel", "price": "21300", "id": "trail-jump"}
    assert requests.post(url, json=jump, timeout=30).status_code == 200
    deadline = time.monotonic() + 20
    while True:
        [trail] = server.api("GET", "/api/orders/advanced")["items"]
        if Decimal(trail["stop_price"]) >= Decimal("21250"):
            break
        assert time.monotonic() < deadline, f"the trail did not move after the restart: {trail}"
        time.sleep(0.2)
    assert trail["id"] == made["trail"]["id"] and trail["status"] == "active"
    stop = trail["orders"]["stop"]["client_order_id"]
    orders = server.every(f"/api/orders?account_id={made['account']['id']}")
    [at_venue] = [o for o in orders if o["client_order_id"] == stop]
    assert at_venue["status"] == "working" and Decimal(at_venue["stop_price"]) >= 21250


def assert_sqlite_is_crash_safe(server: Server) -> None:
    """WAL with synchronous=NORMAL (DESIGN: a crash loses no committed row). WAL is the
    database file's own mode, set by the server's connections (SQLite's default is a
    rollback journal), so our own connection reads it, and the running server keeps its
    `-wal` file; synchronous is per connection: read from one opened by create_app's
    engine on the same file, as every connection of the server is opened."""
    database = server.folder / "deskpilot.db"
    with closing(sqlite3.connect(database)) as ours:
        assert ours.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.with_name("deskpilot.db-wal").exists()
    config = make_config(
        server.folder / "reader", DATABASE_URL=f"sqlite:///{database}", AUTO_MIGRATE=False
    )
    (server.folder / "reader").mkdir()
    app = create_app(config)
    with app.app_context():
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        db.engine.dispose()


def test_a_kill_mid_burst_leaves_no_alert_undecided_and_nothing_doubled(server):
    server.login()
    [account] = server.api("GET", "/api/accounts")["items"]
    strategy = server.api("POST", "/api/strategies", {"name": "burst", "symbol": "MES1!"})
    trader = {"strategy_id": strategy["id"], "account_id": account["id"]}
    server.api("POST", "/api/traders", trader)
    trail = start_trail(server)
    # Notifications on (a webhook nobody answers: the outbox rows are what is checked).
    server.api("PUT", "/api/settings", {"outgoing_webhook_url": "http://127.0.0.1:9/hook"})
    server.api("POST", "/api/notifications/webhook-secret")

    sent = fire_until_killed(server, strategy["webhook_token"])
    server.env["MONITOR_INTERVAL_SECONDS"] = "1"  # the trail's check below waits less
    server.start()  # settles what the kill left before it answers anything

    events = server.every(f"/api/webhook-events?strategy_id={strategy['id']}")
    assert events and not [e for e in events if e["status"] == "received"]
    by_id = {event["id"]: event for event in events}
    stranded = [e for e in events if (e["reason"] or "").startswith("DeskPilot stopped")]
    assert stranded, "the kill landed while no alert was in flight; nothing was tested"
    orders = server.every(f"/api/orders?account_id={account['id']}")
    filled = [order for order in orders if order["status"] == "filled"]
    assert all(by_id[o["webhook_event_id"]]["status"] == "executed" for o in filled)
    per_event = [o["webhook_event_id"] for o in orders]
    assert len(per_event) == len(set(per_event)), "an alert placed two orders"
    net = sum(o["qty"] if o["side"] == "buy" else -o["qty"] for o in filled)
    positions = server.api("GET", f"/api/positions?account_id={account['id']}")["items"]
    assert sum(p["qty"] for p in positions) == net, "a fill was counted twice or lost"

    victim = max(stranded, key=lambda event: len(event["orders"]))  # one with an order if any
    resent = requests.post(
        f"{server.base}/webhook/{strategy['webhook_token']}",
        data=sent[victim["signal"]["alert_id"]],
        timeout=30,
    ).json()
    assert (resent["status"], resent["event_id"]) == ("duplicate", victim["id"])
    settled = [(o["id"], o["status"]) for o in victim["orders"]]
    assert [(o["id"], o["status"]) for o in resent["orders"]] == settled
    assert "pending" not in {status for _, status in settled}
    assert len(server.every(f"/api/orders?account_id={account['id']}")) == len(orders)

    # Every alert settled as refused is told: an expired or failed one is a notification.
    told = [n["title"] for n in server.every("/api/notifications")]
    for status in ("expired", "failed"):
        count = len([e for e in events if e["status"] == status])
        assert told.count(f"Alert {status}: burst") == count, (status, told)
    assert any(e["status"] == "expired" for e in stranded), "no alert waited at the kill"
    # No order at the (paper) venue without its row: each row was committed before the call.
    with closing(sqlite3.connect(server.folder / "deskpilot.db")) as venue:
        at_venue = {row[0] for row in venue.execute("SELECT client_order_id FROM paper_orders")}
    rows = orders + server.every(f"/api/orders?account_id={trail['account']['id']}")
    assert at_venue <= {o["client_order_id"] for o in rows}
    assert_the_trail_resumes(server, trail)
    assert_sqlite_is_crash_safe(server)
