"""What /metrics reads when Prometheus scrapes (DESIGN §5.7): alerts and orders by status,
the notification outbox's backlog, and whether this process runs the jobs.

The rows are shared by every process on one database, so they are counted at scrape time,
one grouped query each, instead of by counters that each process would hold a part of:
any process answers the whole truth. Alerts and orders are gauges, not counters: an alert
moves from `received` to `executed`, and the alert log keeps each strategy's newest 1000.
A database that does not answer is a metric too (`deskpilot_database_up` 0), not a failed
scrape.
"""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

from flask import current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from app.domain.vocabulary import EventStatus, OrderStatus
from app.extensions import db
from app.models import Order, WebhookEvent
from app.services.notify import outbox
from app.services.protection.monitor import monitor_status
from app.workers.scheduler import is_leader

logger = logging.getLogger(__name__)


class Tallies:
    """A prometheus_client collector over the current app's database and scheduler."""

    def collect(self) -> Iterator[Metric]:
        yield from _scheduler()
        try:
            alerts = _grouped(WebhookEvent.status)
            orders = _grouped(Order.status)
            backlog = outbox.backlog(datetime.now(UTC))
        except SQLAlchemyError as exc:
            db.session.rollback()
            logger.warning("metrics: the database does not answer (%s)", type(exc).__name__)
            yield _gauge("deskpilot_database_up", "1 when the database answered the scrape.", 0)
            return
        yield _gauge("deskpilot_database_up", "1 when the database answered the scrape.", 1)
        yield _by_status("deskpilot_alerts", "Stored alerts by status.", EventStatus, alerts)
        yield _by_status("deskpilot_orders", "Orders by status.", OrderStatus, orders)
        yield _gauge(
            "deskpilot_outbox_pending", "Notifications waiting to be sent.", backlog["pending"]
        )
        yield _gauge(
            "deskpilot_outbox_failed_today",
            "Notifications that failed for good in the last day.",
            backlog["failed_today"],
        )


def _grouped(column) -> dict[str, int]:
    rows = db.session.execute(select(column, func.count()).group_by(column))
    return {str(status): count for status, count in rows}


def _scheduler() -> Iterator[Metric]:
    """From this process's memory: no query, so these answer while the database is down."""
    leader = is_leader(current_app)
    yield _gauge("deskpilot_scheduler_leader", "1 in the process that runs the jobs.", leader)
    tick = monitor_status().last_tick
    if tick is not None:
        yield _gauge(
            "deskpilot_monitor_last_tick_timestamp_seconds",
            "When the trailing/OCO monitor of this process last ticked (Unix time).",
            tick.timestamp(),
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def _by_status(name: str, documentation: str, statuses, counts: dict[str, int]) -> Metric:
    """Every status has a series, zero included: a query never meets a missing one."""
    family = GaugeMetricFamily(name, documentation, labels=("status",))
    for status in statuses:
        family.add_metric((status.value,), counts.get(status.value, 0))
    return family
