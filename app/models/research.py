"""The trader's research beside the positions (DESIGN §3): news sources and their
articles with a sentiment score, and uploaded option chains with their contracts."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.vocabulary import OptionModel, OptionType, SentimentLabel
from app.models.base import Base, Price, UTCDateTime, enum_of, one_of, utcnow


def Score() -> Numeric[Decimal]:  # noqa: N802 - reads like a type in column definitions
    """A sentiment score or confidence, −1…+1 to four decimals (VADER's precision)."""
    return Numeric(5, 4, asdecimal=True)


class NewsSource(Base):
    """An RSS or Atom feed the trader follows. `etag` and `last_modified` make the next
    fetch conditional; `failures` and `retry_at` back a failing source off without
    holding up the others."""

    __tablename__ = "news_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # How much this source's articles count in a symbol's sentiment series.
    weight: Mapped[Decimal] = mapped_column(Numeric(6, 3, asdecimal=True), default=Decimal(1))
    etag: Mapped[str | None] = mapped_column(String(255))
    last_modified: Mapped[str | None] = mapped_column(String(64))
    last_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NewsArticle(Base):
    """One article, kept once: unique by its URL and by the SHA-256 of its normalised
    title and summary (the same story syndicated under two URLs)."""

    __tablename__ = "news_articles"
    __table_args__ = (one_of("sentiment_label", SentimentLabel),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("news_sources.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Contract roots the article is about ("ES", "MES", "CL"), from names and cash-tags.
    tickers: Mapped[list] = mapped_column(JSON, default=list)
    sentiment_score: Mapped[Decimal] = mapped_column(Score())
    sentiment_label: Mapped[SentimentLabel] = mapped_column(enum_of(SentimentLabel, 13))
    sentiment_confidence: Mapped[Decimal] = mapped_column(Score())

    source: Mapped[NewsSource | None] = relationship()


class OptionChain(Base):
    """An uploaded snapshot of an option chain: the underlying, when it was taken, the
    model its implied volatilities and Greeks are computed with, and the rate."""

    __tablename__ = "option_chains"
    __table_args__ = (one_of("model", OptionModel),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    underlying: Mapped[str] = mapped_column(String(40))
    # The underlying's price at `as_of` (futures price for Black-76, spot for BSM).
    underlying_price: Mapped[Decimal | None] = mapped_column(Price())
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)
    model: Mapped[OptionModel] = mapped_column(enum_of(OptionModel, 8))
    rate: Mapped[Decimal] = mapped_column(Numeric(10, 6, asdecimal=True), default=Decimal(0))
    dividend_yield: Mapped[Decimal] = mapped_column(
        Numeric(10, 6, asdecimal=True), default=Decimal(0)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contracts: Mapped[list["OptionContract"]] = relationship(
        back_populates="chain", cascade="all, delete-orphan", order_by="OptionContract.id"
    )


class OptionContract(Base):
    __tablename__ = "option_contracts"
    __table_args__ = (one_of("option_type", OptionType),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(
        ForeignKey("option_chains.id", ondelete="CASCADE"), index=True
    )
    option_type: Mapped[OptionType] = mapped_column(enum_of(OptionType, 4))
    strike: Mapped[Decimal] = mapped_column(Price())
    expiry: Mapped[date] = mapped_column(Date)
    bid: Mapped[Decimal | None] = mapped_column(Price())
    ask: Mapped[Decimal | None] = mapped_column(Price())
    last: Mapped[Decimal | None] = mapped_column(Price())
    volume: Mapped[int] = mapped_column(Integer, default=0)
    open_interest: Mapped[int] = mapped_column(Integer, default=0)

    chain: Mapped[OptionChain] = relationship(back_populates="contracts")
