"""The monitor job: every MONITOR_INTERVAL_SECONDS, one tick of services/monitor."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.protection import monitor
from app.workers.jobs import run_job

logger = logging.getLogger(__name__)

JOB_ID = "monitor"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    # Never two ticks at once, and a late tick is run once, not caught up: the next one
    # reads the newest prices anyway.
    scheduler.add_job(
        run_job,
        "interval",
        seconds=float(app.config["MONITOR_INTERVAL_SECONDS"]),
        args=(app, JOB_ID, tick),
        id=JOB_ID,
        name="trailing stop and OCO monitor",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )


def tick() -> None:
    status = monitor.tick(datetime.now(UTC))
    if status.errors:
        logger.warning("monitor tick: %d rows failed; last: %s", status.errors, status.last_error)
