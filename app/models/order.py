"""Orders (ours, with a client order id made before the broker call) and their fills."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.vocabulary import (
    ExitReason,
    OrderRole,
    OrderStatus,
    OrderType,
    RejectCode,
    Side,
)
from app.models.base import Base, Money, Price, UTCDateTime, enum_of, one_of, utcnow


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_account_status", "account_id", "status"),
        one_of("side", Side),
        one_of("order_type", OrderType),
        one_of("role", OrderRole),
        one_of("status", OrderStatus),
        one_of("reject_code", RejectCode),
        one_of("exit_reason", ExitReason),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id", ondelete="SET NULL"), index=True
    )
    trader_id: Mapped[int | None] = mapped_column(ForeignKey("traders.id", ondelete="SET NULL"))
    webhook_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="SET NULL"), index=True
    )
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    broker_order_id: Mapped[str | None] = mapped_column(String(64), index=True)
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[Side] = mapped_column(enum_of(Side, 4))
    quantity: Mapped[int] = mapped_column(Integer)
    order_type: Mapped[OrderType] = mapped_column(enum_of(OrderType, 16))
    limit_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_price: Mapped[Decimal | None] = mapped_column(Price())
    role: Mapped[OrderRole] = mapped_column(enum_of(OrderRole, 16))
    group_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[OrderStatus] = mapped_column(
        enum_of(OrderStatus, 16), default=OrderStatus.PENDING
    )
    filled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    avg_fill_price: Mapped[Decimal | None] = mapped_column(Price())
    # What a round trip this order closes ended by, when its role does not say it all
    # (a trailing stop's stop, a stop moved to break-even); set by whoever drives it.
    exit_reason: Mapped[ExitReason | None] = mapped_column(enum_of(ExitReason, 16))
    # Why it was refused, for code to branch on; `reason` says it to people.
    reject_code: Mapped[RejectCode | None] = mapped_column(enum_of(RejectCode, 16))
    # When the broker rejected the order after it had accepted it (a protective stop the
    # account no longer holds): set by the ledger, acted on once by protection.late_rejections.
    rejected_late_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    late_rejection_handled: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    # An entry still unfilled then is cancelled (the strategy's entry timeout): held at the
    # broker as a good-till time where it can be, else by the monitor.
    cancel_after: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Indexed: the monitor asks which orders changed since its last look.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )

    account: Mapped["BrokerAccount"] = relationship()  # noqa: F821 - resolved by registry


class Fill(Base):
    __tablename__ = "fills"
    __table_args__ = (
        UniqueConstraint("account_id", "broker_fill_id"),
        one_of("side", Side),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    # Fills of orders placed outside DeskPilot have no order of ours.
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    broker_fill_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[Side] = mapped_column(enum_of(Side, 4))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Price())
    # The broker's fees; None until it has posted them (Tradovate posts them after the fill).
    commission: Mapped[Decimal | None] = mapped_column(Money())
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
