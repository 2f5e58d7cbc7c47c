"""The journal's export: the selected closed trades, newest first as `GET /api/trades`
lists them, read in keyset pages so an export of 100,000 trades never holds them all."""

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import BrokerAccount, Strategy, Trade
from app.services.insight.trade_filters import TradeFilters, checked, has_tag, narrowed
from app.services.ledger.trades import ExitShare, exits_of

logger = logging.getLogger(__name__)

PAGE_SIZE = 500


@dataclass(frozen=True)
class ExportRow:
    trade: Trade
    account: str
    strategy: str | None  # a deleted strategy leaves its trades without one
    exits: list[ExitShare]


def exported(filters: TradeFilters) -> Iterator[list[ExportRow]]:
    """The trades page by page. The filters are checked now, so a bad one is refused
    before the caller starts its answer; rows are read only as the pages are taken."""
    return _pages(checked(filters))


def _pages(filters: TradeFilters) -> Iterator[list[ExportRow]]:
    query = narrowed(
        select(Trade, BrokerAccount.name, Strategy.name)
        .join(BrokerAccount, BrokerAccount.id == Trade.account_id)
        .outerjoin(Strategy, Strategy.id == Trade.strategy_id)
        .order_by(Trade.id.desc())
        .limit(PAGE_SIZE),
        filters,
    )
    last_id: int | None = None
    while True:
        page = query if last_id is None else query.where(Trade.id < last_id)
        rows = db.session.execute(page).all()
        if not rows:
            return
        last_id = rows[-1][0].id
        kept = [row for row in rows if has_tag(row[0], filters.tag)]
        exits = exits_of([trade for trade, _, _ in kept])
        # The session's identity map holds rows weakly: a page taken is a page let go.
        yield [
            ExportRow(trade, account, strategy, exits[trade.id])
            for trade, account, strategy in kept
        ]
        if len(rows) < PAGE_SIZE:
            return
