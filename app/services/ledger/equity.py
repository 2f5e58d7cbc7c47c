"""Equity snapshots (DESIGN §3): the account's balance, the trading day's realized P&L,
its open P&L and equity, taken by the ledger in the transaction that closes a round trip
and by a job at each trading day's end — the equity curve and its drawdown.

Balance is the account's cash as the ledger keeps it (the broker's for Tradovate, the paper
venue's books), or the starting balance before any is known; open P&L marks the open
positions at the last price, as the risk rules do.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.domain.equity_curve import drawdowns
from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import SnapshotKind
from app.extensions import db
from app.models import BrokerAccount, EquitySnapshot
from app.services.ledger import positions
from app.services.ledger.trades import money, realized_pnl

ZERO = Decimal(0)


def take(
    account_id: int, now: datetime, kind: SnapshotKind, trade_id: int | None = None
) -> EquitySnapshot:
    """Add a snapshot of the account as it stands (the caller commits)."""
    account = db.session.get(BrokerAccount, account_id)
    cash = account.cash_balance if account.cash_balance is not None else account.starting_balance
    balance = cash or ZERO
    unrealized = sum(
        (view.unrealized_pnl or ZERO for view in positions.open_positions(account_id)), ZERO
    )
    row = EquitySnapshot(
        account_id=account_id,
        taken_at=now,
        kind=kind,
        trade_id=trade_id,
        balance=money(balance),
        realized=money(realized_pnl(account_id, trading_day_start(now))),
        unrealized=money(unrealized),
        equity=money(balance + unrealized),
    )
    db.session.add(row)
    return row


def take_day_end(now: datetime) -> list[int]:
    """A `day` snapshot of every enabled account that has none for this trading day yet;
    the accounts snapshotted (committed)."""
    day_start = trading_day_start(now)
    done = select(EquitySnapshot.account_id).where(
        EquitySnapshot.kind == SnapshotKind.DAY, EquitySnapshot.taken_at >= day_start
    )
    account_ids = list(
        db.session.scalars(
            select(BrokerAccount.id)
            .where(BrokerAccount.enabled.is_(True), BrokerAccount.id.not_in(done))
            .order_by(BrokerAccount.id)
        )
    )
    for account_id in account_ids:
        take(account_id, now, SnapshotKind.DAY)
    db.session.commit()
    return account_ids


def curve(
    account_id: int, since: datetime | None, limit: int
) -> list[tuple[EquitySnapshot, Decimal]]:
    """The newest `limit` snapshots since `since`, oldest first, each with its drawdown
    from the highest equity before it in that span."""
    query = select(EquitySnapshot).where(EquitySnapshot.account_id == account_id)
    if since is not None:
        query = query.where(EquitySnapshot.taken_at >= since)
    newest = list(
        db.session.scalars(
            query.order_by(EquitySnapshot.taken_at.desc(), EquitySnapshot.id.desc()).limit(limit)
        )
    )
    rows = newest[::-1]
    return list(zip(rows, drawdowns(row.equity for row in rows), strict=True))
