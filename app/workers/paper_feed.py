"""The paper feed job: every PAPER_TICK_SECONDS, step the paper prices (brokers/paper/feed)."""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.brokers.paper import feed as paper_feed
from app.workers.jobs import every

logger = logging.getLogger(__name__)

JOB_ID = "paper_feed"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "paper feed tick",
        tick,
        seconds=float(app.config["PAPER_TICK_SECONDS"]),
    )


def tick() -> None:
    paper_feed.tick(datetime.now(UTC))
