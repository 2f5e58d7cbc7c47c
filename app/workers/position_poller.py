"""The position poller: every POLL_INTERVAL_SECONDS, mirror each broker account.

Every enabled account (a paper one against its venue) is reconciled (ledger/reconcile)
in its own try, so one account's failure never stops the others:

- a temporary broker error waits for the next tick; a rate limit also skips the account
  until the wait the broker asked for has passed (a skipped poll is a failed one for
  `broker_disconnected`);
- a refused login (BrokerAuthError) is audited and told once — not every tick — until the
  account syncs again; any other broker error (an account no adapter can serve) likewise;
- anything else is logged with its traceback.

Each failure is recorded per account and summed up on the job's status.

An account whose broker pushes its changes (`Broker.change_mark`: Tradovate's user-data
socket) is not read while its mark stands still since the last reconcile: the socket
spends no requests, and the reads are the same reconcile as ever, started by a change.
It is read anyway when the stream cannot vouch (down, not synced, stale: no mark), when
the last run deferred its position check, while a fill's fees are not posted (they come
by no event), and at least every STREAMED_FULL_POLL_SECONDS.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from flask import Flask
from sqlalchemy import select

from app.brokers.base import Broker
from app.brokers.errors import BrokerAuthError, BrokerError, RateLimited, TemporaryBrokerError
from app.domain.vocabulary import AuditCategory, Severity
from app.extensions import db
from app.models import BrokerAccount, Fill
from app.services.ledger.reconcile import ReconcileReport, reconcile_account
from app.services.records import audit, events
from app.services.setup.access import broker_for
from app.workers.jobs import JobStatus, job_status, run_job

logger = logging.getLogger(__name__)

JOB_ID = "position_poller"
_EXTENSION = "deskpilot.position_poller"
BROKER_DOWN_AFTER = timedelta(seconds=30)

BrokerFor = Callable[[BrokerAccount], Broker]


@dataclass
class AccountPoll:
    """The last poll of one account, and what the trader has already been told."""

    last_run: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    told: str | None = None  # the kind of operational error already audited
    failing_since: datetime | None = None  # the first poll of the current failure
    down_told: bool = False  # broker_disconnected published for this failure
    not_before: datetime | None = None  # a rate limit's wait
    last_report: ReconcileReport | None = None
    mark: object | None = None  # the broker's change mark the last reconcile started from
    last_reconcile: datetime | None = None


@dataclass
class PollerState:
    accounts: dict[int, AccountPoll] = field(default_factory=dict)


def poller_state(app: Flask) -> PollerState:
    return app.extensions.setdefault(_EXTENSION, PollerState())


def register(scheduler: BaseScheduler, app: Flask) -> None:
    scheduler.add_job(
        run,
        "interval",
        seconds=float(app.config["POLL_INTERVAL_SECONDS"]),
        args=(app,),
        id=JOB_ID,
        name="broker position poll",
        replace_existing=True,
    )


def run(app: Flask, *, brokers: BrokerFor = broker_for) -> None:
    """One tick: poll every account; per-account failures end up on the job's status."""
    status = job_status(app).setdefault(JOB_ID, JobStatus())
    previous_success = status.last_success
    failures: dict[int, str] = {}
    run_job(app, JOB_ID, lambda: failures.update(poll_accounts(app, datetime.now(UTC), brokers)))
    if failures and status.last_error is None:
        status.last_error = "; ".join(f"account {aid}: {why}" for aid, why in failures.items())
        status.last_success = previous_success


def poll_accounts(app: Flask, now: datetime, brokers: BrokerFor = broker_for) -> dict[int, str]:
    """Reconcile every enabled account; returns the failures by account id."""
    state = poller_state(app)
    query = select(BrokerAccount).where(BrokerAccount.enabled.is_(True)).order_by(BrokerAccount.id)
    failures: dict[int, str] = {}
    full_every = timedelta(seconds=float(app.config.get("STREAMED_FULL_POLL_SECONDS", 300)))
    for account_id, name in [(a.id, a.name) for a in db.session.scalars(query)]:
        poll = state.accounts.setdefault(account_id, AccountPoll())
        if poll.not_before is not None and now < poll.not_before:
            # Not read while the broker's wait runs (up to an hour for a 429), which is
            # as unsynced as a failed read: it counts towards broker_disconnected.
            failures[account_id] = poll.last_error or "rate limited"
            _tell_connection(poll, account_id, name, failures[account_id], now)
            continue
        poll.last_run = now
        try:
            error = _poll_one(account_id, name, now, brokers, poll, full_every)
        except Exception as exc:  # telling the trader failed too: still go on to the next
            _discard()
            logger.exception("account %s (%s): poll failed", account_id, name)
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            poll.last_success, poll.last_error, poll.told, poll.not_before = now, None, None, None
        else:
            poll.last_error = failures[account_id] = error
        _tell_connection(poll, account_id, name, error, now)
    return failures


def _tell_connection(
    poll: AccountPoll, account_id: int, name: str, error: str | None, now: datetime
) -> None:
    """`broker_disconnected` once an account has failed every poll for BROKER_DOWN_AFTER
    (one failed poll is a blip, not news), `broker_reconnected` when it answers again."""
    if error is None:
        if poll.down_told:
            events.publish(
                "broker_reconnected",
                {
                    "account_id": account_id,
                    "account": name,
                    "at": now.isoformat(),
                    "message": f"{name}: the broker answers again; positions and fills sync",
                },
            )
        poll.failing_since, poll.down_told = None, False
        return
    poll.failing_since = poll.failing_since or now
    if not poll.down_told and now - poll.failing_since >= BROKER_DOWN_AFTER:
        poll.down_told = True
        seconds = int((now - poll.failing_since).total_seconds())
        events.publish(
            "broker_disconnected",
            {
                "account_id": account_id,
                "account": name,
                "at": now.isoformat(),
                "message": f"{name}: the broker has failed every poll for {seconds} s ({error}); "
                "positions and fills are not synced",
            },
        )


def _poll_one(
    account_id: int,
    name: str,
    now: datetime,
    brokers: BrokerFor,
    poll: AccountPoll,
    full_every: timedelta,
) -> str | None:
    """Reconcile one account unless its stream vouches nothing changed; the error's text
    when it failed."""
    try:
        account = db.session.get(BrokerAccount, account_id)
        if account is None:
            return None  # deleted since the list was read
        broker = brokers(account)
        mark = broker.change_mark()  # before the reads: a change during them moves it
        if _unchanged(poll, mark, account_id, now, full_every):
            db.session.commit()  # end the read transaction, as a reconcile would
            return None
        poll.mark = None
        poll.last_report = reconcile_account(account, broker, now)
        poll.mark, poll.last_reconcile = mark, now
        return None
    except RateLimited as exc:
        _discard()
        poll.not_before = now + timedelta(seconds=max(exc.wait_seconds, 0))
        logger.warning(
            "account %s (%s): rate limited; polling again in %.0f s",
            account_id,
            name,
            exc.wait_seconds,
        )
        return f"rate limited: {exc.message}"
    except TemporaryBrokerError as exc:
        _discard()
        logger.warning("account %s (%s): %s; retrying on the next tick", account_id, name, exc)
        return exc.message
    except BrokerAuthError as exc:
        _discard()
        _tell_once(
            poll,
            account_id,
            AuditCategory.AUTH,
            "login",
            f"{name}: the broker refused the login ({exc.message}); positions and fills are "
            "not synced until the credentials are fixed",
        )
        return f"login refused: {exc.message}"
    except BrokerError as exc:
        _discard()
        _tell_once(
            poll,
            account_id,
            AuditCategory.SYSTEM,
            type(exc).__name__,
            f"{name}: positions and fills cannot be synced: {exc.message}",
        )
        return exc.message
    except Exception as exc:
        _discard()
        logger.exception("account %s (%s): reconciliation failed", account_id, name)
        return f"{type(exc).__name__}: {exc}"


def _unchanged(
    poll: AccountPoll, mark: object | None, account_id: int, now: datetime, full_every: timedelta
) -> bool:
    """The broker's stream vouches that nothing changed since the last reconcile."""
    if mark is None or mark != poll.mark or poll.last_reconcile is None:
        return False
    if poll.last_report is None or poll.last_report.deferred:
        return False
    if now - poll.last_reconcile >= full_every:
        return False
    unposted = select(Fill.id).where(Fill.account_id == account_id, Fill.commission.is_(None))
    return db.session.scalar(unposted.limit(1)) is None


def _tell_once(
    poll: AccountPoll, account_id: int, category: AuditCategory, kind: str, message: str
) -> None:
    """Audit an operational error the first time its kind is seen, not on every tick."""
    if poll.told == kind:
        logger.debug("account %s: %s (already told)", account_id, message)
        return
    logger.error("account %s: %s", account_id, message)
    audit.record(
        category, message, severity=Severity.ERROR, data={"error": kind}, account_id=account_id
    )
    db.session.commit()
    poll.told = kind


def _discard() -> None:
    """Drop whatever the failed account left in the session; the next one starts clean."""
    db.session.rollback()
