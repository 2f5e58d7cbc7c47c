"""Market data kept by DeskPilot (DESIGN §3): bars, and the trader's price alerts with the
record of each time one fired."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import BarSource, ConditionJoin, Timeframe
from app.models.base import Base, Price, UTCDateTime, enum_of, one_of, utcnow


class Bar(Base):
    """One bar of one resolved contract (`MESZ6`), keyed by its start. A bar is written
    once its minute has closed; a later write of the same bar (an import, the broker's
    history) replaces it, so reading never sees two."""

    __tablename__ = "bars"
    __table_args__ = (
        UniqueConstraint("symbol", "timeframe", "start"),
        one_of("timeframe", Timeframe),
        one_of("source", BarSource),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    symbol: Mapped[str] = mapped_column(String(40))
    timeframe: Mapped[Timeframe] = mapped_column(enum_of(Timeframe, 4))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    open: Mapped[Decimal] = mapped_column(Price())
    high: Mapped[Decimal] = mapped_column(Price())
    low: Mapped[Decimal] = mapped_column(Price())
    close: Mapped[Decimal] = mapped_column(Price())
    volume: Mapped[int] = mapped_column(BigInteger, default=0)
    source: Mapped[BarSource] = mapped_column(enum_of(BarSource, 8), default=BarSource.PRICES)


class PriceAlert(Base):
    """A rule the trader set on a symbol: conditions (DESIGN §5.4 kinds) joined by AND or
    OR, looked at on each new bar of its timeframe (price conditions also on each price).
    `state` keeps what a crossing needs between looks (the last side of each line)."""

    __tablename__ = "price_alerts"
    __table_args__ = (one_of("joined_by", ConditionJoin), one_of("timeframe", Timeframe))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    symbol: Mapped[str] = mapped_column(String(40))
    conditions: Mapped[list] = mapped_column(JSON)
    # The API's `join` (a reserved word in SQL, so not the column's name).
    joined_by: Mapped[ConditionJoin] = mapped_column(
        enum_of(ConditionJoin, 3), default=ConditionJoin.AND
    )
    timeframe: Mapped[Timeframe] = mapped_column(enum_of(Timeframe, 4), default=Timeframe.M1)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, default=0)
    max_triggers_per_day: Mapped[int | None] = mapped_column(Integer)
    one_shot: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    last_triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PriceAlertTrigger(Base):
    """One firing of a price alert, with the values its conditions saw."""

    __tablename__ = "price_alert_triggers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    price_alert_id: Mapped[int] = mapped_column(
        ForeignKey("price_alerts.id", ondelete="CASCADE"), index=True
    )
    triggered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    values: Mapped[dict] = mapped_column(JSON)
