"""What /readyz answers (DESIGN §5.7): the `status` event's figures, and whether this process
should be sent traffic.

Not ready when the database does not answer, or when this process runs the jobs and its
monitor has not ticked for MONITOR_LATE_INTERVALS intervals (or not yet since it started:
the first tick comes one interval after the start). A process that runs no jobs is ready
with its database. An engaged kill switch, a broker in error or quiet market data leave
the process ready: it must go on serving the pages that show them and the button that
re-arms, and taking it out of rotation would fix none of them.
"""

import logging
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from app.services.protection.monitor import monitor_status
from app.workers.live_status import broker_connections, status_of
from app.workers.scheduler import is_leader

logger = logging.getLogger(__name__)

MONITOR_LATE_INTERVALS = 3


def readiness(app: Flask, now: datetime) -> tuple[dict, bool]:
    """The /readyz body and whether the process is ready (inside an app context)."""
    leader = is_leader(app)
    try:
        db.session.execute(text("SELECT 1"))
        status = status_of(app, leader=leader)
    except SQLAlchemyError as exc:
        # The exception's text may name the database's host or user: only its kind is
        # shown to a caller nobody logged in.
        db.session.rollback()
        logger.warning("readiness: the database does not answer: %s", exc)
        tick = monitor_status().last_tick
        body = _body(f"error: {type(exc).__name__}", leader, tick, broker_connections(app))
        return body, False
    tick = monitor_status().last_tick
    body = _body("ok", leader, tick, status["broker_connections"])
    body.update(market_data=status["market_data"], kill_switch=status["kill_switch"])
    interval = timedelta(seconds=float(app.config["MONITOR_INTERVAL_SECONDS"]))
    return body, not (leader and monitor_late(tick, now, interval))


def monitor_late(tick: datetime | None, now: datetime, interval: timedelta) -> bool:
    """The monitor has missed MONITOR_LATE_INTERVALS ticks in a row, or never ticked."""
    return tick is None or now - tick > MONITOR_LATE_INTERVALS * interval


def _body(database: str, leader: bool, tick: datetime | None, brokers: dict) -> dict:
    """§5.7's shape; market data and the kill switch are unknown (null) without a database."""
    return {
        "database": database,
        "scheduler": {"leader": leader, "last_monitor_tick": tick.isoformat() if tick else None},
        "brokers": brokers,
        "market_data": None,
        "kill_switch": None,
    }
