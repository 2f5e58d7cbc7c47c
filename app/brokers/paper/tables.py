"""The paper venue's own books: what a simulated exchange keeps, in tables only it touches.

DeskPilot's orders, fills, positions and trades are the ledger's; these are the venue's
side of the same story, the way Tradovate keeps its own. Every process loads a paper
account's book from here, and `paper_accounts.version` grows with every change, so a
process whose copy is older reloads it (and a change made from a stale copy is refused
and redone: see store.save).

They share DeskPilot's metadata only so that Alembic creates and migrates them.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import OrderStatus, OrderType, Side
from app.models.base import Base, Money, Price, UTCDateTime, one_of, utcnow


class PaperAccount(Base):
    """One simulated account: its cash and the version of its book."""

    __tablename__ = "paper_accounts"

    account_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    cash: Mapped[Decimal] = mapped_column(Money())
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaperOrder(Base):
    """An order as the venue holds it; kept once done, so a repeated request is answered."""

    __tablename__ = "paper_orders"
    __table_args__ = (
        Index("ix_paper_orders_account_status", "account_id", "status"),
        one_of("side", Side),
        one_of("order_type", OrderType),
        one_of("status", OrderStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    client_order_id: Mapped[str] = mapped_column(String(64), unique=True)
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    order_type: Mapped[str] = mapped_column(String(16))
    limit_price: Mapped[Decimal | None] = mapped_column(Price())
    stop_price: Mapped[Decimal | None] = mapped_column(Price())
    oco_group: Mapped[str | None] = mapped_column(String(64))
    reduce_only: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # A stop-limit whose stop was touched and that now rests as a limit.
    triggered: Mapped[bool] = mapped_column(Boolean, default=False)
    filled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    avg_fill_price: Mapped[Decimal | None] = mapped_column(Price())
    reason: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaperFill(Base):
    """One execution at the venue; positions are replayed from these, exactly."""

    __tablename__ = "paper_fills"
    __table_args__ = (
        Index("ix_paper_fills_account_symbol", "account_id", "symbol"),
        one_of("side", Side),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    fill_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Price())
    commission: Mapped[Decimal] = mapped_column(Money())
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PaperPosition(Base):
    """Net quantity and realized P&L per symbol; an open one is replayed from its fills."""

    __tablename__ = "paper_positions"
    __table_args__ = (UniqueConstraint("account_id", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(Integer)
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    realized_pnl: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))


class PaperQuote(Base):
    """The last price the venue traded against per symbol, seen by every process."""

    __tablename__ = "paper_quotes"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    price: Mapped[Decimal] = mapped_column(Price())
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime)
