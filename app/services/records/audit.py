"""Append-only audit entries, written in the caller's transaction so the record and the
change it describes commit or roll back together. Each kept entry is also published as a
`log` event (the live log): signals, orders, risk refusals, errors, as they are recorded."""

import logging
from contextvars import ContextVar

from sqlalchemy import select

from app.domain.vocabulary import AuditCategory, Severity
from app.extensions import db
from app.models import AuditEntry
from app.services.records import events

logger = logging.getLogger(__name__)

# Who is acting: set per request ("admin (session)", "admin (api token)") or per job.
_actor: ContextVar[str | None] = ContextVar("audit_actor", default=None)


def set_actor(actor: str | None) -> None:
    _actor.set(actor)


def current_actor() -> str | None:
    """Who is acting now, for the events that name them as the audit entry does."""
    return _actor.get()


def record(
    category: AuditCategory,
    message: str,
    *,
    severity: Severity = Severity.INFO,
    data: dict | None = None,
    actor: str | None = None,
    account_id: int | None = None,
    strategy_id: int | None = None,
) -> AuditEntry:
    """Add an audit entry to the current session (the caller commits)."""
    entry = AuditEntry(
        category=category,
        severity=severity,
        message=message,
        data=data,
        actor=actor or _actor.get(),
        account_id=account_id,
        strategy_id=strategy_id,
    )
    db.session.add(entry)
    events.publish_after_commit(db.session(), "log", lambda: log_payload(entry))
    logger.info("audit %s/%s: %s", category.value, severity.value, message)
    return entry


def log_payload(entry: AuditEntry) -> dict:
    """The `log` event: one shape for every entry (DESIGN §5.5)."""
    return {
        "id": entry.id,
        "time": entry.created_at.isoformat() if entry.created_at else None,
        "category": str(entry.category),
        "severity": str(entry.severity),
        "message": entry.message,
        "account_id": entry.account_id,
        "strategy_id": entry.strategy_id,
    }


def changed_fields(before: dict, after: dict) -> dict:
    """The fields whose values differ, as {name: [old, new]}, for an update's audit entry."""
    return {
        key: [before.get(key), value] for key, value in after.items() if before.get(key) != value
    }


def recent_entries(
    category: str | None = None,
    account_id: int | None = None,
    strategy_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; `before_id` pages back through older entries."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if category:
        query = query.where(AuditEntry.category == category)
    if account_id is not None:
        query = query.where(AuditEntry.account_id == account_id)
    if strategy_id is not None:
        query = query.where(AuditEntry.strategy_id == strategy_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query))
