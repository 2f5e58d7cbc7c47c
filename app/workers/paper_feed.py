"""The paper feed job: every PAPER_TICK_SECONDS, step the paper prices (brokers/paper/feed)."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.brokers.paper import feed as paper_feed
from app.workers.jobs import run_job

logger = logging.getLogger(__name__)

JOB_ID = "paper_feed"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run_job,
        "interval",
        seconds=float(app.config["PAPER_TICK_SECONDS"]),
        args=(app, JOB_ID, tick),
        id=JOB_ID,
        name="paper feed tick",
        replace_existing=True,
    )


def tick() -> None:
    paper_feed.tick(datetime.now(UTC))
