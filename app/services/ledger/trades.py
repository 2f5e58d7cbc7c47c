"""Ledger rows: column rounding, exit reasons and closed trades, for every broker alike."""

import logging
from decimal import ROUND_HALF_EVEN, Decimal

from app.domain import positions
from app.domain.numbers import shown
from app.domain.positions import ClosedTrade
from app.domain.vocabulary import AuditCategory, ExitReason, OrderRole, Side
from app.extensions import db
from app.models import Fill, Order, Trade
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
