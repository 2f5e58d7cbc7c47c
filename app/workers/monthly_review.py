"""The monthly review's clock: once a minute, queue it when the first of the month's time
has come (services/notify/monthly decides, and remembers through the outbox)."""

from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.notify import monthly
from app.workers.jobs import every

JOB_ID = "monthly_review"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "monthly review",
        lambda: monthly.send_if_due(datetime.now(UTC)),
        seconds=60,
    )
