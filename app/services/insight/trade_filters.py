"""Which closed trades a journal view or export selects: account, strategy, product, exit
time window and one tag, checked before any row is read."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select

from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.errors import InvalidInput
from app.models import Trade

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TradeFilters:
    account_id: int | None = None
    strategy_id: int | None = None
    symbol: str | None = None  # any form of a product: `MES1!`, `MESZ6`, `MES`
    start: datetime | None = None  # on the exit time, inclusive
    end: datetime | None = None
    tag: str | None = None


def product_root(symbol: str) -> str:
    """`MES1!`, `MESZ6` and `MES` name one product: its trades are `MES…`."""
    try:
        return resolve_symbol(symbol, datetime.now(UTC).date()).spec.root
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None


def checked(filters: TradeFilters) -> TradeFilters:
    """The filters, refused naming the field when they cannot select anything sensible."""
    if filters.start and filters.end and filters.start > filters.end:
        raise InvalidInput("end must not be before start.", {"end": "is before start"})
    if filters.tag is not None and len(filters.tag) > 40:
        raise InvalidInput("A tag has at most 40 characters.", {"tag": "is longer than 40"})
    if filters.symbol:
        product_root(filters.symbol)
    return filters


def narrowed(query: Select, filters: TradeFilters) -> Select:
    """`query` over Trade with every filter but the tag, which the JSON column cannot
    match alike on SQLite and PostgreSQL: `has_tag` checks it per row."""
    if filters.account_id is not None:
        query = query.where(Trade.account_id == filters.account_id)
    if filters.strategy_id is not None:
        query = query.where(Trade.strategy_id == filters.strategy_id)
    if filters.symbol:
        query = query.where(Trade.symbol.like(f"{product_root(filters.symbol)}%"))
    if filters.start is not None:
        query = query.where(Trade.exit_time >= filters.start)
    if filters.end is not None:
        query = query.where(Trade.exit_time <= filters.end)
    return query


def has_tag(trade: Trade, tag: str | None) -> bool:
    return tag is None or tag in (trade.tags or [])
