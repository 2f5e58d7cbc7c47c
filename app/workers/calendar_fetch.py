"""The economic calendar fetch: at start, then every CALENDAR_FETCH_MINUTES, the owner's
`calendar_url` is fetched and imported (services/market/calendar_feed).

A fetch that fails leaves the stored calendar as it was; the failure is logged and audited
once by the feed and shown on the job's status on every run until a fetch works again.
"""

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.market import calendar_feed
from app.services.market.calendar_feed import FetchOutcome
from app.services.setup.auth import owner
from app.workers.jobs import JobStatus, job_status, run_job

logger = logging.getLogger(__name__)

JOB_ID = "calendar_fetch"


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run,
        "interval",
        minutes=float(app.config["CALENDAR_FETCH_MINUTES"]),
        args=(app,),
        id=JOB_ID,
        name="economic calendar fetch",
        next_run_time=datetime.now(UTC),
        replace_existing=True,
    )


def run(app: Flask) -> None:
    """One fetch; a failed one is the job's error, and not a success."""
    status = job_status(app).setdefault(JOB_ID, JobStatus())
    previous_success = status.last_success
    outcomes: list[FetchOutcome] = []
    run_job(app, JOB_ID, lambda: outcomes.extend(fetch_owner_calendar()))
    failed = next((o.error for o in outcomes if o.error), None)
    if failed and status.last_error is None:
        status.last_error = f"economic calendar: {failed}"
        status.last_success = previous_success


def fetch_owner_calendar() -> list[FetchOutcome]:
    """The fetch of the owner's calendar URL; none when no URL is set."""
    user = owner()
    if user is None or not user.calendar_url:
        return []
    return [calendar_feed.fetch_calendar(user.calendar_url)]
