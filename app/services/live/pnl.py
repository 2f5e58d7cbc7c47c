"""Each account's live P&L (DESIGN §5.5 `pnl`), figured from a copy of what the database
holds, so a price tick costs no query: the copy is read again only when the account's
positions, fills or trades change, or a new trading day begins."""

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.domain.numbers import shown
from app.domain.trading_day import trading_day_start
from app.extensions import db
from app.models import BrokerAccount, Position
from app.services.ledger import positions
from app.services.ledger.trades import realized_pnl
from app.services.trading.guard_rails import equity_of

logger = logging.getLogger(__name__)

ZERO = Decimal(0)


@dataclass(frozen=True)
class AccountCopy:
    """What an account's P&L needs besides prices, as read at `day_start`'s trading day."""

    account: BrokerAccount
    realized_today: Decimal
    day_start: datetime
    positions: tuple[Position, ...]

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(row.symbol for row in self.positions)


def read(account_id: int, now: datetime) -> AccountCopy | None:
    """The account's copy, or None when it is gone or disabled (no P&L is shown for it)."""
    account = db.session.get(BrokerAccount, account_id)
    if account is None or not account.enabled:
        return None
    day_start = trading_day_start(now)
    rows = db.session.scalars(
        select(Position)
        .where(Position.account_id == account_id, Position.quantity != 0)
        .order_by(Position.symbol)
    )
    return AccountCopy(account, realized_pnl(account_id, day_start), day_start, tuple(rows))


def enabled_account_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(BrokerAccount.id)
            .where(BrokerAccount.enabled.is_(True))
            .order_by(BrokerAccount.id)
        )
    )


def figures(copy: AccountCopy) -> dict:
    """The `pnl` payload at the cached last prices; decimals as strings."""
    views = [positions.mark(row) for row in copy.positions]
    unrealized = sum((view.unrealized_pnl or ZERO for view in views), ZERO)
    return {
        "account_id": copy.account.id,
        "realized_today": shown(copy.realized_today),
        "unrealized": shown(unrealized),
        "equity": shown(equity_of(copy.account, unrealized)),
        "positions": [
            {
                "symbol": view.row.symbol,
                "qty": view.row.quantity,
                "avg_price": _text(view.row.avg_price),
                "last": _text(view.last_price),
                "unrealized": _text(view.unrealized_pnl),
            }
            for view in views
        ],
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else shown(value)
