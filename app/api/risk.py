"""/api/risk/<account_id>: an account's risk limits."""

from flask import Blueprint, jsonify

from app.api.schemas import RiskUpdate, parse_body
from app.api.serialize import iso, money
from app.models import RiskLimits
from app.services.trading import risk_limits

bp = Blueprint("risk", __name__, url_prefix="/risk")


def limits_json(limits: RiskLimits) -> dict:
    window = None
    if limits.window_start:
        window = {
            "start": limits.window_start,
            "end": limits.window_end,
            "timezone": limits.window_timezone,
        }
    return {
        "account_id": limits.account_id,
        "max_contracts_per_order": limits.max_contracts_per_order,
        "max_position": limits.max_position,
        "max_open_positions": limits.max_open_positions,
        "max_daily_loss": money(limits.max_daily_loss),
        "max_trades_per_day": limits.max_trades_per_day,
        "trading_window": window,
        "risk_mode": limits.risk_mode,
        "halted": limits.halted,
        "halted_by": limits.halted_by,
        "halt_reason": limits.halted_reason,
        "halted_at": iso(limits.halted_at),
        "updated_at": iso(limits.updated_at),
    }


@bp.get("/<id:account_id>")
def get_limits(account_id: int):
    return jsonify(limits_json(risk_limits.limits_for(account_id)))


@bp.route("/<id:account_id>", methods=["PUT", "PATCH"])
def update_limits(account_id: int):
    risk_limits.limits_for(account_id)
    return jsonify(limits_json(risk_limits.update_limits(account_id, parse_body(RiskUpdate))))
