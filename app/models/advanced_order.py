"""Trailing stops and OCO pairs the monitor drives: their terms, state and broker orders."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.exits import OffsetUnit
from app.domain.vocabulary import AdvancedKind, AdvancedStatus, PositionSide
from app.models.base import Base, Price, UTCDateTime, enum_of, one_of, utcnow
from app.models.order import Order

TRAIL_UNITS = (OffsetUnit.TICKS, OffsetUnit.POINTS, OffsetUnit.PERCENT)


class AdvancedOrder(Base):
    """One trailing stop or OCO pair protecting (part of) a position.

    Everything the monitor needs to resume after a restart is here: the trail's terms, the
    best price seen and the current stop. The orders it drives are our `orders` rows (with
    their client and broker order ids): a trailing stop's stop order, an OCO pair's take
    profit and stop loss legs, and a market exit the monitor may have sent.
    """

    __tablename__ = "advanced_orders"
    __table_args__ = (
        # The monitor lists the watched rows' revisions every tick from this index alone.
        Index("ix_advanced_orders_status_revision", "status", "revision"),
        one_of("kind", AdvancedKind),
        one_of("side", PositionSide),
        one_of("status", AdvancedStatus),
        one_of("trail_unit", TRAIL_UNITS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[AdvancedKind] = mapped_column(enum_of(AdvancedKind, 16))
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"), index=True)
    position_id: Mapped[int | None] = mapped_column(
        ForeignKey("positions.id", ondelete="SET NULL"), index=True
    )
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id", ondelete="SET NULL")
    )
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[PositionSide] = mapped_column(enum_of(PositionSide, 5))  # the position's
    quantity: Mapped[int] = mapped_column(Integer)
    tick_size: Mapped[Decimal] = mapped_column(Price())
    # Trailing stops: the trail and where it stands.
    trail_unit: Mapped[OffsetUnit | None] = mapped_column(enum_of(OffsetUnit, 8))
    trail_amount: Mapped[Decimal | None] = mapped_column(Price())
    # An offset from the entry's fill ({"ticks": "8"}) until the entry fills, then a price.
    activation_offset: Mapped[dict | None] = mapped_column(JSON)
    activation_price: Mapped[Decimal | None] = mapped_column(Price())
    activated: Mapped[bool] = mapped_column(Boolean, default=False)
    best_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_price: Mapped[Decimal | None] = mapped_column(Price())
    # OCO pairs: the two levels, and whether the broker links them (else the monitor does).
    take_profit_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_loss_price: Mapped[Decimal | None] = mapped_column(Price())
    native: Mapped[bool] = mapped_column(Boolean, default=True)
    # Break-even: the print that arms it and the stop it moves to (both from the entry).
    break_even_trigger: Mapped[Decimal | None] = mapped_column(Price())
    break_even_stop: Mapped[Decimal | None] = mapped_column(Price())
    # The orders it drives (ours, with client and broker order ids); indexed so that the
    # monitor finds the rows behind the orders that changed.
    entry_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    stop_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # When the stop was last modified at the broker: the request budget spaces modifications.
    stop_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    take_profit_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    exit_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    # Bumped by every ORM write (optimistic locking); the monitor's bulk writes of the best
    # price leave it alone and are guarded by it, so a row changed elsewhere is reloaded.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[AdvancedStatus] = mapped_column(
        enum_of(AdvancedStatus, 16), default=AdvancedStatus.ACTIVE
    )
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry_order: Mapped[Order | None] = relationship(foreign_keys=[entry_order_id])
    stop_order: Mapped[Order | None] = relationship(foreign_keys=[stop_order_id])
    take_profit_order: Mapped[Order | None] = relationship(foreign_keys=[take_profit_order_id])
    exit_order: Mapped[Order | None] = relationship(foreign_keys=[exit_order_id])

    __mapper_args__ = {"version_id_col": revision}
