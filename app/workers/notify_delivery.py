"""The outbox's delivery job: every few seconds on the jobs' process, due notifications
go out (services/notify/delivery). A failing channel is the channel's news (its rows
record the error), never the job's."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.notify import delivery, outbox
from app.workers.jobs import run_job

logger = logging.getLogger(__name__)

JOB_ID = "notify_delivery"
DELIVERY_SECONDS = 3


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run_job,
        "interval",
        seconds=DELIVERY_SECONDS,
        args=(app, JOB_ID, deliver),
        id=JOB_ID,
        name="notification delivery",
        replace_existing=True,
        max_instances=1,
        coalesce=True,
    )


def deliver() -> None:
    delivery.deliver_due(datetime.now(UTC), outbox.wired_channels())
