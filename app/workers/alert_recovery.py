"""Settling alerts a crash left `received` (services/trading/recovery.py): at start in the
process that runs the jobs, before it serves an alert, and then every minute."""

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.trading import recovery
from app.workers.jobs import every, run_job

logger = logging.getLogger(__name__)

JOB_ID = "alert_recovery"
SWEEP_SECONDS = 60
# Longer than any alert takes (a Tradovate penalty is waited out for at most 30 s): where
# several processes serve alerts (the shared lease), a younger `received` alert may still
# be in another process's hands, and settling it would race that process.
IN_FLIGHT = timedelta(minutes=5)


def settle_at_start(app: Flask) -> None:
    """Settle every alert left `received`. Called by the holder of the instance's file
    lock, the one process serving this database, so none of them is still in flight."""
    started = datetime.now(UTC)
    run_job(app, JOB_ID, lambda: recovery.settle_stranded_alerts(started))


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "settle alerts left received",
        sweep,
        seconds=SWEEP_SECONDS,
        next_run_time=datetime.now(UTC),
    )


def sweep() -> None:
    """Settle alerts stranded longer than any alert takes: whichever process stopped."""
    recovery.settle_stranded_alerts(datetime.now(UTC) - IN_FLIGHT)
