"""Strategies (what TradingView alerts address) and traders (strategy × account)."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.vocabulary import OrderType, StrategyMode
from app.models.base import Base, UTCDateTime, enum_of, one_of, utcnow


class Strategy(Base):
    __tablename__ = "strategies"
    __table_args__ = (one_of("order_type", OrderType), one_of("mode", StrategyMode))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Looked up by SHA-256 so the lookup's timing says nothing about the token;
    # the token itself is kept encrypted because the page must show the full URL.
    webhook_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    webhook_token_encrypted: Mapped[str] = mapped_column(Text)
    # Encrypted, not hashed: it is compared on every alert, and bcrypt would cost ~0.2 s.
    passphrase_encrypted: Mapped[str | None] = mapped_column(Text)
    # HMAC-SHA256 key for senders that sign (X-Signature, DESIGN §5.2); null: unsigned.
    signing_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    symbol: Mapped[str | None] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    order_type: Mapped[OrderType] = mapped_column(enum_of(OrderType, 16), default=OrderType.MARKET)
    # Exit specs as in DESIGN §5.2, decimals kept as strings: {"ticks": "16"}.
    take_profit: Mapped[dict | None] = mapped_column(JSON)
    stop_loss: Mapped[dict | None] = mapped_column(JSON)
    trailing_stop: Mapped[dict | None] = mapped_column(JSON)
    break_even: Mapped[dict | None] = mapped_column(JSON)  # {"trigger": {...}, "offset": {...}}
    max_alert_age_seconds: Mapped[int] = mapped_column(Integer, default=60)
    allowed_sessions: Mapped[list | None] = mapped_column(JSON)
    mode: Mapped[StrategyMode] = mapped_column(
        enum_of(StrategyMode, 16), default=StrategyMode.ORDERS
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Its alerts wait for the trader's click (approvals) instead of trading at once.
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Symbol mapping: the contract traded when it differs from the charted one (chart NQ,
    # trade MNQ), and the alert's quantity times this ratio (None: 1).
    trade_symbol: Mapped[str | None] = mapped_column(String(40))
    quantity_ratio: Mapped[Decimal | None] = mapped_column(Numeric(10, 4))
    # Time exits: an unfilled entry is cancelled after this long; a position is closed
    # after this long.
    entry_timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    exit_after_minutes: Mapped[int | None] = mapped_column(Integer)
    # The silence watchdog: an alert is expected at least this often inside the strategy's
    # sessions; when the watchdog last said one was overdue (one event per silence).
    expect_alert_every_minutes: Mapped[int | None] = mapped_column(Integer)
    silence_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    traders: Mapped[list["Trader"]] = relationship(
        back_populates="strategy", cascade="all, delete-orphan"
    )


class Trader(Base):
    __tablename__ = "traders"
    __table_args__ = (UniqueConstraint("strategy_id", "account_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(
        ForeignKey("strategies.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"), index=True
    )
    quantity_multiplier: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(1))
    fixed_quantity: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    strategy: Mapped[Strategy] = relationship(back_populates="traders")
    account: Mapped["BrokerAccount"] = relationship()  # noqa: F821 - resolved by registry
