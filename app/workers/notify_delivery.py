"""The outbox's delivery job: every few seconds on the jobs' process, due notifications
go out (services/notify/delivery). A failing channel is the channel's news (its rows
record the error), never the job's."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.notify import delivery, outbox
from app.workers.jobs import every

logger = logging.getLogger(__name__)

JOB_ID = "notify_delivery"
DELIVERY_SECONDS = 3


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(scheduler, app, JOB_ID, "notification delivery", deliver, seconds=DELIVERY_SECONDS)


def deliver() -> None:
    delivery.deliver_due(datetime.now(UTC), outbox.wired_channels())
