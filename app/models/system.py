"""Process-wide switches that must outlive a restart: one row, id 1."""

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow

SYSTEM_STATE_ID = 1


class SystemState(Base):
    """The kill switch's flag lives here, in the database every process reads, so the
    server, a second worker and `python run.py kill` agree on it (DESIGN §4)."""

    __tablename__ = "system_state"
    __table_args__ = (CheckConstraint(f"id = {SYSTEM_STATE_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=SYSTEM_STATE_ID)
    kill_switch_engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    kill_switch_engaged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kill_switch_reason: Mapped[str | None] = mapped_column(String(255))
    kill_switch_actor: Mapped[str | None] = mapped_column(String(64))
    # Bumped on every change, so another process can tell its in-memory books are stale.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
