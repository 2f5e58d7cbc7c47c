"""The daily summary's clock: once a minute, queue it when the owner's time has come
(services/notify/summary decides, and remembers through the outbox)."""

from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.notify import summary
from app.workers.jobs import every

JOB_ID = "daily_summary"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "daily summary",
        lambda: summary.send_if_due(datetime.now(UTC)),
        seconds=60,
    )
