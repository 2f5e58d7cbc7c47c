"""/api/price-alerts: the trader's price alert rules and what fired them (DESIGN §5.4)."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from app.api.schemas import PriceAlertCreate, PriceAlertFields, parse_body
from app.api.serialize import iso
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.errors import InvalidInput
from app.services.market import price_alerts

bp = Blueprint("price_alerts", __name__, url_prefix="/price-alerts")


def _json(rule) -> dict:
    shown = price_alerts.rule_json(rule)
    return {
        **shown,
        "last_triggered_at": iso(shown["last_triggered_at"]),
        "created_at": iso(shown["created_at"]),
    }


def _contract_code(text: str) -> str:
    """The contract the rule watches: `MES1!` is resolved once, to today's front month."""
    try:
        return resolve_symbol(text, datetime.now(UTC).date()).code
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None


@bp.get("")
def list_alerts():
    return jsonify(items=[_json(rule) for rule in price_alerts.list_rules()])


@bp.post("")
def create_alert():
    """A new rule: `name`, `symbol`, `conditions` ({kind, value, [period, fast, slow,
    window_minutes]}), [`join` and|or, `timeframe`, `cooldown_seconds`,
    `max_triggers_per_day`, `one_shot`, `enabled`]."""
    fields = parse_body(PriceAlertCreate)
    rule = price_alerts.create_rule(fields, _contract_code(fields["symbol"]))
    return jsonify(_json(rule)), 201


@bp.put("/<id:rule_id>")
def update_alert(rule_id: int):
    """Change what is sent; new conditions start their crossings afresh."""
    fields = parse_body(PriceAlertFields)
    symbol = _contract_code(fields["symbol"]) if "symbol" in fields else None
    return jsonify(_json(price_alerts.update_rule(rule_id, fields, symbol)))


@bp.delete("/<id:rule_id>")
def delete_alert(rule_id: int):
    price_alerts.delete_rule(rule_id)
    return "", 204


@bp.get("/<id:rule_id>/triggers")
def alert_triggers(rule_id: int):
    """The rule's firings, newest first, with the values its conditions saw."""
    items = [
        {"time": iso(t.triggered_at), "values": t.values} for t in price_alerts.triggers(rule_id)
    ]
    return jsonify(items=items)
