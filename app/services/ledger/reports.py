"""What a broker says, into the ledger: venue reports, answers to our calls, refusals.

The entry points of the one fill path besides the position poller (reconcile.py): the
paper venue's reports arrive through app.brokers.listeners while it trades (applied in
its transaction, committed by it); the answers a broker gives to place, modify and cancel
calls are recorded by whoever called (trading, protection) through `record_answers`.
"""

import logging
from collections.abc import Sequence

from sqlalchemy import select

from app.brokers.base import BrokerOrder, BrokerReport
from app.domain.vocabulary import AuditCategory, OrderStatus, RejectCode, Severity
from app.extensions import db
from app.models import Order
from app.models.base import utcnow
from app.services.ledger.book import LedgerBatch, code_refusal, merged, snapshot
from app.services.records import audit

logger = logging.getLogger(__name__)


def apply_report(report: BrokerReport) -> None:
    """Apply a venue's report inside the caller's transaction (the caller commits)."""
    batch = LedgerBatch(report.account_id, utcnow())
    batch.load_orders([*report.orders, *report.fills])
    batch.apply_fills(report.fills)
    batch.apply_orders(report.orders)
    batch.set_cash(report.cash)
    batch.finish()


def record_answers(rows: Sequence[Order], answers: Sequence[BrokerOrder]) -> None:
    """Copy the broker's answers onto our rows (never moving a settled row back); commit."""
    if not rows:
        return
    if _restated(rows, answers):
        db.session.commit()  # a venue's report in the call's transaction wrote them already
        return
    _reload(rows)
    batch = LedgerBatch(rows[0].account_id, utcnow())
    batch.load_orders(rows=rows)
    batch.apply_orders(answers)
    batch.finish()
    db.session.commit()


def mark_refused(
    rows: Sequence[Order], status: OrderStatus, reason: str, code: RejectCode | None = None
) -> None:
    """Record the broker's refusal (or failure) on the rows it did not already settle;
    `code` when the refusal says more than its status does (the account is locked)."""
    _reload(rows)
    batch = LedgerBatch(rows[0].account_id, utcnow())
    for row in rows:
        if row.status == OrderStatus.PENDING:
            row.status = status
            row.reason = reason
            row.reject_code = code
            batch.changes.orders[row.id] = row
        code_refusal(row)
    first = rows[0]
    audit.record(
        AuditCategory.ORDER,
        f"{first.symbol} {first.side} {first.quantity} {status.value}: {reason}",
        severity=Severity.WARNING if status is OrderStatus.REJECTED else Severity.ERROR,
        account_id=first.account_id,
        strategy_id=first.strategy_id,
    )
    batch.finish()
    db.session.commit()


def cancel_unsent(row: Order, reason: str) -> None:
    """Close a row the broker never needed (a flatten of a symbol already flat); commit."""
    _reload([row])
    if row.status == OrderStatus.PENDING.value:
        batch = LedgerBatch(row.account_id, utcnow())
        row.status = OrderStatus.CANCELLED.value
        row.reason = reason
        batch.changes.orders[row.id] = row
        batch.audit_settled(row, OrderStatus.PENDING.value)
        batch.finish()
    db.session.commit()


def announce(rows: Sequence[Order]) -> None:
    """Queue an `order` event for rows written outside a broker report (an intent refused
    before any broker call); published at the next commit."""
    if rows:
        batch = LedgerBatch(rows[0].account_id, utcnow())
        batch.changes.orders.update({row.id: row for row in rows})
        batch.finish()


def _restated(rows: Sequence[Order], answers: Sequence[BrokerOrder]) -> bool:
    """True when every answer only restates what its row already says: the rows were
    written by this session, so a newer change elsewhere is newer than the answer too."""
    by_client = {row.client_order_id: row for row in rows}
    for answer in answers:
        row = by_client.get(answer.client_order_id)
        if row is None or merged(snapshot(row), answer) != snapshot(row):
            return False
    return True


def _reload(rows: Sequence[Order]) -> None:
    """Re-read the rows in one query: another thread's report may have moved them."""
    db.session.scalars(
        select(Order)
        .where(Order.id.in_([row.id for row in rows]))
        .execution_options(populate_existing=True)
    ).all()
