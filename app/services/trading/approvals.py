"""Alerts held for the trader's click (a strategy's `require_approval`).

Approved before it expires, a held alert trades as it would have on arrival
(`execution.execute_approved`), once: the approval is taken by one conditional update, so
two clicks place nothing twice. Rejected or expired, it places nothing, and its event says
so. Expiry is the strategy's max alert age from the alert's time.
"""

from datetime import datetime

from sqlalchemy import select, update

from app.domain.vocabulary import ApprovalStatus, AuditCategory, EventStatus
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Approval
from app.services.records import audit, events
from app.services.trading import execution
from app.services.trading.execution import AlertResult


def list_approvals(
    status: ApprovalStatus | None, now: datetime, limit: int = 200
) -> list[Approval]:
    """Newest first; the overdue ones are expired before they are listed."""
    expire_overdue(now)
    query = select(Approval).order_by(Approval.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Approval.status == status)
    return list(db.session.scalars(query))


def get_approval(approval_id: int) -> Approval:
    row = db.session.get(Approval, approval_id)
    if row is None:
        raise NotFound(f"No approval with id {approval_id}.")
    return row


def approve(approval_id: int, now: datetime) -> AlertResult:
    """Trade the held alert now; 409 `expired` past its expiry, 409 `approval_decided`
    once it was approved, rejected or expired."""
    row = get_approval(approval_id)
    if row.status is ApprovalStatus.PENDING and now > row.expires_at:
        _expire(row, now)
        raise Conflict(
            f"Approval {row.id} expired at {_when(row.expires_at)}: nothing was placed.",
            code="expired",
        )
    _take(row, ApprovalStatus.APPROVED, now)
    return execution.execute_approved(row, now)


def reject(approval_id: int, now: datetime) -> Approval:
    """Drop the held alert: nothing is placed."""
    row = get_approval(approval_id)
    _take(row, ApprovalStatus.REJECTED, now)
    _settle_event(row, EventStatus.REJECTED, f"rejected by {row.decided_by}")
    return row


def expire_overdue(now: datetime) -> int:
    """Expire the pending approvals past their expiry; how many."""
    overdue = list(
        db.session.scalars(
            select(Approval).where(
                Approval.status == ApprovalStatus.PENDING, Approval.expires_at < now
            )
        )
    )
    for row in overdue:
        _expire(row, now)
    return len(overdue)


def _take(row: Approval, status: ApprovalStatus, now: datetime) -> None:
    """Decide a pending approval by the trader's click, once (`_claim`); a second click
    finds it decided: 409, nothing more done."""
    actor = audit.current_actor()
    if not _claim(row, status, now, actor):
        raise Conflict(
            f"Approval {row.id} is already {row.status}; nothing more was done.",
            code="approval_decided",
        )
    audit.record(
        AuditCategory.SIGNAL,
        f"alert {row.webhook_event_id} {status.value} by {actor}",
        strategy_id=row.strategy_id,
        data={"approval_id": row.id, "event_id": row.webhook_event_id},
    )
    db.session.commit()


def _expire(row: Approval, now: datetime) -> None:
    if _claim(row, ApprovalStatus.EXPIRED, now, None):
        reason = f"not approved before {_when(row.expires_at)}: nothing was placed"
        _settle_event(row, EventStatus.EXPIRED, reason)


def _claim(row: Approval, status: ApprovalStatus, now: datetime, actor: str | None) -> bool:
    """Move a pending approval to `status` by one conditional update, so two clicks (or two
    processes) never both decide it; whether this one did."""
    taken = db.session.execute(
        update(Approval)
        .where(Approval.id == row.id, Approval.status == ApprovalStatus.PENDING)
        .values(status=status, decided_at=now, decided_by=actor)
    ).rowcount
    db.session.commit()
    db.session.refresh(row)
    return bool(taken)


def _settle_event(row: Approval, status: EventStatus, reason: str) -> None:
    event = row.event
    event.status = status
    event.reason = reason
    event.processed_at = row.decided_at
    audit.record(
        AuditCategory.SIGNAL,
        f"alert {event.id} {status.value}: {reason}",
        strategy_id=row.strategy_id,
        data={"approval_id": row.id, "event_id": event.id},
    )
    db.session.commit()
    events.publish(
        "signal",
        {"id": event.id, "strategy_id": event.strategy_id, "status": status, "reason": reason},
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S UTC")
