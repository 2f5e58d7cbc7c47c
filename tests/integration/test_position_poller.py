"""The position poller job: scheduled, every real account polled, each failure kept to itself."""

import logging
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app import create_app
from app.brokers.errors import BrokerAuthError, BrokerError, RateLimited, TemporaryBrokerError
from app.domain.vocabulary import Side
from app.extensions import db
from app.models import AuditEntry, BrokerAccount, Fill
from app.services.setup import accounts
from app.services.setup.access import broker_for
from app.workers import position_poller
from app.workers.jobs import job_status
from app.workers.scheduler import init_scheduler, shutdown_scheduler
from tests.conftest import make_config
from tests.integration.test_reconcile import T0, PortDouble, make_tradovate_account


@pytest.fixture
def scheduled_app(tmp_path):
    app = create_app(make_config(tmp_path, SCHEDULER_ENABLED=True, POLL_INTERVAL_SECONDS=0.5))
    yield app
    shutdown_scheduler(app)
    with app.app_context():
        db.engine.dispose()


def test_the_poller_is_scheduled_at_the_poll_interval(scheduled_app):
    scheduler = init_scheduler(scheduled_app, allow_testing=True)

    job = scheduler.get_job(position_poller.JOB_ID)

    assert job is not None and job.trigger.interval.total_seconds() == 0.5
    assert scheduler.get_job("paper_feed") is not None
    assert (job.coalesce, job.max_instances) == (True, 1)


class Desk:
    """Tradovate accounts, each with its own broker double, polled the way the job polls."""

    def __init__(self, app) -> None:
        self.app = app
        self.brokers: dict[int, PortDouble] = {}
        self.now = T0 + timedelta(minutes=1)

    def add(self, name: str) -> tuple[int, PortDouble]:
        with self.app.app_context():
            account_id = make_tradovate_account(name).id
        self.brokers[account_id] = PortDouble()
        return account_id, self.brokers[account_id]

    def broker_for(self, account: BrokerAccount) -> PortDouble:
        return self.brokers[account.id]

    def poll(self, seconds: float = 5) -> dict[int, str]:
        """One tick at the desk's clock, in its own app context as the job runs."""
        self.now += timedelta(seconds=seconds)
        with self.app.app_context():
            try:
                return position_poller.poll_accounts(self.app, self.now, self.broker_for)
            finally:
                db.session.remove()

    def audits(self, account_id: int) -> list[AuditEntry]:
        with self.app.app_context():
            return list(
                db.session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.account_id == account_id, AuditEntry.severity == "error")
                    .order_by(AuditEntry.id)
                )
            )

    def fills(self, account_id: int) -> int:
        with self.app.app_context():
            return db.session.scalar(
                select(func.count(Fill.id)).where(Fill.account_id == account_id)
            )


@pytest.fixture
def desk(app):
    return Desk(app)


def test_one_failing_account_does_not_stop_another(app, desk, caplog):
    broken_id, broken = desk.add("Broken")
    healthy_id, healthy = desk.add("Healthy")
    broken.failure = RuntimeError("adapter bug")
    healthy.fill(Side.BUY, 1, "6000", broker_order_id="x")

    with caplog.at_level(logging.ERROR, logger="app.workers.position_poller"):
        position_poller.run(app, brokers=desk.broker_for)

    assert desk.fills(healthy_id) == 1
    status = job_status(app)[position_poller.JOB_ID]
    assert status.last_error == f"account {broken_id}: RuntimeError: adapter bug"
    assert status.last_success is None
    (record,) = [r for r in caplog.records if r.exc_info]
    assert f"account {broken_id}" in record.getMessage()
    state = position_poller.poller_state(app).accounts
    assert state[healthy_id].last_error is None and state[healthy_id].last_report.new_fills == 1
    assert state[broken_id].last_error == "RuntimeError: adapter bug"


def test_a_clean_tick_records_success_on_the_job_status(app, desk):
    desk.add("Healthy")

    position_poller.run(app, brokers=desk.broker_for)

    status = job_status(app)[position_poller.JOB_ID]
    assert status.last_error is None and status.last_success == status.last_run


def test_a_temporary_error_waits_for_the_next_tick_without_telling(desk, caplog):
    account_id, broker = desk.add("Flaky")
    broker.failure = TemporaryBrokerError("timed out")
    broker.fail_on = "fills_since"
    broker.fill(Side.BUY, 1, "6000", broker_order_id="x")

    with caplog.at_level(logging.WARNING, logger="app.workers.position_poller"):
        assert desk.poll() == {account_id: "timed out"}

    assert desk.fills(account_id) == 0 and desk.audits(account_id) == []
    assert any("next tick" in r.getMessage() and not r.exc_info for r in caplog.records)
    broker.failure = None
    assert desk.poll() == {}
    assert desk.fills(account_id) == 1


def test_a_rate_limited_account_waits_as_long_as_the_broker_asks(desk):
    account_id, broker = desk.add("Busy")
    broker.failure = RateLimited("too many requests", wait_seconds=30)
    assert account_id in desk.poll()
    broker.failure = None
    calls = len(broker.calls)

    assert account_id in desk.poll(10)  # still inside the wait: not asked
    assert len(broker.calls) == calls
    assert desk.poll(25) == {}
    assert len(broker.calls) > calls


def test_a_refused_login_is_told_once_and_again_after_it_recovered(desk):
    account_id, broker = desk.add("Locked")
    broker.failure = BrokerAuthError("password incorrect")

    for _ in range(3):
        assert desk.poll()[account_id] == "login refused: password incorrect"

    (told,) = desk.audits(account_id)
    assert told.category == "auth" and "password incorrect" in told.message
    broker.failure = None
    assert desk.poll() == {}
    broker.failure = BrokerAuthError("password expired")
    desk.poll()
    assert len(desk.audits(account_id)) == 2


def test_an_account_no_adapter_can_serve_is_told_once(desk):
    account_id, broker = desk.add("Unsupported")
    broker.failure = BrokerError("tradovate trading is not available in this version")

    desk.poll()
    desk.poll()

    (told,) = desk.audits(account_id)
    assert told.category == "system" and "not available" in told.message


def test_disabled_accounts_are_not_polled(app, desk):
    enabled_id, enabled = desk.add("Enabled")
    disabled_id, disabled = desk.add("Disabled")
    with app.app_context():
        db.session.get(BrokerAccount, disabled_id).enabled = False
        db.session.commit()

    assert desk.poll() == {}

    assert enabled.calls and disabled.calls == []


def test_a_paper_account_is_polled_against_its_venue(app, desk):
    with app.app_context():
        paper_id = accounts.create_account({"name": "Paper", "broker": "paper"}).id

    with app.app_context():
        assert position_poller.poll_accounts(app, desk.now, broker_for) == {}
        assert position_poller.poller_state(app).accounts[paper_id].last_success is not None


def test_the_poller_mirrors_cash_for_each_account(app, desk):
    first_id, first = desk.add("First")
    second_id, second = desk.add("Second")
    first.cash, second.cash = D("1000"), D("2000")

    desk.poll()

    with app.app_context():
        assert db.session.get(BrokerAccount, first_id).cash_balance == D("1000")
        assert db.session.get(BrokerAccount, second_id).cash_balance == D("2000")
