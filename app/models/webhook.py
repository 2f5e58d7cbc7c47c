"""Every alert received, stored before anything is sent to a broker."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import EventStatus
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow


class WebhookEvent(Base):
    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("strategy_id", "idempotency_key"),
        Index("ix_webhook_events_strategy_received", "strategy_id", "received_at"),
        one_of("status", EventStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source_ip: Mapped[str | None] = mapped_column(String(45))
    content_type: Mapped[str | None] = mapped_column(String(100))
    raw_body: Mapped[str] = mapped_column(Text)
    signal: Mapped[dict | None] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(128))
    status: Mapped[EventStatus] = mapped_column(
        enum_of(EventStatus, 20), default=EventStatus.RECEIVED, index=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    timings_ms: Mapped[dict | None] = mapped_column(JSON)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
