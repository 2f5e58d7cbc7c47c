"""The background scheduler: one APScheduler per deployment, run by the process holding the lock.

Leader lock, chosen by configuration:

- With `REDIS_URL` set, or a PostgreSQL `DATABASE_URL`, a shared lease (leader.py: a
  Redis `SET NX PX` lease renewed by a heartbeat, or a PostgreSQL advisory lock on a
  dedicated connection) elects one leader among every process of the deployment, on any
  host. Every process starts its scheduler; only the leader's runs jobs, the others stay
  paused and take over (resume) when the leader's lease lapses. A leader that loses its
  lease pauses.
- Otherwise, the process that takes an exclusive `fcntl.flock` on `instance/scheduler.lock`
  runs the jobs and holds the lock for its lifetime; any other process sharing that
  instance folder (a second worker, a CLI command) skips the scheduler. This coordinates
  processes on one host only. That process first settles the alerts a crash left
  `received` (alert_recovery), before it serves any; under a shared lease a job settles
  those old enough that no live process can still be handling them.

The scheduler starts when SCHEDULER_ENABLED is on, and never under TESTING unless a test
asks (`allow_testing=True`).
"""

import fcntl
import logging
import os
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import IO

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from app.workers import (
    alert_recovery,
    calendar_fetch,
    daily_summary,
    equity_snapshots,
    live_status,
    monitor,
    monthly_review,
    news_fetch,
    notify_delivery,
    paper_feed,
    position_poller,
    price_alerts,
)
from app.workers.leader import Elector, lease_for

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler.lock"
MISFIRE_GRACE_SECONDS = 30
JOB_REGISTRATIONS = (
    paper_feed.register,
    position_poller.register,
    monitor.register,
    alert_recovery.register,
    calendar_fetch.register,
    equity_snapshots.register,
    live_status.register,
    notify_delivery.register,
    daily_summary.register,
    monthly_review.register,
    price_alerts.register,
    news_fetch.register,
)
_EXTENSION = "deskpilot.scheduler"


@dataclass
class _Running:
    scheduler: BackgroundScheduler
    lock: IO[str] | None  # the file lock, or
    elector: Elector | None = None  # the shared lease's heartbeat


def acquire_leader_lock(path: Path) -> IO[str] | None:
    """Take the exclusive lock at `path` without waiting; None if another holder has it.

    The lock lasts as long as the returned file stays open (and at most the process).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # held open as long as the lock is
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def release_leader_lock(handle: IO[str]) -> None:
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    handle.close()


def init_scheduler(app: Flask, *, allow_testing: bool = False) -> BackgroundScheduler | None:
    """Start the app's scheduler with every job, if enabled and this process is the leader."""
    if not app.config.get("SCHEDULER_ENABLED"):
        return None
    if app.testing and not allow_testing:
        return None
    running = app.extensions.get(_EXTENSION)
    if running is not None:
        return running.scheduler
    lease = lease_for(app.config)
    if lease is not None:
        return _start_with_lease(app, lease)
    lock_path = Path(app.instance_path) / LOCK_NAME
    lock = acquire_leader_lock(lock_path)
    if lock is None:
        logger.info("another process holds %s; this one runs no scheduled jobs", lock_path)
        return None
    alert_recovery.settle_at_start(app)  # before create_app returns, so before any alert
    scheduler = _scheduler_with_jobs(app)
    scheduler.start()
    app.extensions[_EXTENSION] = _Running(scheduler, lock)
    logger.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler


def _scheduler_with_jobs(app: Flask) -> BackgroundScheduler:
    # Two INFO lines per run of a job ticking every second would drown the log.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    scheduler = BackgroundScheduler(
        timezone=UTC,
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
    )
    for register in JOB_REGISTRATIONS:
        register(scheduler, app)
    return scheduler


def _start_with_lease(app: Flask, lease) -> BackgroundScheduler:
    """Start the scheduler paused unless this process holds the shared lease; the
    heartbeat resumes it when the lease is won and pauses it when lost."""
    scheduler = _scheduler_with_jobs(app)
    leader = lease.acquire()
    scheduler.start(paused=not leader)
    interval = max(float(app.config.get("LEADER_LEASE_SECONDS", 15)) / 3, 0.05)
    elector = Elector(lease, interval, on_gain=scheduler.resume, on_loss=scheduler.pause)
    elector.start()
    app.extensions[_EXTENSION] = _Running(scheduler, None, elector)
    logger.info(
        "scheduler started with %d jobs (%s leader lease: %s)",
        len(scheduler.get_jobs()),
        lease.name,
        "leader" if leader else "standby, paused",
    )
    return scheduler


def is_leader(app: Flask) -> bool:
    """Whether this process runs the scheduled jobs now."""
    running = app.extensions.get(_EXTENSION)
    if running is None:
        return False
    return running.elector.lease.held if running.elector is not None else True


def running_scheduler(app: Flask) -> BackgroundScheduler | None:
    running = app.extensions.get(_EXTENSION)
    return running.scheduler if running is not None else None


def shutdown_scheduler(app: Flask, *, wait: bool = True) -> None:
    """Stop the app's scheduler and give up the leader lock."""
    running = app.extensions.pop(_EXTENSION, None)
    if running is None:
        return
    running.scheduler.shutdown(wait=wait)
    if running.elector is not None:
        running.elector.stop()  # after the jobs: a standby takes over once they are done
    if running.lock is not None:
        release_leader_lock(running.lock)
