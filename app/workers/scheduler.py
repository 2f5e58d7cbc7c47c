"""The background scheduler: one APScheduler per deployment, run by the process holding the lock.

Leader lock: the process that takes an exclusive `fcntl.flock` on `instance/scheduler.lock`
runs the jobs and holds the lock for its lifetime; any other process sharing that instance
folder (a second worker, a CLI command) skips the scheduler. The file lock is the current
mechanism, whatever the database: it coordinates processes on one host only.

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

from . import paper_feed, position_poller

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler.lock"
MISFIRE_GRACE_SECONDS = 30
JOB_REGISTRATIONS = (paper_feed.register, position_poller.register)
_EXTENSION = "deskpilot.scheduler"


@dataclass
class _Running:
    scheduler: BackgroundScheduler
    lock: IO[str]


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
    lock_path = Path(app.instance_path) / LOCK_NAME
    lock = acquire_leader_lock(lock_path)
    if lock is None:
        logger.info("another process holds %s; this one runs no scheduled jobs", lock_path)
        return None
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
    scheduler.start()
    app.extensions[_EXTENSION] = _Running(scheduler, lock)
    logger.info("scheduler started with %d jobs", len(scheduler.get_jobs()))
    return scheduler


def running_scheduler(app: Flask) -> BackgroundScheduler | None:
    running = app.extensions.get(_EXTENSION)
    return running.scheduler if running is not None else None


def shutdown_scheduler(app: Flask, *, wait: bool = True) -> None:
    """Stop the app's scheduler and give up the leader lock."""
    running = app.extensions.pop(_EXTENSION, None)
    if running is None:
        return
    running.scheduler.shutdown(wait=wait)
    release_leader_lock(running.lock)
