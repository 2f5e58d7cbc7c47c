"""Equity snapshots: the account's money at each closed trade and at each day's end, for
the equity curve and the drawdown chart."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from app.domain.vocabulary import SnapshotKind
from app.models.base import Base, Money, UTCDateTime, enum_of, one_of


class EquitySnapshot(Base):
    __tablename__ = "equity_snapshots"
    __table_args__ = (
        Index("ix_equity_snapshots_account_taken", "account_id", "taken_at"),
        one_of("kind", SnapshotKind),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("broker_accounts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[SnapshotKind] = mapped_column(enum_of(SnapshotKind, 8))
    # The trade whose close it was taken at (kind `trade`).
    trade_id: Mapped[int | None] = mapped_column(ForeignKey("trades.id", ondelete="SET NULL"))
    balance: Mapped[Decimal] = mapped_column(Money())  # cash: the broker's, or paper's books
    realized: Mapped[Decimal] = mapped_column(Money())  # the trading day's, net of fees
    unrealized: Mapped[Decimal] = mapped_column(Money())  # open P&L at the last price
    equity: Mapped[Decimal] = mapped_column(Money())  # balance + unrealized
