"""/healthz, /readyz and /metrics (DESIGN §5.7): no login, no secret, ready only with a
database and a monitor that ticks, metrics for the loopback address or the API token that
follow what the app really did."""

import json
import shutil
import socket
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.brokers.errors import TemporaryBrokerError
from app.extensions import db
from app.services.market import prices
from app.workers import monitor, position_poller
from app.workers.jobs import run_job
from app.workers.scheduler import init_scheduler, shutdown_scheduler
from tests.conftest import TRADOVATE_CREDENTIALS, front, make_config

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def scrape(client, **request) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, by name and sorted labels, read by Prometheus's parser."""
    response = client.get("/metrics", **request)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# /healthz and /readyz


def test_healthz_answers_ok_without_a_login(client):
    response = client.get("/healthz", environ_base=ELSEWHERE)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})
    assert "Set-Cookie" not in response.headers


def test_readyz_is_ready_with_a_database_in_a_process_that_runs_no_jobs(client):
    response = client.get("/readyz", environ_base=ELSEWHERE)
    assert response.status_code == 200
    assert response.get_json() == {
        "database": "ok",
        "scheduler": {"leader": False, "last_monitor_tick": None},
        "brokers": {},
        "market_data": {},
        "kill_switch": False,
    }


def test_readyz_carries_the_status_events_kill_switch_and_market_data(api, client):
    symbol = front("MES")
    prices.update(symbol, Decimal("6000"), datetime.now(UTC) - timedelta(seconds=30), "test")
    assert api.post("/api/kill-switch").status_code == 200

    response = client.get("/readyz")

    assert response.status_code == 200  # engaged on purpose: the pages must still serve
    body = response.get_json()
    assert body["kill_switch"] is True
    assert body["market_data"].keys() == {symbol} and 30 <= body["market_data"][symbol] <= 32


@pytest.fixture
def unreachable_app(tmp_path):
    """An app whose PostgreSQL does not answer (nothing listens on its port)."""
    url = f"postgresql+psycopg://deskpilot:db-pass-7f3a@127.0.0.1:{closed_port()}/deskpilot"
    app = create_app(make_config(tmp_path, DATABASE_URL=url, AUTO_MIGRATE=False))
    yield app
    with app.app_context():
        db.engine.dispose()


def test_readyz_is_not_ready_when_the_database_does_not_answer(unreachable_app):
    client = unreachable_app.test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "error: OperationalError"
    assert (body["market_data"], body["kill_switch"]) == (None, None)
    assert "db-pass-7f3a" not in response.get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # the process still serves
    assert sample(scrape(client), "deskpilot_database_up") == 0


@pytest.fixture
def leader_app(tmp_path, migrated_schema):
    """An app whose process runs the jobs, with a monitor interval long enough that only
    the test ticks it."""
    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    config = make_config(
        tmp_path,
        SCHEDULER_ENABLED=True,
        MONITOR_INTERVAL_SECONDS=3600,
        POLL_INTERVAL_SECONDS=3600,
        PAPER_TICK_SECONDS=3600,
    )
    app = create_app(config)
    assert init_scheduler(app, allow_testing=True) is not None
    yield app
    shutdown_scheduler(app)
    with app.app_context():
        db.engine.dispose()


def test_the_leader_is_ready_only_while_its_monitor_ticks(leader_app):
    client = leader_app.test_client()
    starting = client.get("/readyz")
    assert starting.status_code == 503  # no tick yet
    assert starting.get_json()["scheduler"] == {"leader": True, "last_monitor_tick": None}

    run_job(leader_app, monitor.JOB_ID, monitor.tick)
    ticked = client.get("/readyz")
    assert ticked.status_code == 200
    assert ticked.get_json()["scheduler"]["last_monitor_tick"] is not None

    leader_app.config["MONITOR_INTERVAL_SECONDS"] = 0.01  # three intervals pass at once
    time.sleep(0.05)
    late = client.get("/readyz")
    assert late.status_code == 503
    assert late.get_json()["database"] == "ok"

    samples = scrape(client)
    assert sample(samples, "deskpilot_scheduler_leader") == 1
    assert sample(samples, "deskpilot_monitor_last_tick_timestamp_seconds") > 0
    assert sample(samples, "deskpilot_job_runs_total", job="monitor", outcome="ok") == 1


# No secret in any answer


@pytest.fixture
def tradovate(make_account, fake_tradovate):
    def make(name, **credentials):
        body = {"credentials": dict(TRADOVATE_CREDENTIALS, **credentials)}
        return make_account(name, broker="tradovate", **body)["id"]

    return make


def test_no_answer_reveals_a_secret(app, api, api_token, client, tradovate, make_strategy):
    connected = tradovate("Tradovate demo")
    refused = tradovate("Wrong login", password="wrong-pass-91c2", sec="wrong-sec-55d0")
    strategy = make_strategy("Trend", symbol="MES1!", quantity=1)
    assert api.put("/api/settings", {"discord_bot_token": "discord-bot-4411"}).status_code == 200
    position_poller.run(app)  # the job, once: each account's connection is known

    ready = client.get("/readyz", environ_base=ELSEWHERE)
    brokers = ready.get_json()["brokers"]
    assert brokers[str(connected)] == "connected"
    assert brokers[str(refused)].startswith("error: login refused")
    bodies = "".join(
        response.get_data(as_text=True)
        for response in (
            ready,
            client.get("/healthz", environ_base=ELSEWHERE),
            client.get("/metrics"),
        )
    )
    secrets = [
        TRADOVATE_CREDENTIALS["password"],
        TRADOVATE_CREDENTIALS["sec"],
        TRADOVATE_CREDENTIALS["device_id"],
        "wrong-pass-91c2",
        "wrong-sec-55d0",
        "discord-bot-4411",
        api_token,
        strategy["webhook_token"],
        app.config["SECRET_KEY"],
        app.config["ENCRYPTION_KEY"],
    ]
    assert [secret for secret in secrets if secret in bodies] == []


# /metrics: who may read it


def test_metrics_are_served_to_the_loopback_address(client):
    assert sample(scrape(client), "deskpilot_database_up") == 1


def test_a_scraper_asking_for_openmetrics_gets_it(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.content_type.startswith("application/openmetrics-text")
    families = openmetrics_families(response.get_data(as_text=True))
    assert {family.name for family in families} >= {"deskpilot_alerts", "deskpilot_job_runs"}


@pytest.mark.parametrize(
    "request_",
    [
        {"environ_base": ELSEWHERE},
        {"headers": {"X-Forwarded-For": "203.0.113.9"}},  # relayed by a proxy on this host
        {"headers": {"Authorization": "Bearer not-the-token"}},
    ],
    ids=["another address", "through a proxy", "a wrong token"],
)
def test_metrics_are_refused_to_others(client, request_):
    response = client.get("/metrics", **request_)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_metrics_are_served_elsewhere_to_the_owners_api_token(client, api_token):
    headers = {"Authorization": f"Bearer {api_token}"}
    samples = scrape(client, environ_base=ELSEWHERE, headers=headers)
    assert sample(samples, "deskpilot_database_up") == 1


# /metrics: what it says


def test_alerts_orders_and_stage_latencies_follow_real_alerts(api, client, make_account):
    account = make_account("Paper", starting_balance="100000.00")
    strategy = api.post("/api/strategies", {"name": "Trend", "symbol": "MES1!", "quantity": 1})
    strategy = strategy.get_json()
    trader = {"strategy_id": strategy["id"], "account_id": account["id"]}
    assert api.post("/api/traders", trader).status_code == 201
    before = scrape(client)
    assert sample(before, "deskpilot_alerts", status="executed") == 0

    alert = {"action": "buy", "symbol": "MES1!", "quantity": 1, "price": "5000.25"}
    sent = client.post(f"/webhook/{strategy['webhook_token']}", data=json.dumps(alert))
    assert sent.get_json()["status"] == "executed", sent.get_json()
    refused = client.post(f"/webhook/{strategy['webhook_token']}", data="not an alert")
    assert refused.status_code == 400

    after = scrape(client)
    assert sample(after, "deskpilot_alerts", status="executed") == 1
    assert sample(after, "deskpilot_alerts", status="rejected") == 1
    assert sample(after, "deskpilot_orders", status="filled") == 1
    assert sample(after, "deskpilot_alert_stage_seconds_count", stage="total") == 2
    assert sample(after, "deskpilot_alert_stage_seconds_count", stage="store") == 1
    assert sample(after, "deskpilot_alert_stage_seconds_sum", stage="total") > 0
    assert sample(after, "deskpilot_outbox_pending") >= 0


def test_job_runs_are_counted_by_outcome_and_timed(app, client):
    def temporary():
        raise TemporaryBrokerError("the broker is busy")

    run_job(app, "probe", lambda: None)
    run_job(app, "probe", lambda: None)
    run_job(app, "probe", temporary)
    run_job(app, "probe", lambda: 1 / 0)

    samples = scrape(client)
    assert sample(samples, "deskpilot_job_runs_total", job="probe", outcome="ok") == 2
    runs = sample(samples, "deskpilot_job_runs_total", job="probe", outcome="temporary_error")
    assert runs == 1
    assert sample(samples, "deskpilot_job_runs_total", job="probe", outcome="error") == 1
    assert sample(samples, "deskpilot_job_duration_seconds_count", job="probe") == 4


def test_each_app_counts_into_its_own_registry(tmp_path, migrated_schema, app, client):
    run_job(app, "probe", lambda: None)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    shutil.copyfile(migrated_schema, other_dir / "test.db")
    other = create_app(make_config(other_dir))
    try:
        samples = scrape(other.test_client())
        assert sample(samples, "deskpilot_job_runs_total", job="probe", outcome="ok") is None
    finally:
        with other.app_context():
            db.engine.dispose()
    assert sample(scrape(client), "deskpilot_job_runs_total", job="probe", outcome="ok") == 1
