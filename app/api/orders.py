"""/api/orders: the order history, manual orders and cancels."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request, url_for

from app.api import serialize
from app.api.params import int_arg
from app.api.schemas import ManualOrder, parse_body
from app.api.serialize import decimal, iso
from app.domain.break_even import parse_break_even
from app.domain.exits import parse_exit, parse_trailing
from app.domain.targets import parse_targets
from app.models import Order
from app.services.trading import manual

bp = Blueprint("orders", __name__, url_prefix="/orders")

PAGE_SIZE = 200


def order_json(order: Order) -> dict:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "broker_order_id": order.broker_order_id,
        "account_id": order.account_id,
        "strategy_id": order.strategy_id,
        "webhook_event_id": order.webhook_event_id,
        "symbol": order.symbol,
        "side": order.side,
        "qty": order.quantity,
        "order_type": order.order_type,
        "limit_price": decimal(order.limit_price),
        "stop_price": decimal(order.stop_price),
        "role": order.role,
        "group_id": order.group_id,
        "status": order.status,
        "filled_qty": order.filled_quantity,
        "avg_fill_price": decimal(order.avg_fill_price),
        "reject_code": order.reject_code,
        "reason": order.reason,
        "created_at": iso(order.created_at),
        "updated_at": iso(order.updated_at),
    }


@bp.get("")
def list_orders():
    found = manual.list_orders(
        int_arg("account_id"), request.args.get("status"), PAGE_SIZE, int_arg("before")
    )
    body: dict = {"items": [order_json(o) for o in found]}
    if len(found) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.orders.list_orders", before=found[-1].id, **args)
    return jsonify(body)


def _manual_order() -> dict:
    """The body of a manual order, its exits parsed."""
    data = parse_body(ManualOrder)
    if isinstance(data.get("take_profit"), list):  # scale-out targets
        data["targets"] = parse_targets(data.pop("take_profit"), "take_profit")
    for field in ("take_profit", "stop_loss"):
        if data.get(field):
            data[field] = parse_exit(data[field], field)
    if data.get("trailing_stop"):
        data["trailing_stop"] = parse_trailing(data["trailing_stop"], "trailing_stop")
    if data.get("break_even"):
        data["break_even"] = parse_break_even(data["break_even"])
    return data


@bp.post("")
def place_order():
    rows = manual.place_manual_order(_manual_order(), datetime.now(UTC))
    entry = order_json(rows[0])
    entry["exits"] = [order_json(row) for row in rows[1:]]
    return jsonify(entry), 201


@bp.post("/preview")
def preview_order():
    """Where the exits of this order would go if it were sent now (the ticket's preview)."""
    symbol, found = manual.preview_exits(_manual_order(), datetime.now(UTC))
    return jsonify(
        {"symbol": symbol, "reference_price": decimal(found.reference_price)}
        | serialize.exit_preview(found)
    )


@bp.get("/<id:order_id>")
def get_order(order_id: int):
    return jsonify(order_json(manual.get_order(order_id)))


@bp.delete("/<id:order_id>")
def cancel_order(order_id: int):
    return jsonify(order_json(manual.cancel_order(order_id)))
