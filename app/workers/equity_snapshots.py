"""The day's-end equity snapshot: each trading day at 16:59 Chicago time — after CME equity's
16:00 close, before the next day opens at 17:00 — every enabled account's equity is kept
(services/ledger/equity), the curve's daily points between the trades' own."""

from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from app.services.ledger import equity
from app.workers.jobs import run_job

JOB_ID = "equity_snapshots"
DAY_END = CronTrigger(hour=16, minute=59, timezone="America/Chicago")


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run_job,
        DAY_END,
        args=(app, JOB_ID, take),
        id=JOB_ID,
        name="day's-end equity snapshots",
        replace_existing=True,
    )


def take() -> None:
    equity.take_day_end(datetime.now(UTC))
