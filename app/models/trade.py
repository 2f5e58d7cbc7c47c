"""Closed round trips with their P&L, exit reason and journal."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import ExitReason, PositionSide
from app.models.base import Base, Money, Price, UTCDateTime, enum_of, one_of


class Trade(Base):
    __tablename__ = "trades"
    __table_args__ = (
        Index("ix_trades_account_exit_time", "account_id", "exit_time"),
        one_of("side", PositionSide),
        one_of("exit_reason", ExitReason),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    strategy_id: Mapped[int | None] = mapped_column(
        ForeignKey("strategies.id", ondelete="SET NULL"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(32), index=True)
    side: Mapped[PositionSide] = mapped_column(enum_of(PositionSide, 5))
    quantity: Mapped[int] = mapped_column(Integer)
    entry_price: Mapped[Decimal] = mapped_column(Price())
    exit_price: Mapped[Decimal] = mapped_column(Price())
    entry_time: Mapped[datetime] = mapped_column(UTCDateTime)
    exit_time: Mapped[datetime] = mapped_column(UTCDateTime)
    gross_pnl: Mapped[Decimal] = mapped_column(Money())
    commission: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    pnl: Mapped[Decimal] = mapped_column(Money())  # net of commission
    exit_reason: Mapped[ExitReason] = mapped_column(enum_of(ExitReason, 16))
    notes: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list | None] = mapped_column(JSON)
