"""Ledger rows: column rounding, exit reasons, closed trades and their partial closes, for
every broker alike."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select

from app.domain import positions
from app.domain.numbers import rounded_to_total, shares_by_weight, shown
from app.domain.positions import ClosedTrade
from app.domain.vocabulary import AuditCategory, ExitReason, OrderRole, Side
from app.extensions import db
from app.models import Fill, Order, Trade, TradeExit
from app.services.records import audit

logger = logging.getLogger(__name__)

PRICE_QUANTUM = Decimal("1e-9")  # the Price columns' scale
MONEY_QUANTUM = Decimal("1e-4")  # the Money columns' scale

EXIT_REASONS = {
    OrderRole.TAKE_PROFIT: ExitReason.TAKE_PROFIT,
    OrderRole.STOP_LOSS: ExitReason.STOP_LOSS,
    OrderRole.EXIT: ExitReason.SIGNAL,
    OrderRole.ENTRY: ExitReason.SIGNAL,  # an entry that closes a position is a reverse
    OrderRole.MANUAL: ExitReason.MANUAL,
    OrderRole.KILL: ExitReason.KILL_SWITCH,
}


def realized_pnl(
    account_id: int, since: datetime | None, before: datetime | None = None
) -> Decimal:
    """The net P&L of the account's trades closed in [since, before) (either end open)."""
    query = select(func.coalesce(func.sum(Trade.pnl), 0)).where(Trade.account_id == account_id)
    if since is not None:
        query = query.where(Trade.exit_time >= since)
    if before is not None:
        query = query.where(Trade.exit_time < before)
    return Decimal(db.session.scalar(query))


def price(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def exit_reason(closer: Order | None) -> ExitReason:
    """Why a round trip ended: the closing order's own `exit_reason` when whoever drove it
    set one (a trailing stop, break-even), else what its role says. No order of ours
    (placed outside DeskPilot) is a manual exit."""
    if closer is None:
        return ExitReason.MANUAL
    if closer.exit_reason is not None:
        return ExitReason(closer.exit_reason)
    return EXIT_REASONS.get(OrderRole(closer.role), ExitReason.MANUAL)


def trade_row(
    account_id: int, trade: ClosedTrade, reason: ExitReason, strategy_id: int | None
) -> Trade:
    return Trade(
        account_id=account_id,
        strategy_id=strategy_id,
        symbol=trade.symbol,
        side=trade.side,
        quantity=trade.qty,
        entry_price=price(trade.entry_price),
        exit_price=price(trade.exit_price),
        entry_time=trade.entry_time,
        exit_time=trade.exit_time,
        gross_pnl=money(trade.gross_pnl),
        commission=money(trade.commission),
        pnl=money(trade.net_pnl),
        exit_reason=reason,
    )


def record_trade(
    account_id: int, trade: ClosedTrade, closer: Order | None, strategy_id: int | None
) -> Trade:
    """Add the trades row of a closed round trip and its audit entry (the caller commits)."""
    reason = exit_reason(closer)
    row = trade_row(account_id, trade, reason, strategy_id)
    db.session.add(row)
    audit.record(
        AuditCategory.ORDER,
        f"{trade.symbol} {trade.side} {trade.qty} closed ({reason}): "
        f"net {shown(money(trade.net_pnl))}",
        data={
            "exit_order_id": trade.exit_order_id,
            "gross_pnl": shown(money(trade.gross_pnl)),
            "commission": shown(money(trade.commission)),
        },
        account_id=account_id,
        strategy_id=strategy_id,
    )
    return row


def domain_fill(row: Fill, client_order_id: str | None) -> positions.Fill:
    """A stored fill as the domain books it; a fill of no order of ours stands for itself."""
    return positions.Fill(
        fill_id=row.broker_fill_id,
        client_order_id=client_order_id or row.broker_fill_id,
        symbol=row.symbol,
        side=Side(row.side),
        qty=row.quantity,
        price=row.price,
        commission=row.commission or Decimal(0),  # fees not posted yet count as none
        time=row.filled_at,
    )


def exit_part(
    account_id: int, fill: Fill, order: Order | None, qty: int, gross_pnl: Decimal
) -> TradeExit:
    """The partial close `fill` made of `qty` contracts (the caller adds it)."""
    return TradeExit(
        account_id=account_id,
        fill=fill,
        order_id=order.id if order is not None else None,
        symbol=fill.symbol,
        quantity=qty,
        price=fill.price,
        exit_reason=exit_reason(order),
        gross_pnl=money(gross_pnl),
        exited_at=fill.filled_at,
    )


def tie_exits(trade: Trade, parts: list[TradeExit]) -> None:
    """Give a closed round trip its partial closes, oldest first; their gross P&L, each
    rounded to the column, is made to add up to the trade's exactly."""
    parts.sort(key=lambda part: part.exited_at)
    grosses = rounded_to_total([p.gross_pnl for p in parts], trade.gross_pnl, MONEY_QUANTUM)
    for part, gross in zip(parts, grosses, strict=True):
        part.trade = trade
        part.gross_pnl = gross


@dataclass(frozen=True)
class ExitShare:
    """One partial close as a trader reads it: its contracts, price and reason (`target`:
    which scale-out target, 1 for the nearest, for a take profit), and its exact part of
    the trade's gross P&L, fees (by contracts) and net P&L."""

    qty: int
    price: Decimal
    exit_reason: ExitReason
    target: int | None
    gross_pnl: Decimal
    commission: Decimal
    pnl: Decimal
    time: datetime
    order_id: int | None


def exits_of(trades: Sequence[Trade]) -> dict[int, list[ExitShare]]:
    """Each trade's partial closes, oldest first; a trade stored before they were kept is
    one exit, the whole of it."""
    parts: dict[int, list[TradeExit]] = {trade.id: [] for trade in trades}
    if parts:
        query = (
            select(TradeExit)
            .where(TradeExit.trade_id.in_(list(parts)))
            .order_by(TradeExit.exited_at, TradeExit.id)
        )
        for part in db.session.scalars(query):
            parts[part.trade_id].append(part)
    return {trade.id: _shares(trade, parts[trade.id]) for trade in trades}


def _shares(trade: Trade, parts: list[TradeExit]) -> list[ExitShare]:
    if not parts:
        return [
            ExitShare(
                trade.quantity,
                trade.exit_price,
                ExitReason(trade.exit_reason),
                None,
                trade.gross_pnl,
                trade.commission,
                trade.pnl,
                trade.exit_time,
                None,
            )
        ]
    fees = shares_by_weight([p.quantity for p in parts], trade.commission, MONEY_QUANTUM)
    targets = sorted(
        {p.order_id for p in parts if p.exit_reason == ExitReason.TAKE_PROFIT and p.order_id}
    )
    return [
        ExitShare(
            part.quantity,
            part.price,
            ExitReason(part.exit_reason),
            targets.index(part.order_id) + 1 if part.order_id in targets else None,
            part.gross_pnl,
            fee,
            part.gross_pnl - fee,
            part.exited_at,
            part.order_id,
        )
        for part, fee in zip(parts, fees, strict=True)
    ]


def recent_trades(account_id: int | None = None, limit: int = 200) -> list[Trade]:
    """The newest closed trades, of one account or all (the trades page)."""
    query = select(Trade).order_by(Trade.id.desc()).limit(limit)
    if account_id is not None:
        query = query.where(Trade.account_id == account_id)
    return list(db.session.scalars(query))
