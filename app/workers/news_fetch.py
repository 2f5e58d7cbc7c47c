"""The news fetch: at start, then every NEWS_FETCH_MINUTES (15), the enabled sources that
are not backed off are fetched and their new articles scored (services/insight/news_fetch).

A failing source is the source's own state (`last_error`, `retry_at`), shown on /news;
it is not the job's error, which stays for what breaks the whole run.
"""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.insight import news_fetch
from app.workers.jobs import every

logger = logging.getLogger(__name__)

JOB_ID = "news_fetch"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "news fetch",
        fetch,
        minutes=float(app.config["NEWS_FETCH_MINUTES"]),
        next_run_time=datetime.now(UTC),
    )


def fetch() -> None:
    report = news_fetch.fetch(datetime.now(UTC))
    if report.fetched or report.errors:
        logger.info(
            "news: %d fetched, %d new, %d duplicates, %d sources failed",
            report.fetched, report.new, report.duplicates, len(report.errors),
        )  # fmt: skip
