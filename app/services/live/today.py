"""Today's figures for the dashboard: each account's equity, realized and open P&L exactly
as the `pnl` event figures them, its round trips closed this trading day and their win
rate, and the sum over the accounts shown — so the browser never adds money up."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import case, func, select

from app.extensions import db
from app.models import BrokerAccount, Trade
from app.services.ledger import positions
from app.services.live import pnl
from app.services.trading.guard_rails import equity_of

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
RATE_QUANTUM = Decimal("0.1")


@dataclass(frozen=True)
class Figures:
    """One account's day, or the sum of several (`account` None)."""

    account: BrokerAccount | None
    equity: Decimal
    realized_today: Decimal
    unrealized: Decimal
    trades_today: int
    wins_today: int

    @property
    def pnl_today(self) -> Decimal:
        return self.realized_today + self.unrealized

    @property
    def win_rate_today(self) -> Decimal | None:
        """Percent of today's round trips that made money (None before the first one)."""
        if not self.trades_today:
            return None
        rate = Decimal(100 * self.wins_today) / self.trades_today
        return rate.quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)


def of_accounts(account_ids: Sequence[int] | None, now: datetime) -> list[Figures]:
    """The figures of each enabled account among `account_ids` (None: every one), in order."""
    found = []
    for account_id in pnl.enabled_account_ids() if account_ids is None else account_ids:
        copy = pnl.read(account_id, now)
        if copy is None:  # disabled or gone: the dashboard shows no P&L for it
            continue
        unrealized = sum(
            (positions.mark(row).unrealized_pnl or ZERO for row in copy.positions), ZERO
        )
        trades, wins = _round_trips(account_id, copy.day_start)
        found.append(
            Figures(
                account=copy.account,
                equity=equity_of(copy.account, unrealized),
                realized_today=copy.realized_today,
                unrealized=unrealized,
                trades_today=trades,
                wins_today=wins,
            )
        )
    return found


def total(items: Sequence[Figures]) -> Figures:
    return Figures(
        account=None,
        equity=sum((f.equity for f in items), ZERO),
        realized_today=sum((f.realized_today for f in items), ZERO),
        unrealized=sum((f.unrealized for f in items), ZERO),
        trades_today=sum(f.trades_today for f in items),
        wins_today=sum(f.wins_today for f in items),
    )


def _round_trips(account_id: int, day_start: datetime) -> tuple[int, int]:
    """How many round trips the account closed since `day_start`, and how many made money."""
    count, wins = db.session.execute(
        select(
            func.count(Trade.id),
            func.coalesce(func.sum(case((Trade.pnl > 0, 1), else_=0)), 0),
        ).where(Trade.account_id == account_id, Trade.exit_time >= day_start)
    ).one()
    return int(count), int(wins)
