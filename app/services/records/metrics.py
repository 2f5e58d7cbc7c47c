"""Prometheus metrics (DESIGN §5.7): one registry per app, and what this process measures
as it goes — scheduled job runs and their durations, and each alert's stage latencies.

Counts that live in the database (alerts, orders, the outbox) are not counted here: when
several processes serve one PostgreSQL each would hold only its part, so a collector reads
them at scrape time (workers/tallies). What is counted here belongs to a process by
nature: only the leader runs the jobs, and an alert's stages are timed by the process that
handled it, which Prometheus adds up across processes (`sum by (le, stage)`).

A registry of the app's own, not prometheus_client's global one, so that many apps in one
process (the tests) never count into each other's series.
"""

import logging
from dataclasses import dataclass

from flask import Flask, current_app
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

_EXTENSION = "deskpilot.metrics"
# An alert's stage takes from a tenth of a millisecond (parse) to a broker's round trip.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# A job runs from a millisecond (the live status) to a minute (a calendar fetch).
JOB_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    job_runs: Counter
    job_seconds: Histogram
    stage_seconds: Histogram


def install(app: Flask, *collectors: Collector) -> Metrics:
    """Give the app its registry and instruments, plus `collectors` read at scrape time."""
    registry = CollectorRegistry()
    metrics = Metrics(
        registry,
        Counter(
            "deskpilot_job_runs",
            "Scheduled job runs in this process, by job and outcome.",
            ("job", "outcome"),
            registry=registry,
        ),
        Histogram(
            "deskpilot_job_duration_seconds",
            "How long each scheduled job run took in this process.",
            ("job",),
            buckets=JOB_BUCKETS,
            registry=registry,
        ),
        Histogram(
            "deskpilot_alert_stage_seconds",
            "Each stage of the alerts this process handled (the webhook events' timings).",
            ("stage",),
            buckets=STAGE_BUCKETS,
            registry=registry,
        ),
    )
    for collector in collectors:
        registry.register(collector)
    app.extensions[_EXTENSION] = metrics
    return metrics


def metrics_of(app: Flask) -> Metrics:
    return app.extensions[_EXTENSION]


def job_ran(app: Flask, job: str, outcome: str, seconds: float) -> None:
    """Count one run of `job` ("ok", "temporary_error" or "error") and time it."""
    metrics = metrics_of(app)
    metrics.job_runs.labels(job, outcome).inc()
    metrics.job_seconds.labels(job).observe(seconds)


def on_signal(_event: str, payload: dict) -> None:
    """Time each stage of an alert as it is finished: the `signal` event carries the timings
    its webhook event stored (milliseconds per stage, and the total)."""
    timings = payload.get("timings_ms")
    if not timings:
        return
    histogram = metrics_of(current_app).stage_seconds
    for stage, milliseconds in timings.items():
        histogram.labels(stage).observe(float(milliseconds) / 1000)
