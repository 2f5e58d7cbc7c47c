"""The `status` event (DESIGN §5.5): what the status header shows, figured from what the
jobs of this process know, and sent every STATUS_SECONDS by the process that runs them.

Only the jobs' process knows the monitor's last tick and each broker's last poll, and its
price cache is the one the monitor trails stops from (`market_data`), so only it sends the
periodic status; any process sends one on a kill-switch change and to a client that just
connected."""

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask

from app.services.live import pusher
from app.services.market.data_age import data_age
from app.services.notify import outbox
from app.services.protection import kill_switch
from app.services.protection.monitor import monitor_status
from app.workers.jobs import every, job_status
from app.workers.position_poller import poller_state

logger = logging.getLogger(__name__)

JOB_ID = "live_status"
STATUS_SECONDS = 5


def register(scheduler: BaseScheduler, app: Flask) -> None:
    every(
        scheduler,
        app,
        JOB_ID,
        "live status",
        lambda: pusher.send("status", status_of(app, leader=True)),
        seconds=STATUS_SECONDS,
    )


def status_of(app: Flask, *, leader: bool) -> dict:
    """The status payload (inside an app context); `leader`: this process runs the jobs."""
    tick = monitor_status().last_tick
    failing = {name: job.last_error for name, job in job_status(app).items() if job.last_error}
    quiet_after = timedelta(seconds=app.config["MARKET_DATA_QUIET_SECONDS"])
    market = data_age(datetime.now(UTC), quiet_after)
    return {
        "scheduler": {"leader": leader, "failing_jobs": failing},
        "broker_connections": broker_connections(app),
        "kill_switch": kill_switch.status().engaged,
        "last_monitor_tick": tick.isoformat() if tick else None,
        "market_data": market.ages,
        "market_data_quiet": list(market.quiet),
        "notifications": outbox.backlog(datetime.now(UTC)),
    }


def broker_connections(app: Flask) -> dict[str, str]:
    """Each polled account's connection, from the poller's memory (no query): "connected",
    or "error: " and what the poll reported."""
    return {
        str(account_id): "connected" if poll.last_error is None else f"error: {poll.last_error}"
        for account_id, poll in poller_state(app).accounts.items()
        if poll.last_run is not None
    }
