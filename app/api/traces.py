"""JSON forms of an alert and of a trace's parts, shared by /api/webhook-events and
/api/trades/<id> (and the pages that show a trace)."""

from app.api.orders import order_json
from app.api.serialize import decimal, iso, money
from app.domain.slippage import Slippage
from app.models import Order, WebhookEvent
from app.services.ledger.trace import AlertStep, Decision, FillStep, OrderStep, Stage


def event_json(event: WebhookEvent, orders: list[Order], with_body: bool = False) -> dict:
    data = {
        "id": event.id,
        "strategy_id": event.strategy_id,
        "received_at": iso(event.received_at),
        "status": event.status,
        "reason": event.reason,
        "signal": event.signal,
        "orders": [order_json(order) for order in orders],
        "timings_ms": event.timings_ms,
        "source_ip": event.source_ip,
        "content_type": event.content_type,
    }
    if with_body:
        data["raw_body"] = event.raw_body
    return data


def stage_json(stage: Stage) -> dict:
    return {"stage": stage.name, "at": iso(stage.at), "ms": stage.ms}


def decision_json(decision: Decision) -> dict:
    return {
        "trader_id": decision.trader_id,
        "account_id": decision.account_id,
        "decision": "passed" if decision.passed else "refused",
        "code": decision.code,
        "reason": decision.reason,
        "stages": [stage_json(stage) for stage in decision.stages],
    }


def alert_json(step: AlertStep) -> dict:
    """The alert as stored (its body redacted then), the signal read from it (`charted`
    in it when a symbol mapping applied) and each trader's decision."""
    return event_json(step.event, step.orders, with_body=True) | {
        "decisions": [decision_json(decision) for decision in step.decisions],
    }


def slippage_json(found: Slippage | None) -> dict:
    """`slippage_ticks` per contract and `slippage` in money, positive when worse than the
    alert's price."""
    if found is None:
        return {"slippage_ticks": None, "slippage": None}
    return {"slippage_ticks": decimal(found.ticks), "slippage": money(found.amount)}


def fill_step_json(step: FillStep) -> dict:
    fill = step.fill
    data = {
        "id": fill.id,
        "order_id": fill.order_id,
        "broker_fill_id": fill.broker_fill_id,
        "account_id": fill.account_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "qty": fill.quantity,
        "price": decimal(fill.price),
        "commission": money(fill.commission),
        "filled_at": iso(fill.filled_at),
        "alert_price": decimal(step.alert_price),
        **slippage_json(step.slippage),
    }
    if step.part is not None:
        data["part"] = step.part
    return data


def order_step_json(step: OrderStep) -> dict:
    return order_json(step.order) | {
        "trader_id": step.order.trader_id,
        "fill_ids": [fill.fill.id for fill in step.fills],
    }
