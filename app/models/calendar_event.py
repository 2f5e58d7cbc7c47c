"""Economic events from the calendar the trader imports (news blackout)."""

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.news import Impact
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow


class CalendarEvent(Base):
    __tablename__ = "calendar_events"
    __table_args__ = (one_of("impact", Impact),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The event's identity in its calendar (an iCalendar UID, else time and title): a
    # calendar imported again updates its events instead of doubling them.
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    title: Mapped[str] = mapped_column(String(300))
    impact: Mapped[Impact] = mapped_column(enum_of(Impact, 8))
    currency: Mapped[str | None] = mapped_column(String(8))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
