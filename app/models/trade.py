"""Closed round trips with their P&L, exit reason and journal, and their partial closes."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
    # The trader's 1-5 rating of the trade in the journal; null: not rated.
    rating: Mapped[int | None] = mapped_column(Integer)
    # Maximum adverse and favourable excursion in money over the trade's quantity, from the
    # bars it was open across (services.insight.excursions); null until those bars are in.
    mae: Mapped[Decimal | None] = mapped_column(Money())
    mfe: Mapped[Decimal | None] = mapped_column(Money())


class TradeExit(Base):
    """One partial close of a round trip: the contracts one fill closed, at its price, why,
    and their gross P&L. Written as the fill is booked (`trade_id` empty while the round
    trip is open) and tied to its trade when it closes; the parts' gross P&L adds up to
    the trade's exactly, and their share of its fees is the trade's, by contracts."""

    __tablename__ = "trade_exits"
    __table_args__ = (
        Index("ix_trade_exits_open", "account_id", "symbol", "trade_id"),
        one_of("exit_reason", ExitReason),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id"))
    trade_id: Mapped[int | None] = mapped_column(
        ForeignKey("trades.id", ondelete="CASCADE"), index=True
    )
    fill_id: Mapped[int | None] = mapped_column(ForeignKey("fills.id", ondelete="SET NULL"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Price())
    exit_reason: Mapped[ExitReason] = mapped_column(enum_of(ExitReason, 16))
    gross_pnl: Mapped[Decimal] = mapped_column(Money())
    exited_at: Mapped[datetime] = mapped_column(UTCDateTime)

    trade: Mapped[Trade | None] = relationship()
    fill: Mapped["Fill | None"] = relationship()  # noqa: F821 - resolved by registry
