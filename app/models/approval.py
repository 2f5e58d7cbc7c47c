"""Alerts held for the trader's click: approved, they trade; rejected or expired, nothing."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.vocabulary import ApprovalStatus
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow
from app.models.webhook import WebhookEvent


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (one_of("status", ApprovalStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_event_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), unique=True
    )
    strategy_id: Mapped[int] = mapped_column(
        ForeignKey("strategies.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ApprovalStatus] = mapped_column(
        enum_of(ApprovalStatus, 8), default=ApprovalStatus.PENDING, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The strategy's max alert age from the alert's time: no later click trades it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)

    event: Mapped[WebhookEvent] = relationship()
