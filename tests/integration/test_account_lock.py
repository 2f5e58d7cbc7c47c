"""The account lock: re-entrant in a process, and on PostgreSQL held across processes."""

import multiprocessing
import random
import threading
import time

import pytest
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.services.trading.locks import AccountBusy, account_lock
from tests.conftest import make_config

# Spawned, not forked: a child starts clean, as another server process would.
SPAWN = multiprocessing.get_context("spawn")


def lock_app(tmp_path, database_url: str):
    """An app on `database_url` that needs no tables: advisory locks live in the server."""
    return create_app(make_config(tmp_path, DATABASE_URL=database_url, AUTO_MIGRATE=False))


def hold(folder, database_url, account_id, rounds, seconds, start, events) -> None:
    """Another process: take the lock `rounds` times, commit inside it, report each stay."""
    app = lock_app(folder, database_url)
    start.wait(30)
    with app.app_context():
        for _ in range(rounds):
            with account_lock(account_id):
                entered = time.time()
                events.put(("entered", entered))
                db.session.execute(text("SELECT 1"))
                db.session.commit()  # the caller's commits must not release the lock
                time.sleep(seconds)
                events.put(("stay", entered, time.time()))


@pytest.fixture
def postgres_url(postgres_engine) -> str:
    return postgres_engine.url.render_as_string(hide_password=False)


@pytest.fixture
def account_id() -> int:
    """An account id no other test (nor another engineer's run) locks at the same time."""
    return random.randint(10**8, 2**31 - 1)


def holder(tmp_path, url, account_id, start, *, rounds=1, seconds=60.0):
    """Start a process that takes the lock once `start` is set; its reports come on the queue."""
    events = SPAWN.Queue()
    process = SPAWN.Process(
        target=hold, args=(tmp_path, url, account_id, rounds, seconds, start, events)
    )
    process.start()
    return process, events


def reports(events, count: int) -> list[tuple]:
    return [events.get(timeout=60) for _ in range(count)]


def test_one_thread_at_a_time_and_reentrant_within_it(app):
    order: list[str] = []

    def other() -> None:
        with app.app_context(), account_lock(7):
            order.append("other")

    with app.app_context(), account_lock(7):
        with account_lock(7, timeout=0.1):  # re-entered, not waited for
            worker = threading.Thread(target=other)
            worker.start()
            worker.join(0.2)
            order.append("mine")
    worker.join(5)
    assert order == ["mine", "other"]


def test_a_timeout_on_a_busy_account_raises_account_busy(app):
    taken, release = threading.Event(), threading.Event()

    def busy() -> None:
        with app.app_context(), account_lock(8):
            taken.set()
            release.wait(5)

    worker = threading.Thread(target=busy)
    worker.start()
    taken.wait(5)
    try:
        with app.app_context(), pytest.raises(AccountBusy):
            with account_lock(8, timeout=0.05):
                pass
    finally:
        release.set()
        worker.join(5)


def test_threads_queued_for_a_lock_never_starve_its_holder_of_a_connection(app):
    """More threads than the pool's old 15 connections, each holding its session's
    connection while it queues for one account's lock (as an alert does); the holder
    commits and needs a connection again inside the lock."""
    done, failures = [], []

    def alert_like() -> None:
        with app.app_context():
            try:
                db.session.execute(text("SELECT 1"))  # the session now holds a connection
                with account_lock(9):
                    db.session.commit()  # gives it back ...
                    time.sleep(0.01)  # (the broker call)
                    db.session.execute(text("SELECT 1"))  # ... and needs one again
                    db.session.commit()
                done.append(1)
            except Exception as exc:
                failures.append(exc)

    threads = [threading.Thread(target=alert_like) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert (len(done), failures) == (40, [])


@pytest.mark.postgres
def test_two_processes_never_hold_one_accounts_lock_at_once(tmp_path, postgres_url, account_id):
    start = SPAWN.Event()
    first, first_events = holder(tmp_path, postgres_url, account_id, start, rounds=3, seconds=0.2)
    second, second_events = holder(tmp_path, postgres_url, account_id, start, rounds=3, seconds=0.2)
    start.set()
    seen = reports(first_events, 6) + reports(second_events, 6)
    first.join(30)
    second.join(30)
    assert (first.exitcode, second.exitcode) == (0, 0)
    stays = sorted(report[1:] for report in seen if report[0] == "stay")
    assert len(stays) == 6
    for (_, left), (entered, _) in zip(stays, stays[1:], strict=False):
        assert entered >= left, f"two processes held the lock at once: {stays}"


@pytest.mark.postgres
def test_a_lock_held_in_another_process_times_out_as_account_busy(
    tmp_path, postgres_url, account_id
):
    start = SPAWN.Event()
    process, events = holder(tmp_path, postgres_url, account_id, start, seconds=3)
    start.set()
    assert events.get(timeout=30)[0] == "entered"
    app = lock_app(tmp_path, postgres_url)
    with app.app_context():
        began = time.monotonic()
        with pytest.raises(AccountBusy, match="another process"):
            with account_lock(account_id, timeout=0.3):
                pass
        assert 0.3 <= time.monotonic() - began < 2
        process.join(30)
        with account_lock(account_id, timeout=5):  # free again once the holder left
            pass


@pytest.mark.postgres
def test_a_killed_holder_releases_the_lock(tmp_path, postgres_url, account_id):
    start = SPAWN.Event()
    process, events = holder(tmp_path, postgres_url, account_id, start, seconds=60)
    start.set()
    assert events.get(timeout=30)[0] == "entered"
    process.kill()
    process.join(10)
    app = lock_app(tmp_path, postgres_url)
    with app.app_context(), account_lock(account_id, timeout=10):
        pass


@pytest.mark.postgres
def test_a_thread_reenters_its_own_lock_on_postgresql(tmp_path, postgres_url, account_id):
    app = lock_app(tmp_path, postgres_url)
    with app.app_context(), account_lock(account_id):
        with account_lock(account_id, timeout=0.5):  # no second database lock: no deadlock
            pass
