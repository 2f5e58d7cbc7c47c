"""The scheduler: never under TESTING unless asked, one leader per instance folder, real ticks."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import create_app
from app.brokers.paper import feed as paper_feed
from app.extensions import db
from app.services.market import prices
from app.workers.scheduler import (
    LOCK_NAME,
    acquire_leader_lock,
    init_scheduler,
    release_leader_lock,
    running_scheduler,
    shutdown_scheduler,
)
from tests.conftest import make_config


@pytest.fixture
def scheduled_app(tmp_path):
    app = create_app(make_config(tmp_path, SCHEDULER_ENABLED=True, PAPER_TICK_SECONDS=0.05))
    yield app
    shutdown_scheduler(app)
    with app.app_context():
        db.engine.dispose()
    prices.clear()


def test_create_app_never_starts_the_scheduler_under_testing(scheduled_app):
    assert scheduled_app.testing and scheduled_app.config["SCHEDULER_ENABLED"]
    assert running_scheduler(scheduled_app) is None
    assert init_scheduler(scheduled_app) is None
    assert not (Path(scheduled_app.instance_path) / LOCK_NAME).exists()


def test_a_disabled_scheduler_does_not_start_even_when_a_test_asks(app):
    assert init_scheduler(app, allow_testing=True) is None


def test_a_test_may_start_the_scheduler_which_ticks_the_paper_feed(scheduled_app):
    scheduler = init_scheduler(scheduled_app, allow_testing=True)
    assert scheduler is not None and scheduler.running
    assert init_scheduler(scheduled_app, allow_testing=True) is scheduler  # once per app
    job = scheduler.get_job("paper_feed")  # one job of several
    assert job.id == "paper_feed" and job.trigger.interval.total_seconds() == 0.05
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 30)
    with scheduled_app.app_context():
        paper_feed.subscribe("MESZ6")
    first = prices.last("MESZ6")
    deadline = time.monotonic() + 5
    while prices.last("MESZ6") == first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert prices.last("MESZ6").time > first.time
    shutdown_scheduler(scheduled_app)
    assert not scheduler.running and running_scheduler(scheduled_app) is None


def test_a_second_lock_holder_is_refused_until_the_first_lets_go(tmp_path):
    path = tmp_path / LOCK_NAME
    first = acquire_leader_lock(path)
    assert first is not None
    assert acquire_leader_lock(path) is None
    release_leader_lock(first)
    again = acquire_leader_lock(path)
    assert again is not None
    release_leader_lock(again)


def test_a_process_that_is_not_the_leader_runs_no_scheduler(scheduled_app):
    path = f"{scheduled_app.instance_path}/{LOCK_NAME}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys\n"
            f"handle = open({path!r}, 'a+')\n"
            "fcntl.flock(handle.fileno(), fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert init_scheduler(scheduled_app, allow_testing=True) is None
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert init_scheduler(scheduled_app, allow_testing=True) is not None
