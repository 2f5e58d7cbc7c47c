"""A real crash: `run.py serve` killed with SIGKILL in the middle of a burst of alerts, then
started again. No alert may stay undecided, none may act twice (issue 9)."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`run.py serve` on a temp SQLite database, with the scheduler on, as in production."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            "DESKPILOT_INSTANCE_DIR": str(folder),
            "ADMIN_PASSWORD": "crash-test-password",
            "PORT": str(free_port()),
            "WEBHOOK_RATE_LIMIT": "off",
            "SCHEDULER_ENABLED": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self.base = f"http://127.0.0.1:{self.env['PORT']}"
        self.process: subprocess.Popen | None = None
        self.headers: dict = {}

    def start(self) -> None:
        log = open(self.folder / "server.log", "a")  # noqa: SIM115 - the server's lifetime
        self.process = subprocess.Popen(
            [sys.executable, "run.py", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: gunicorn's master and worker
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/login", timeout=5)
                return
            except requests.RequestException:  # not listening yet, or the app still starting
                assert self.process.poll() is None, (self.folder / "server.log").read_text()
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def login(self) -> None:
        token = subprocess.run(
            [sys.executable, "run.py", "token"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        self.headers = {"Authorization": f"Bearer {token}"}

    def kill(self) -> None:
        """SIGKILL to gunicorn's master and its worker at once, as a crash takes both."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def api(self, method: str, path: str, body=None):
        response = requests.request(
            method, self.base + path, json=body, headers=self.headers, timeout=30
        )
        assert response.status_code < 300, response.text
        return response.json()

    def every(self, path: str) -> list[dict]:
        items, url = [], path
        while url:
            page = self.api("GET", url)
            items += page["items"]
            url = page.get("next")
        return items


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


def test_a_kill_mid_burst_leaves_no_alert_undecided_and_nothing_doubled(server):
    server.login()
    [account] = server.api("GET", "/api/accounts")["items"]
    strategy = server.api("POST", "/api/strategies", {"name": "burst", "symbol": "MES1!"})
    trader = {"strategy_id": strategy["id"], "account_id": account["id"]}
    server.api("POST", "/api/traders", trader)

    sent = fire_until_killed(server, strategy["webhook_token"])
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
