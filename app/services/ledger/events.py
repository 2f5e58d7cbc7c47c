"""The ledger's events: `order`, `fill`, `position` and `trade`, one payload shape each,
published only once the transaction that wrote them has committed.

A batch queues its payloads on the session (`queue`); the bus publishes them after its
commit and drops them on a rollback (records.events.publish_after_commit), so a subscriber
(the live page, notifications) never hears of a fill that was not kept, and hears of
every one that was exactly once — whichever broker it came from and whoever commits.
"""

import logging
from decimal import Decimal

from sqlalchemy.orm import Session

from app.models import Fill, Order, Position, Trade
from app.services.ledger.trades import shown
from app.services.records import events

logger = logging.getLogger(__name__)


def queue(session: Session, name: str, payload: dict) -> None:
    """Publish `payload` as `name` after the session's next commit."""
    events.publish_after_commit(session, name, payload)


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else shown(value)


def order_payload(row: Order) -> dict:
    """The same fields as an item of GET /api/orders."""
    return {
        "id": row.id,
        "client_order_id": row.client_order_id,
        "broker_order_id": row.broker_order_id,
        "account_id": row.account_id,
        "strategy_id": row.strategy_id,
        "symbol": row.symbol,
        "side": str(row.side),
        "qty": row.quantity,
        "order_type": str(row.order_type),
        "limit_price": _decimal(row.limit_price),
        "stop_price": _decimal(row.stop_price),
        "role": str(row.role),
        "status": str(row.status),
        "filled_qty": row.filled_quantity or 0,
        "avg_fill_price": _decimal(row.avg_fill_price),
        "reason": row.reason,
    }


def fill_payload(row: Fill, client_order_id: str | None) -> dict:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "order_id": row.order_id,
        "client_order_id": client_order_id,
        "broker_fill_id": row.broker_fill_id,
        "symbol": row.symbol,
        "side": str(row.side),
        "qty": row.quantity,
        "price": shown(row.price),
        "commission": _decimal(row.commission),
        "time": row.filled_at.isoformat(),
    }


def position_payload(row: Position, *, opened: bool = False) -> dict:
    """`opened`: this change opened the position (from flat, or across zero)."""
    return {
        "id": row.id,
        "account_id": row.account_id,
        "symbol": row.symbol,
        "qty": row.quantity,
        "avg_price": _decimal(row.avg_price),
        "realized_pnl": shown(row.realized_pnl),
        "strategy_id": row.strategy_id,
        "manual": row.manual,
        "opened": opened,
    }


def trade_payload(row: Trade) -> dict:
    """The same fields as an item of GET /api/trades."""
    return {
        "id": row.id,
        "account_id": row.account_id,
        "strategy_id": row.strategy_id,
        "symbol": row.symbol,
        "side": str(row.side),
        "qty": row.quantity,
        "entry_price": shown(row.entry_price),
        "exit_price": shown(row.exit_price),
        "gross_pnl": shown(row.gross_pnl),
        "commission": shown(row.commission),
        "pnl": shown(row.pnl),
        "exit_reason": str(row.exit_reason),
        "entry_time": row.entry_time.isoformat(),
        "exit_time": row.exit_time.isoformat(),
    }
