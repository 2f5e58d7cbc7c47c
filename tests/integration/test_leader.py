"""The scheduler's leader: Redis and PostgreSQL leases, standby take-over, the monitor job."""

import time
import uuid

import pytest
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from app.services.market import prices
from app.services.protection import monitor
from app.workers.jobs import job_status
from app.workers.leader import (
    Elector,
    PostgresAdvisoryLease,
    RedisLease,
    lease_for,
    postgres_lock_id,
)
from app.workers.scheduler import init_scheduler, is_leader, shutdown_scheduler
from tests.conftest import make_config

REDIS_URL = "redis://127.0.0.1:6379/15"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def redis_url():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"Redis unreachable at 127.0.0.1:6379: {exc}")
    yield REDIS_URL
    client.close()


@pytest.fixture
def postgres_url():
    engine = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES_URL


def test_the_configuration_chooses_the_lease():
    sqlite = {"DATABASE_URL": "sqlite:////tmp/x.db"}
    assert lease_for(sqlite) is None  # the file lock
    pg = lease_for({"DATABASE_URL": "postgresql+psycopg://u@h/db"})
    assert isinstance(pg, PostgresAdvisoryLease)
    redis = lease_for({**sqlite, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert isinstance(redis, RedisLease)
    same = lease_for({**sqlite, "REDIS_URL": "redis://127.0.0.1:6379/0"})
    other = lease_for({"DATABASE_URL": "sqlite:////tmp/y.db", "REDIS_URL": "redis://x"})
    assert redis.key == same.key != other.key  # one deployment, one database, one key


# --- Redis ------------------------------------------------------------------------------------


def test_one_redis_lease_holder_at_a_time_until_it_lets_go(redis_url):
    key = f"deskpilot:test:{uuid.uuid4().hex}"
    first, second = RedisLease(redis_url, key, 5), RedisLease(redis_url, key, 5)
    assert first.acquire() and first.held
    assert not second.acquire() and not second.held
    assert first.acquire()  # taking it again is renewing it
    assert first.renew()
    first.release()
    assert second.acquire()
    assert not first.renew()
    second.release()


def test_a_holder_that_stops_renewing_loses_the_lease_to_a_standby(redis_url):
    key = f"deskpilot:test:{uuid.uuid4().hex}"
    frozen, standby = RedisLease(redis_url, key, 0.3), RedisLease(redis_url, key, 0.3)
    assert frozen.acquire()
    assert not standby.acquire()
    time.sleep(0.45)  # past the ttl without a heartbeat
    assert standby.acquire()
    assert not frozen.renew()  # it finds out at its next heartbeat
    standby.release()


def test_the_heartbeat_keeps_the_lease_and_reports_its_loss(redis_url):
    redis = pytest.importorskip("redis")
    key = f"deskpilot:test:{uuid.uuid4().hex}"
    lease = RedisLease(redis_url, key, 0.3)
    events = []
    elector = Elector(lease, 0.1, lambda: events.append("gain"), lambda: events.append("loss"))
    assert lease.acquire()
    elector.start()
    try:
        time.sleep(0.6)  # twice the ttl: only the heartbeat keeps it
        assert lease.held and events == []
        client = redis.Redis.from_url(redis_url)
        client.set(key, "someone-else")  # taken from under it
        assert wait_for(lambda: events == ["loss"])
        client.delete(key)
        assert wait_for(lambda: events == ["loss", "gain"])  # and back when free
    finally:
        elector.stop()
    assert redis.Redis.from_url(redis_url).get(key) is None  # released on stop


def scheduled(tmp_path, name: str, database_url: str, **overrides):
    app = create_app(
        make_config(
            tmp_path / name,
            SCHEDULER_ENABLED=True,
            DATABASE_URL=database_url,
            PAPER_TICK_SECONDS=0.2,
            POLL_INTERVAL_SECONDS=0.2,
            MONITOR_INTERVAL_SECONDS=0.2,
            **overrides,
        )
    )
    return app


def test_with_redis_one_process_runs_the_jobs_and_a_standby_takes_over(tmp_path, redis_url):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    first = scheduled(tmp_path, "a", database)
    second = scheduled(tmp_path, "b", database)
    for app in (first, second):
        # A lease long enough that a busy machine renews it in time (0.6 s lapsed once
        # under the full suite); shutting the leader down releases it at once anyway.
        app.config.update(REDIS_URL=redis_url, LEADER_LEASE_SECONDS=2.0)
    try:
        leader = init_scheduler(first, allow_testing=True)
        standby = init_scheduler(second, allow_testing=True)
        assert leader.state == STATE_RUNNING and is_leader(first)
        assert standby.state == STATE_PAUSED and not is_leader(second)
        assert standby.get_job("monitor") is not None
        shutdown_scheduler(first)
        assert wait_for(lambda: is_leader(second) and standby.state == STATE_RUNNING)
    finally:
        shutdown_scheduler(first)
        shutdown_scheduler(second)
        for app in (first, second):
            with app.app_context():
                db.engine.dispose()


# --- PostgreSQL -------------------------------------------------------------------------------


def test_one_postgres_advisory_lock_holder_at_a_time(postgres_url):
    lock_id = postgres_lock_id(f"deskpilot:test:{uuid.uuid4().hex}")
    first = PostgresAdvisoryLease(postgres_url, lock_id)
    second = PostgresAdvisoryLease(postgres_url, lock_id)
    try:
        assert first.acquire() and first.renew()
        assert not second.acquire()
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()


def test_a_holder_whose_connection_dies_loses_the_advisory_lock(postgres_url):
    lock_id = postgres_lock_id(f"deskpilot:test:{uuid.uuid4().hex}")
    holder = PostgresAdvisoryLease(postgres_url, lock_id)
    standby = PostgresAdvisoryLease(postgres_url, lock_id)
    admin = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    events = []
    elector = Elector(holder, 0.1, lambda: events.append("gain"), lambda: events.append("loss"))
    try:
        assert holder.acquire()
        pid = holder.connection.execute(text("SELECT pg_backend_pid()")).scalar()
        holder.connection.commit()
        assert not standby.acquire()
        elector.start()
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert wait_for(lambda: "loss" in events)
        assert standby.acquire()  # the server let go with the session
    finally:
        elector.stop()
        standby.release()
        admin.dispose()


# --- the monitor job --------------------------------------------------------------------------


def test_the_monitor_job_ticks_under_the_scheduler(tmp_path):
    app = scheduled(tmp_path, "job", f"sqlite:///{tmp_path / 'job.db'}")
    try:
        scheduler = init_scheduler(app, allow_testing=True)
        job = scheduler.get_job("monitor")
        assert job.trigger.interval.total_seconds() == 0.2
        assert (job.max_instances, job.coalesce) == (1, True)
        assert wait_for(lambda: job_status(app).get("monitor") is not None)
        assert wait_for(lambda: job_status(app)["monitor"].last_success is not None)
        assert job_status(app)["monitor"].last_error is None
        with app.app_context():
            status = monitor.monitor_status()
            assert status.last_tick is not None and status.duration_ms is not None
    finally:
        shutdown_scheduler(app)
        with app.app_context():
            db.engine.dispose()
        prices.clear()
