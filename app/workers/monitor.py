"""The monitor job: every MONITOR_INTERVAL_SECONDS, one tick of services/monitor."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.protection import monitor
from app.workers.jobs import every

logger = logging.getLogger(__name__)

JOB_ID = "monitor"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    # Never two ticks at once, and a late tick is run once, not caught up (the scheduler's
    # defaults): the next one reads the newest prices anyway.
    every(
        scheduler,
        app,
        JOB_ID,
        "trailing stop and OCO monitor",
        tick,
        seconds=float(app.config["MONITOR_INTERVAL_SECONDS"]),
    )


def tick() -> None:
    status = monitor.tick(datetime.now(UTC))
    if status.errors:
        logger.warning("monitor tick: %d rows failed; last: %s", status.errors, status.last_error)
