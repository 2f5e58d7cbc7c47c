"""The append-only audit log."""

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import AuditCategory, Severity
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow


class AuditEntry(Base):
    """One recorded fact. Account and strategy ids are plain integers, not foreign
    keys, so deleting an account can neither be blocked by nor rewrite its history."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_category_created", "category", "created_at"),
        one_of("category", AuditCategory),
        one_of("severity", Severity),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    category: Mapped[AuditCategory] = mapped_column(enum_of(AuditCategory, 16))
    severity: Mapped[Severity] = mapped_column(enum_of(Severity, 8), default=Severity.INFO)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)
    actor: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[int | None] = mapped_column(Integer, index=True)
    strategy_id: Mapped[int | None] = mapped_column(Integer, index=True)


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _refuse_rewrite(_mapper, _connection, target: AuditEntry) -> None:
    raise AuditLogIsAppendOnly(f"audit entry {target.id} cannot be changed")
