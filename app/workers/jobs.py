"""How every scheduled job runs: in its own app context, failures logged, status kept."""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.brokers.errors import TemporaryBrokerError
from app.extensions import db
from app.services.records import events, metrics

logger = logging.getLogger(__name__)

_EXTENSION = "deskpilot.job_status"


@dataclass
class JobStatus:
    """The last run of one job, for the status shown to the trader."""

    last_run: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None


def job_status(app: Flask) -> dict[str, JobStatus]:
    return app.extensions.setdefault(_EXTENSION, {})


def every(
    scheduler: BaseScheduler,
    app: Flask,
    job_id: str,
    name: str,
    work: Callable[[], object],
    **interval,
) -> None:
    """Run `work` through run_job on an interval (`seconds=`/`minutes=`, and any other
    keyword of APScheduler's add_job, e.g. `next_run_time`). The scheduler's defaults
    already run a job once at a time and coalesce missed runs."""
    scheduler.add_job(
        run_job,
        "interval",
        args=(app, job_id, work),
        id=job_id,
        name=name,
        replace_existing=True,
        **interval,
    )


def run_job(app: Flask, name: str, work: Callable[[], object]) -> None:
    """Run `work` inside an app context, ending with the session removed.

    A temporary broker error waits for the next run; anything else is logged with its
    traceback. Neither stops the scheduler. Each run is counted and timed for /metrics.
    """
    status = job_status(app).setdefault(name, JobStatus())
    status.last_run = datetime.now(UTC)
    started, outcome = time.perf_counter(), "error"
    with app.app_context():
        try:
            work()
        except TemporaryBrokerError as exc:
            outcome = "temporary_error"
            status.last_error = exc.message
            logger.warning("job %s: %s; retrying on the next run", name, exc.message)
        except Exception as exc:
            db.session.rollback()
            if status.last_error is None:  # newly failing: told once, not every run
                events.publish(
                    "job_failed",
                    {
                        "job": name,
                        "message": f"the {name.replace('_', ' ')} job failed: "
                        f"{type(exc).__name__}: {exc}",
                    },
                )
            status.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception("job %s failed", name)
        else:
            outcome = "ok"
            status.last_success = status.last_run
            status.last_error = None
        finally:
            db.session.remove()
            metrics.job_ran(app, name, outcome, time.perf_counter() - started)
