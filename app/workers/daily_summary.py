"""The daily summary's clock: once a minute, queue it when the owner's time has come
(services/notify/summary decides, and remembers through the outbox)."""

from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.notify import summary
from app.workers.jobs import run_job

JOB_ID = "daily_summary"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run_job,
        "interval",
        seconds=60,
        args=(app, JOB_ID, lambda: summary.send_if_due(datetime.now(UTC))),
        id=JOB_ID,
        name="daily summary",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )
