"""The notification outbox and the trader's preferences for it (DESIGN §3)."""

from datetime import datetime, time

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import NotificationChannel, NotificationStatus, Tone
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow


class Notification(Base):
    """One message for one channel, written in the transaction that made the news, so a
    crash can lose neither; the delivery job sends it (DESIGN §4 "Notifications").
    Account and strategy ids are plain integers, like the audit log's: history outlives
    what it mentions."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_due", "status", "next_attempt_at"),
        Index("ix_notifications_channel_created", "channel", "created_at"),
        one_of("channel", NotificationChannel),
        one_of("status", NotificationStatus),
        one_of("tone", Tone),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[NotificationChannel] = mapped_column(enum_of(NotificationChannel, 16))
    event_type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    # [[name, value], …]: the facts a rich channel lays out.
    fields: Mapped[list] = mapped_column(JSON, default=list)
    tone: Mapped[Tone] = mapped_column(enum_of(Tone, 8), default=Tone.INFO)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    account_id: Mapped[int | None] = mapped_column(Integer)
    strategy_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[NotificationStatus] = mapped_column(
        enum_of(NotificationStatus, 8), default=NotificationStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When it is due: now, after a backoff, or at the end of quiet hours.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPrefs(Base):
    """What the owner wants told, and where: per event type and channel on/off (`events`:
    {event_type: {channel: bool}}; an event type or channel not named takes the default),
    filters that narrow trading news to some strategies, accounts, symbols or a direction
    (an empty list: all), and quiet hours in the owner's time zone."""

    __tablename__ = "notification_prefs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    events: Mapped[dict] = mapped_column(JSON, default=dict)
    strategy_ids: Mapped[list] = mapped_column(JSON, default=list)
    account_ids: Mapped[list] = mapped_column(JSON, default=list)
    symbols: Mapped[list] = mapped_column(JSON, default=list)
    direction: Mapped[str] = mapped_column(String(8), default="all")
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
