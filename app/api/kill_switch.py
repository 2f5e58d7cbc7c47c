"""/api/kill-switch: engage it (cancel, flatten, halt), re-arm it, read its state."""

from datetime import UTC, datetime

from flask import Blueprint, g, jsonify
from flask_login import current_user

from app.api.serialize import iso
from app.api.step_up import step_up_required
from app.services.protection import kill_switch

bp = Blueprint("kill_switch", __name__, url_prefix="/kill-switch")


def report_json(report: kill_switch.KillReport) -> dict:
    """DESIGN §5.4's answer, with the accounts that failed and why."""
    return {
        "engaged": report.engaged,
        "engaged_at": iso(report.engaged_at),
        "engaged_by": report.actor if report.engaged else None,
        "cancelled_orders": report.cancelled_orders,
        "flattened_positions": report.flattened_positions,
        "failures": [
            {"account_id": r.account_id, "account": r.account, "message": r.message}
            for r in report.failures
        ],
        "accounts": [r.to_json() for r in report.accounts],
        "released_accounts": report.released_accounts,
    }


def state_json(state: kill_switch.SwitchState) -> dict:
    return {
        "engaged": state.engaged,
        "engaged_at": iso(state.engaged_at),
        "reason": state.reason,
        "engaged_by": state.actor,
    }


def _actor() -> str:
    return f"{current_user.username} ({g.auth_method})"


@bp.get("")
def get_state():
    return jsonify(state_json(kill_switch.status()))


@bp.post("")
def engage():
    return jsonify(report_json(kill_switch.engage(datetime.now(UTC), _actor())))


@bp.delete("")
@step_up_required("re-arming the kill switch")
def disengage():
    return jsonify(report_json(kill_switch.disengage(datetime.now(UTC), _actor())))
