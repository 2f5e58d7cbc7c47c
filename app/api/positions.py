"""/api/positions: open positions with live P&L, closing one, and closing several."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from app.api.orders import order_json
from app.api.params import int_arg
from app.api.schemas import BulkClose, parse_body
from app.api.serialize import decimal, iso, money
from app.services.ledger import positions
from app.services.trading import manual

bp = Blueprint("positions", __name__, url_prefix="/positions")


def position_json(view: positions.PositionView) -> dict:
    row = view.row
    return {
        "id": row.id,
        "account_id": row.account_id,
        "strategy_id": row.strategy_id,
        "symbol": row.symbol,
        "qty": row.quantity,
        "avg_price": decimal(row.avg_price),
        "last_price": decimal(view.last_price),
        "unrealized_pnl": money(view.unrealized_pnl),
        "realized_pnl": money(row.realized_pnl),
        "opened_at": iso(row.opened_at),
    }


@bp.get("")
def list_positions():
    views = positions.open_positions(int_arg("account_id"))
    return jsonify(items=[position_json(v) for v in views])


@bp.post("/<id:position_id>/close")
def close_position(position_id: int):
    return jsonify(order_json(manual.close_position(position_id, datetime.now(UTC))))


@bp.post("/bulk-close")
def bulk_close():
    """Each position's closing order, or its error; one failure does not stop the rest."""
    ids = parse_body(BulkClose)["position_ids"]
    items = []
    for result in manual.close_positions(ids, datetime.now(UTC)):
        item: dict = {"position_id": result.position_id, "ok": result.error is None}
        if result.order is not None:
            item["order"] = order_json(result.order)
        if result.error is not None:
            item["error"] = {"code": result.error.code, "message": result.error.message}
        items.append(item)
    return jsonify(items=items)
