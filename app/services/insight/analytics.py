"""The metrics of DESIGN §5.4 `GET /api/analytics`, over the ledger's closed trades
filtered by account, strategy, symbol root and exit time (domain/analytics).

The starting balance is the account's, or the sum of the accounts' that the trades came
from (an account without one counts as 0); a balance of 0 or less has no percentages, so
it is refused naming `account_id`. The alert's price and time are not joined to each
trade here yet: execution quality comes from the trade trace (`GET /api/trades/<id>`).
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.domain.analytics import Metrics, TradeRecord, metrics
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.errors import InvalidInput
from app.extensions import db
from app.models import BrokerAccount, Trade


def analytics_of(
    account_id: int | None,
    strategy_id: int | None,
    symbol: str | None,
    start: datetime | None,
    end: datetime | None,
) -> Metrics:
    query = select(Trade).order_by(Trade.exit_time, Trade.id)
    if account_id is not None:
        query = query.where(Trade.account_id == account_id)
    if strategy_id is not None:
        query = query.where(Trade.strategy_id == strategy_id)
    if symbol:
        query = query.where(Trade.symbol.like(f"{_root(symbol)}%"))
    if start is not None:
        query = query.where(Trade.exit_time >= start)
    if end is not None:
        query = query.where(Trade.exit_time <= end)
    rows = db.session.scalars(query).all()
    records = [_record(row) for row in rows]
    balance = _starting_balance(account_id, {row.account_id for row in rows})
    if balance <= 0:
        raise InvalidInput(
            "The analytics need a starting balance above 0 (the account's).",
            {"account_id": "has no starting balance"},
        )
    return metrics(records, balance)


def _root(symbol: str) -> str:
    """`MES1!`, `MESZ6` and `MES` name one product: its trades are `MES…`."""
    try:
        return resolve_symbol(symbol, datetime.now().date()).spec.root
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None


def _record(row: Trade) -> TradeRecord:
    return TradeRecord(
        entry_time=row.entry_time,
        exit_time=row.exit_time,
        side=row.side,
        qty=row.quantity,
        entry_price=row.entry_price,
        exit_price=row.exit_price,
        gross_pnl=row.gross_pnl,
        commission=row.commission,
        pnl=row.pnl,
        strategy_id=row.strategy_id,
        symbol=row.symbol,
    )


def _starting_balance(account_id: int | None, seen: set[int]) -> Decimal:
    ids = {account_id} if account_id is not None else seen
    if not ids:  # no trades: the accounts' own, so an empty answer is still well formed
        ids = set(db.session.scalars(select(BrokerAccount.id)))
    balances = db.session.scalars(
        select(BrokerAccount.starting_balance).where(BrokerAccount.id.in_(ids))
    )
    return sum((b or Decimal(0) for b in balances), Decimal(0))
