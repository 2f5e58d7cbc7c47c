"""Each trader's (strategy × account) share of the book: its open positions and today's P&L.

A position or a closed trade belongs to a trader when it carries the trader's strategy on
the trader's account; positions opened by hand or outside DeskPilot belong to no trader.
"Today" is the CME trading day (it opens at 17:00 Chicago time), as for the account's P&L.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from app.domain.trading_day import trading_day_start
from app.extensions import db
from app.models import Position, Trade, Trader
from app.services.ledger.positions import PositionView, mark

ZERO = Decimal(0)


@dataclass(frozen=True)
class TraderFigures:
    trader: Trader
    positions: tuple[PositionView, ...]
    realized_today: Decimal
    unrealized: Decimal | None  # None while a position has no price to mark it at

    @property
    def pnl_today(self) -> Decimal | None:
        return None if self.unrealized is None else self.realized_today + self.unrealized


def trader_figures(traders: list[Trader], now: datetime) -> list[TraderFigures]:
    """The figures of `traders`, in their order, from two queries whatever their number."""
    realized = _realized_since(trading_day_start(now))
    held: dict[tuple[int, int], list[PositionView]] = {}
    rows = db.session.scalars(
        select(Position)
        .where(Position.quantity != 0, Position.strategy_id.is_not(None))
        .order_by(Position.symbol)
    )
    for row in rows:
        held.setdefault((row.account_id, row.strategy_id), []).append(mark(row))
    found = []
    for trader in traders:
        key = (trader.account_id, trader.strategy_id)
        views = tuple(held.get(key, ()))
        marks = [view.unrealized_pnl for view in views]
        unrealized = None if None in marks else sum(marks, ZERO)
        found.append(TraderFigures(trader, views, realized.get(key, ZERO), unrealized))
    return found


def _realized_since(since: datetime) -> dict[tuple[int, int], Decimal]:
    """Net P&L of the trades closed since `since`, by (account, strategy)."""
    query = (
        select(Trade.account_id, Trade.strategy_id, func.sum(Trade.pnl))
        .where(Trade.exit_time >= since, Trade.strategy_id.is_not(None))
        .group_by(Trade.account_id, Trade.strategy_id)
    )
    return {
        (account, strategy): Decimal(total)
        for account, strategy, total in db.session.execute(query)
    }
