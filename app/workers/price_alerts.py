"""Price alerts looked at every few seconds on the jobs' process (services/market/
price_alerts): the firings prices queued are written, and each rule sees its new bars and,
for sentiment conditions, its product's news score (services/insight/news)."""

from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.insight import news
from app.services.market import price_alerts
from app.workers.jobs import every

JOB_ID = "price_alerts"
WATCH_SECONDS = 2


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(scheduler, app, JOB_ID, "price alerts", watch, seconds=WATCH_SECONDS)


def watch() -> None:
    price_alerts.watch(datetime.now(UTC), news.symbol_sentiment)
