"""Open positions as the trader sees them: our mirror of the broker, marked to market."""

import logging
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.extensions import db
from app.models import Position
from app.models.base import utcnow
from app.services.market import prices

logger = logging.getLogger(__name__)

CENT_FRACTION = Decimal("0.0001")


@dataclass(frozen=True)
class PositionView:
    row: Position
    last_price: Decimal | None
    unrealized_pnl: Decimal | None


def mark(row: Position) -> PositionView:
    """Unrealized P&L at the cached last price and the contract's point value."""
    quote = prices.last(row.symbol)
    if quote is None or row.avg_price is None or row.quantity == 0:
        return PositionView(row, quote.price if quote else None, None)
    try:
        spec = resolve_symbol(row.symbol, utcnow().date()).spec
    except UnknownSymbol:
        logger.warning("position %s has an unknown symbol %s", row.id, row.symbol)
        return PositionView(row, quote.price, None)
    pnl = (quote.price - row.avg_price) * row.quantity * spec.point_value
    return PositionView(row, quote.price, pnl.quantize(CENT_FRACTION))


def open_positions(account_id: int | None = None) -> list[PositionView]:
    query = (
        select(Position)
        .where(Position.quantity != 0)
        .order_by(Position.account_id, Position.symbol)
    )
    if account_id is not None:
        query = query.where(Position.account_id == account_id)
    return [mark(row) for row in db.session.scalars(query)]
