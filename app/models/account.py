"""Broker accounts and the risk limits that guard each one."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.account_rules import BreachAction, DrawdownMode
from app.domain.vocabulary import BrokerKind, Environment, HaltKind, RiskMode
from app.models.base import Base, Money, UTCDateTime, enum_of, one_of, utcnow


class BrokerAccount(Base):
    __tablename__ = "broker_accounts"
    __table_args__ = (one_of("broker", BrokerKind), one_of("environment", Environment))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    broker: Mapped[BrokerKind] = mapped_column(enum_of(BrokerKind, 16))
    environment: Mapped[Environment] = mapped_column(
        enum_of(Environment, 8), default=Environment.DEMO
    )
    # Fernet token of a JSON object; decrypted only inside the broker adapter.
    credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    broker_account_id: Mapped[str | None] = mapped_column(String(64))
    broker_account_spec: Mapped[str | None] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    starting_balance: Mapped[Decimal | None] = mapped_column(Money())
    cash_balance: Mapped[Decimal | None] = mapped_column(Money())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    risk_limits: Mapped["RiskLimits"] = relationship(
        back_populates="account", cascade="all, delete-orphan", uselist=False
    )


class RiskLimits(Base):
    __tablename__ = "risk_limits"
    __table_args__ = (
        one_of("risk_mode", RiskMode),
        one_of("halted_by", HaltKind),
        one_of("trailing_drawdown_mode", DrawdownMode),
        one_of("breach_action", BreachAction),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("broker_accounts.id", ondelete="CASCADE"), unique=True
    )
    max_contracts_per_order: Mapped[int | None] = mapped_column(Integer)
    max_position: Mapped[int | None] = mapped_column(Integer)
    max_open_positions: Mapped[int | None] = mapped_column(Integer)
    max_daily_loss: Mapped[Decimal | None] = mapped_column(Money())
    max_trades_per_day: Mapped[int | None] = mapped_column(Integer)
    # Trading window as wall-clock times in a named zone; start > end spans midnight.
    window_start: Mapped[str | None] = mapped_column(String(5))
    window_end: Mapped[str | None] = mapped_column(String(5))
    window_timezone: Mapped[str | None] = mapped_column(String(64))
    # Σ |qty| × price × point value over the account's positions, checked before each order.
    max_exposure: Mapped[Decimal | None] = mapped_column(Money())
    # Sizing by dollar risk and a confidence threshold (domain.sizing); null: none, the
    # strategies' own quantities.
    risk_mode: Mapped[RiskMode | None] = mapped_column(enum_of(RiskMode, 16))
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Who halted it decides what lifts it; the reason is for people (services.protection.halts).
    halted_by: Mapped[HaltKind | None] = mapped_column(enum_of(HaltKind, 16))
    halted_reason: Mapped[str | None] = mapped_column(String(255))
    halted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Funded-account rules (domain.account_rules); each off while null.
    trailing_drawdown: Mapped[Decimal | None] = mapped_column(Money())
    trailing_drawdown_mode: Mapped[DrawdownMode] = mapped_column(
        enum_of(DrawdownMode, 8), default=DrawdownMode.EOD
    )
    trailing_stops_at_start: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_profit_target: Mapped[Decimal | None] = mapped_column(Money())
    profit_lock_trail: Mapped[Decimal | None] = mapped_column(Money())
    weekly_loss_limit: Mapped[Decimal | None] = mapped_column(Money())
    weekly_profit_target: Mapped[Decimal | None] = mapped_column(Money())
    consistency_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    loss_cooldown_minutes: Mapped[int | None] = mapped_column(Integer)
    max_consecutive_losses: Mapped[int | None] = mapped_column(Integer)
    safety_buffer: Mapped[Decimal | None] = mapped_column(Money())
    breach_action: Mapped[BreachAction] = mapped_column(
        enum_of(BreachAction, 8), default=BreachAction.REFUSE
    )
    # Flat before the close: every trading day at this wall-clock time ("HH:MM", in the
    # trading window's zone), or this many minutes before the session closes.
    flatten_at: Mapped[str | None] = mapped_column(String(5))
    flatten_before_close_minutes: Mapped[int | None] = mapped_column(Integer)
    # No entries around high-impact news: {"before_minutes", "after_minutes", "min_impact",
    # "flatten"} (domain.news.BlackoutRule), as the API validated it.
    news_blackout: Mapped[dict | None] = mapped_column(JSON)
    # The event the account was last flattened before (news_blackout "flatten"), so one
    # event flattens once and a trader re-entering after the window is left alone.
    news_flattened_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("calendar_events.id", ondelete="SET NULL")
    )
    # Refuse entries outside the contract's CME session and, at Tradovate, its maintenance
    # windows; null: the broker's default (on for Tradovate, off for paper).
    session_guard: Mapped[bool | None] = mapped_column(Boolean)
    # What the rules trail, kept between looks: the equity high-water mark (by the
    # drawdown's mode), the last equity seen (an EOD mark takes the day's last), and the
    # day's best P&L (the profit lock's), each with the time or trading day it is of.
    high_water_mark: Mapped[Decimal | None] = mapped_column(Money())
    last_equity: Mapped[Decimal | None] = mapped_column(Money())
    last_equity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    day_best_pnl: Mapped[Decimal | None] = mapped_column(Money())
    day_best_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    account: Mapped[BrokerAccount] = relationship(back_populates="risk_limits")
