"""/api/risk/<account_id>: an account's risk limits, its funded-account rules and their room."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from app.api.schemas import RiskUpdate, parse_body
from app.api.serialize import decimal, iso, money
from app.models import RiskLimits
from app.services.trading import guard_rails, risk_limits

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
        "max_exposure": money(limits.max_exposure),
        "max_daily_loss": money(limits.max_daily_loss),
        "max_trades_per_day": limits.max_trades_per_day,
        "trading_window": window,
        "risk_mode": limits.risk_mode,
        "trailing_drawdown": money(limits.trailing_drawdown),
        "trailing_drawdown_mode": limits.trailing_drawdown_mode,
        "trailing_stops_at_start": limits.trailing_stops_at_start,
        "daily_profit_target": money(limits.daily_profit_target),
        "profit_lock_trail": money(limits.profit_lock_trail),
        "weekly_loss_limit": money(limits.weekly_loss_limit),
        "weekly_profit_target": money(limits.weekly_profit_target),
        "consistency_pct": decimal(limits.consistency_pct),
        "loss_cooldown_minutes": limits.loss_cooldown_minutes,
        "max_consecutive_losses": limits.max_consecutive_losses,
        "safety_buffer": money(limits.safety_buffer),
        "breach_action": limits.breach_action,
        "flatten_at": limits.flatten_at,
        "flatten_before_close_minutes": limits.flatten_before_close_minutes,
        "news_blackout": limits.news_blackout,
        "session_guard": risk_limits.session_guarded(limits),
        "high_water_mark": money(limits.high_water_mark),
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


@bp.get("/<id:account_id>/room")
def rule_room(account_id: int):
    """Each funded-account rule's room left before a breach, measured now."""
    found = guard_rails.room_now(risk_limits.limits_for(account_id), datetime.now(UTC))
    return jsonify(
        items=[
            {
                "rule": room.rule,
                "unit": room.unit,
                "limit": decimal(room.limit),
                "used": decimal(room.used),
                "room_left": decimal(room.room_left),
                "breached": room.breached,
                "warning": room.warning,
                "action": "flatten" if room.flattens else "refuse",
                "detail": room.detail,
            }
            for room in found
        ]
    )
