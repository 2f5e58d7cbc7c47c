"""Real DeskPilot processes for the tests that need more than one: `run.py serve` and
`run.py worker` started as a deployment starts them, and a Socket.IO client logged in as a
browser would be. Each process gets its own instance folder and log file there."""

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
import socketio

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "crash-test-password"
START_SECONDS = 60
WAIT_SECONDS = 20


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Process:
    """A `run.py` command in its own process group, logging to `folder`/<command>.log."""

    command: str

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / f"{self.command}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}},
            "DESKPILOT_INSTANCE_DIR": str(folder),
            "ADMIN_PASSWORD": PASSWORD,
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen | None = None

    def spawn(self) -> None:
        log = open(self.log, "a")  # noqa: SIM115 - held for the process's lifetime
        self.process = subprocess.Popen(
            [sys.executable, "run.py", self.command],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: gunicorn's master and worker
        )

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL to the whole process group at once, as a crash takes it."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


class Server(Process):
    """`run.py serve` on a temp SQLite database, with the scheduler on, as in production."""

    command = "serve"

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.env.update(PORT=str(free_port()), WEBHOOK_RATE_LIMIT="off", SCHEDULER_ENABLED="1")
        self.base = f"http://127.0.0.1:{self.env['PORT']}"
        self.headers: dict = {}

    def start(self) -> None:
        self.spawn()
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/login", timeout=5)
                return
            except requests.RequestException:  # not listening yet, or the app still starting
                assert self.process.poll() is None, self.output()
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


class Worker(Process):
    """`run.py worker`: runs the scheduled jobs, or waits as a standby for the lease."""

    command = "worker"

    def start(self) -> None:
        """Return once the scheduler has started, as its holder or as a standby."""
        self.spawn()
        deadline = time.monotonic() + START_SECONDS
        while "DeskPilot worker running" not in self.output():
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"the worker did not start:\n{self.output()}"
            time.sleep(0.1)

    @property
    def started_as(self) -> str | None:
        """How its scheduler started, as its log says: "leader" or "standby, paused"."""
        found = re.search(r"leader lease: ([a-z, ]+)\)", self.output())
        return found.group(1) if found else None

    def took_lease_at(self) -> datetime | None:
        """When a standby took the lease over (its log line's time), if it did."""
        found = re.search(r"^(\S+ \S+) INFO \S+: took the ", self.output(), re.MULTILINE)
        if found is None:
            return None
        local = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f")
        return local.astimezone(UTC)  # logging writes the local time


def session_cookie(server: Server) -> str:
    """Log in through the form; the `Cookie` header a browser would send."""
    browser = requests.Session()
    page = browser.get(f"{server.base}/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post(
        f"{server.base}/login",
        data={"username": "admin", "password": PASSWORD, "csrf_token": token},
        timeout=10,
    )
    assert answer.ok and "/login" not in answer.url, answer.url
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


class Browser:
    """A python-socketio client connected to `server` with `cookie`, and what it heard."""

    def __init__(self, server: Server, cookie: str | None, origin: str | None = None) -> None:
        """`origin`: another page's, sent over long-polling (the WebSocket client sends the
        server's own origin by itself)."""
        self.client = socketio.Client(reconnection=False)
        self.inbox: queue.Queue = queue.Queue()
        self.heard: list[tuple[str, dict]] = []
        self.client.on("*", lambda name, payload: self.inbox.put((name, payload)))
        headers = {"Cookie": cookie} if cookie else {}
        transport = "websocket"
        if origin is not None:
            headers["Origin"], transport = origin, "polling"
        self.client.connect(server.base, headers=headers, transports=[transport], wait_timeout=10)

    def everything(self) -> list[tuple[str, dict]]:
        """All heard so far, without waiting."""
        while not self.inbox.empty():
            self.heard.append(self.inbox.get_nowait())
        return self.heard

    def first(self, name: str, match=lambda payload: True, seconds: float = WAIT_SECONDS) -> dict:
        """The first `name` heard so far or within `seconds` that matches."""
        deadline = time.monotonic() + seconds
        while not any(seen == name and match(payload) for seen, payload in self.heard):
            try:
                self.heard.append(self.inbox.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                raise AssertionError(f"no matching `{name}` event within {seconds} s") from None
        return next(p for seen, p in self.heard if seen == name and match(p))
