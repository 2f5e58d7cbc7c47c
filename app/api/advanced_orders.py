"""/api/orders/trailing-stop, /oco, /targets, /advanced: exits on a position, the monitor's.

Registered under /orders beside orders.py, whose `/<id:order_id>` only matches digits,
so these literal paths never meet it.
"""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request, url_for

from app.api.orders import order_json
from app.api.params import int_arg
from app.api.schemas import OcoCreate, TargetsCreate, TrailingStopCreate, parse_body
from app.api.serialize import decimal, iso
from app.domain.exits import OffsetUnit
from app.domain.vocabulary import AdvancedKind
from app.models import AdvancedOrder, Order
from app.services.protection import advanced_orders, position_targets

bp = Blueprint("advanced_orders", __name__, url_prefix="/orders")

PAGE_SIZE = 200


def _order_ref(order: Order | None) -> dict | None:
    if order is None:
        return None
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "broker_order_id": order.broker_order_id,
        "role": order.role,
        "order_type": order.order_type,
        "qty": order.quantity,
        "limit_price": decimal(order.limit_price),
        "stop_price": decimal(order.stop_price),
        "status": order.status,
        "avg_fill_price": decimal(order.avg_fill_price),
    }


def advanced_json(row: AdvancedOrder) -> dict:
    trail = None
    if row.trail_unit is not None:
        trail = {row.trail_unit: decimal(row.trail_amount)}
        if row.activation_offset:
            trail["activation"] = row.activation_offset
    return {
        "id": row.id,
        "kind": row.kind,
        "account_id": row.account_id,
        "position_id": row.position_id,
        "strategy_id": row.strategy_id,
        "symbol": row.symbol,
        "side": row.side,
        "qty": row.quantity,
        "status": row.status,
        "reason": row.reason,
        "trail": trail,
        "activation_price": decimal(row.activation_price),
        "activated": row.activated,
        "best_price": decimal(row.best_price),
        "stop_price": decimal(row.stop_price),
        "take_profit_price": decimal(row.take_profit_price),
        "stop_loss_price": decimal(row.stop_loss_price),
        "native": row.native,
        "break_even": None
        if row.break_even_trigger is None
        else {
            "trigger_price": decimal(row.break_even_trigger),
            "stop_price": decimal(row.break_even_stop),
        },
        "orders": {
            "stop": _order_ref(row.stop_order),
            "take_profit": _order_ref(row.take_profit_order),
            "exit": _order_ref(row.exit_order),
        },
        "entry_order_id": row.entry_order_id,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "activated_at": iso(row.activated_at),
        "closed_at": iso(row.closed_at),
    }


@bp.post("/trailing-stop")
def create_trailing_stop():
    data = parse_body(TrailingStopCreate)
    unit = next(u for u in (OffsetUnit.PERCENT, OffsetUnit.POINTS, OffsetUnit.TICKS) if u in data)
    row = advanced_orders.create_trailing_stop(
        data["position_id"],
        unit,
        data[unit.value],
        data.get("activation_price"),
        datetime.now(UTC),
        data.get("break_even"),
        replace=data.get("replace", False),
    )
    return jsonify(advanced_json(row)), 201


@bp.delete("/trailing-stop/<id:advanced_id>")
def cancel_trailing_stop(advanced_id: int):
    row = advanced_orders.cancel_advanced(advanced_id, datetime.now(UTC), AdvancedKind.TRAILING)
    return jsonify(advanced_json(row))


@bp.post("/oco")
def create_oco():
    data = parse_body(OcoCreate)
    row = advanced_orders.create_oco(
        data["position_id"],
        data["take_profit_price"],
        data["stop_loss_price"],
        data.get("qty"),
        datetime.now(UTC),
        data.get("break_even"),
        replace=data.get("replace", False),
    )
    return jsonify(advanced_json(row)), 201


@bp.post("/targets")
def create_targets():
    data = parse_body(TargetsCreate)
    placed = position_targets.create_targets(
        data["position_id"],
        data["targets"],
        data.get("stop_loss_price"),
        data.get("break_even"),
        datetime.now(UTC),
        replace=data.get("replace", False),
    )
    return jsonify({"orders": [order_json(row) for row in placed]}), 201


@bp.delete("/oco/<id:advanced_id>")
def cancel_oco(advanced_id: int):
    row = advanced_orders.cancel_advanced(advanced_id, datetime.now(UTC), AdvancedKind.OCO)
    return jsonify(advanced_json(row))


@bp.get("/advanced")
def list_advanced():
    found = advanced_orders.list_advanced(
        int_arg("account_id"),
        request.args.get("status"),
        request.args.get("kind"),
        PAGE_SIZE,
        int_arg("before"),
    )
    body: dict = {"items": [advanced_json(row) for row in found]}
    if len(found) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.advanced_orders.list_advanced", before=found[-1].id, **args)
    return jsonify(body)


@bp.get("/advanced/<id:advanced_id>")
def get_advanced(advanced_id: int):
    return jsonify(advanced_json(advanced_orders.get_advanced(advanced_id)))
