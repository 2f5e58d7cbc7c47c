"""`python run.py`: help, serve, worker, init (owner with a printed password), token, kill."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import simple_websocket

from app import create_app
from app.services.setup.auth import authenticate
from tests.conftest import csrf_from, make_config

ROOT = Path(__file__).resolve().parents[2]


def cli_environment(tmp_path, **env) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {"ADMIN_PASSWORD", "DATABASE_URL", "SCHEDULER_ENABLED", "PORT"}
    }
    environment.update(DESKPILOT_INSTANCE_DIR=str(tmp_path), **env)
    return environment


def run_cli(tmp_path, *args, **env):
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=cli_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_every_command(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for command in ("serve", "worker", "init", "token", "kill", "backup", "restore"):
        assert command in result.stdout


class Running:
    """A long-running `run.py` command, its output (stdout and stderr) in a file."""

    def __init__(self, tmp_path, *args, **env) -> None:
        self.log = tmp_path / f"{args[0]}.log"
        with open(self.log, "w") as output:
            self.process = subprocess.Popen(
                [sys.executable, "run.py", *args],
                cwd=ROOT,
                env=cli_environment(tmp_path, PYTHONUNBUFFERED="1", **env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, seconds: float = 60) -> re.Match:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output())
            if found:
                return found
            assert self.process.poll() is None, self.output()
            time.sleep(0.1)
        raise AssertionError(f"no {pattern!r} within {seconds} s:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM, seconds: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def parent_of(pid: int) -> int:
    """The parent process id, from /proc (the field after the parenthesised name)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One `run.py serve` for the tests that only ask it questions; it must stop cleanly
    (status 0, its worker exiting through gunicorn) on SIGTERM at the end."""
    folder = tmp_path_factory.mktemp("serve")
    port = free_port()
    server = Running(folder, "serve", PORT=str(port), ADMIN_PASSWORD="served-password")
    try:
        server.wait_for("scheduler started")
        yield server, f"http://127.0.0.1:{port}", folder
    finally:
        status = server.stop()
    assert status == 0, server.output()
    assert "Worker exiting" in server.output()


def test_serve_answers_through_gunicorn_with_the_app_and_jobs_in_its_worker(served):
    server, base, folder = served
    response = requests.get(f"{base}/login", timeout=10)
    assert response.status_code == 200 and "password" in response.text
    assert response.headers["Server"].startswith("gunicorn")
    # The scheduler's lock names the process running the jobs: gunicorn's worker, forked
    # from the process we started, not the process itself.
    scheduler_pid = int((folder / "scheduler.lock").read_text())
    assert scheduler_pid != server.process.pid
    assert parent_of(scheduler_pid) == server.process.pid


def _socket_io_connect(base: str, cookies: dict) -> str:
    """An Engine.IO polling handshake, the upgrade to a WebSocket (probe, upgrade) and the
    Socket.IO connect over it, as a browser does; the server's answer to the connect."""
    cookie = "; ".join(f"{name}={value}" for name, value in cookies.items())
    headers = {"Cookie": cookie} if cookie else {}
    handshake = requests.get(
        f"{base}/socket.io/?EIO=4&transport=polling", headers=headers, timeout=10
    )
    assert handshake.status_code == 200 and handshake.text.startswith("0{")
    sid = json.loads(handshake.text[1:])["sid"]
    url = f"{base.replace('http://', 'ws://')}/socket.io/?EIO=4&transport=websocket&sid={sid}"
    socket_io = simple_websocket.Client.connect(url, headers=headers)
    try:
        socket_io.send("2probe")
        assert socket_io.receive(timeout=10) == "3probe"
        socket_io.send("5")  # upgrade: the WebSocket carries the session from now on
        socket_io.send("40")  # Socket.IO connect to the default namespace
        assert socket_io.receive(timeout=10) == "6"  # the no-op that ends the polling
        frame = socket_io.receive(timeout=10)
        while frame.startswith("42"):  # the snapshot the connect handler sends first
            frame = socket_io.receive(timeout=10)
        return frame
    finally:
        socket_io.close()


def test_socketio_over_polling_and_websocket_under_gunicorn(served):
    """Under the production server the owner's browser connects over both transports;
    a client without the owner's session is refused at connect."""
    _, base, _ = served
    assert _socket_io_connect(base, {}).startswith("44{")  # refused: no session
    browser = requests.Session()
    token = csrf_from(browser.get(f"{base}/login", timeout=10).text)
    logged_in = browser.post(
        f"{base}/login",
        data={"username": "admin", "password": "served-password", "csrf_token": token},
        timeout=10,
    )
    assert logged_in.ok and "/login" not in logged_in.url
    assert _socket_io_connect(base, browser.cookies.get_dict()).startswith("40{")


def test_the_access_log_shows_no_webhook_token(served):
    server, base, _ = served
    secret = "s3cr3t-webhook-token-in-the-url"
    assert requests.post(f"{base}/webhook/{secret}", json={}, timeout=10).status_code == 401
    server.wait_for(r'"POST /webhook/<token> HTTP/1.1" 401')
    assert secret not in server.output()


def test_worker_runs_the_jobs_serves_nothing_and_stops_cleanly_on_sigterm(tmp_path):
    intervals = {
        f"{name}_SECONDS": "0.2" for name in ("MONITOR_INTERVAL", "PAPER_TICK", "POLL_INTERVAL")
    }
    worker = Running(tmp_path, "worker", SCHEDULER_ENABLED="0", **intervals)
    try:
        worker.wait_for("worker running paper_feed, position_poller, monitor")
        assert int((tmp_path / "scheduler.lock").read_text()) == worker.process.pid
        time.sleep(1.5)
    finally:
        status = worker.stop()
    assert status == 0, worker.output()
    output = worker.output()
    assert re.search(r"monitor: [\d:]+ UTC, ok", output), output
    assert re.search(r"paper_feed: [\d:]+ UTC, ok", output), output
    assert "Listening" not in output and "Traceback" not in output


def test_worker_refuses_to_start_beside_a_process_that_runs_the_jobs(tmp_path):
    running = Running(tmp_path, "worker")
    try:
        running.wait_for("worker running")
        second = run_cli(tmp_path, "worker")
        assert second.returncode == 1
        assert "SCHEDULER_ENABLED=0" in second.stderr
    finally:
        assert running.stop(signal.SIGINT) == 0


@pytest.fixture
def initialised(tmp_path):
    result = run_cli(tmp_path, "init")
    assert result.returncode == 0, result.stderr
    return tmp_path, result


def test_init_creates_owner_with_generated_password_printed_once(initialised):
    tmp_path, first = initialised
    assert "Username: admin" in first.stderr
    password_line = next(line for line in first.stderr.splitlines() if "Password:" in line)
    assert len(password_line.split("Password:")[1].strip()) >= 12
    assert (tmp_path / "deskpilot.db").exists()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "encryption_key").stat().st_mode & 0o777 == 0o600
    again = run_cli(tmp_path, "init")
    assert "Password:" not in again.stderr
    log_lines = [line for line in first.stderr.splitlines() if " INFO " in line]
    assert all(password_line.split("Password:")[1].strip() not in line for line in log_lines)


def test_init_takes_admin_credentials_from_the_environment(tmp_path):
    result = run_cli(tmp_path, "init", ADMIN_USERNAME="trader", ADMIN_PASSWORD="env-given-password")
    assert result.returncode == 0
    assert "Password:" not in result.stderr
    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'deskpilot.db'}"))
    with app.app_context():
        assert authenticate("trader", "env-given-password", datetime.now(UTC)).username == "trader"


def test_init_reset_password(initialised):
    tmp_path, _ = initialised
    result = run_cli(tmp_path, "init", "--reset-password", ADMIN_PASSWORD="a brand new password")
    assert result.returncode == 0
    assert "from ADMIN_PASSWORD" in result.stdout


def test_token_prints_a_new_token_each_time(initialised):
    tmp_path, _ = initialised
    first = run_cli(tmp_path, "token").stdout.strip()
    second = run_cli(tmp_path, "token").stdout.strip()
    assert first.startswith("dp_") and second.startswith("dp_") and first != second


def test_kill_engages_the_kill_switch_and_prints_the_report(initialised):
    tmp_path, _ = initialised
    result = run_cli(tmp_path, "kill")
    assert result.returncode == 0, result.stderr
    assert "Kill switch ENGAGED" in result.stdout
    assert "Cancelled 0 working orders, flattened 0 positions." in result.stdout
    assert "DELETE /api/kill-switch" in result.stdout  # how to re-arm
