"""/api/webhook-events: every alert received, with its signal, orders and stage timings."""

from flask import Blueprint, jsonify, request, url_for
from sqlalchemy import select

from app.api.params import int_arg, time_arg
from app.api.traces import alert_json, event_json, fill_step_json, order_step_json, slippage_json
from app.api.trades import trade_json
from app.domain.vocabulary import EventStatus
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import Order, WebhookEvent
from app.services.ledger import trace as ledger_trace

bp = Blueprint("webhook_events", __name__, url_prefix="/webhook-events")

PAGE_SIZE = 100


def _orders_of(event_ids: list[int]) -> dict[int, list[Order]]:
    grouped: dict[int, list[Order]] = {event_id: [] for event_id in event_ids}
    if event_ids:
        rows = db.session.scalars(
            select(Order).where(Order.webhook_event_id.in_(event_ids)).order_by(Order.id)
        )
        for row in rows:
            grouped[row.webhook_event_id].append(row)
    return grouped


@bp.get("")
def list_events():
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(PAGE_SIZE)
    strategy_id, before, since = int_arg("strategy_id"), int_arg("before"), time_arg("since")
    status = request.args.get("status")
    if status:
        if status not in {s.value for s in EventStatus}:
            raise InvalidInput("Unknown event status.", {"status": "is not an event status"})
        query = query.where(WebhookEvent.status == status)
    if strategy_id is not None:
        query = query.where(WebhookEvent.strategy_id == strategy_id)
    if since is not None:
        query = query.where(WebhookEvent.received_at >= since)
    if before is not None:
        query = query.where(WebhookEvent.id < before)
    found = list(db.session.scalars(query))
    orders = _orders_of([e.id for e in found])
    body: dict = {"items": [event_json(e, orders[e.id]) for e in found]}
    if len(found) == PAGE_SIZE:
        args = {k: v for k, v in request.args.items() if k != "before"}
        body["next"] = url_for("api.webhook_events.list_events", before=found[-1].id, **args)
    return jsonify(body)


@bp.get("/<id:event_id>")
def get_event(event_id: int):
    event = db.session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFound(f"No webhook event with id {event_id}.")
    return jsonify(event_json(event, _orders_of([event.id])[event.id], with_body=True))


def alert_trace_json(trace: ledger_trace.AlertTrace) -> dict:
    """The alert and where it led: orders, fills and the trades they opened or closed."""
    return {
        "alert": alert_json(trace.alert),
        "orders": [order_step_json(step) for step in trace.orders],
        "fills": [fill_step_json(step) for step in trace.fills],
        "trades": [trade_json(t, trace.exits[t.id]) for t in trace.trades],
    } | slippage_json(trace.slippage)


@bp.get("/<id:event_id>/trace")
def get_trace(event_id: int):
    trace = ledger_trace.alert_trace(event_id)
    if trace is None:
        raise NotFound(f"No webhook event with id {event_id}.")
    return jsonify(alert_trace_json(trace))
