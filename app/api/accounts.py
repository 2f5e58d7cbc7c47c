"""/api/accounts: paper and Tradovate accounts (credentials go in, never come out)."""

from datetime import UTC, datetime
from decimal import Decimal

from flask import Blueprint, jsonify

from app.api import step_up
from app.api.risk import limits_json
from app.api.schemas import AccountCreate, AccountUpdate, HaltRequest, parse_body
from app.api.serialize import iso, money
from app.models import BrokerAccount
from app.services.protection import halts, session_watch
from app.services.setup import accounts, broker_check
from app.services.setup import broker_limits as broker_limits_service
from app.services.trading import risk_limits

bp = Blueprint("accounts", __name__, url_prefix="/accounts")


def account_json(account: BrokerAccount) -> dict:
    limits = account.risk_limits
    return {
        "id": account.id,
        "name": account.name,
        "broker": account.broker,
        "environment": account.environment,
        "broker_account_id": account.broker_account_id,
        "enabled": account.enabled,
        "has_credentials": account.credentials_encrypted is not None,
        "starting_balance": money(account.starting_balance),
        "cash_balance": money(account.cash_balance),
        "halted": bool(limits and limits.halted),
        "halted_by": limits.halted_by if limits and limits.halted else None,
        "halt_reason": limits.halted_reason if limits and limits.halted else None,
        "halt_liftable": bool(limits and halts.liftable(limits)),
        "created_at": iso(account.created_at),
        "updated_at": iso(account.updated_at),
    }


@bp.get("")
def list_accounts():
    return jsonify(items=[account_json(a) for a in accounts.list_accounts()])


@bp.post("")
def create_account():
    body = parse_body(AccountCreate)
    if body.get("environment") == "live":
        step_up.require("adding a live account")
    account = accounts.create_account(body)
    return jsonify(account_json(account)), 201


@bp.get("/<id:account_id>")
def get_account(account_id: int):
    return jsonify(account_json(accounts.get_account(account_id)))


@bp.route("/<id:account_id>", methods=["PUT", "PATCH"])
def update_account(account_id: int):
    accounts.get_account(account_id)
    changes = parse_body(AccountUpdate)
    if changes.get("credentials"):
        step_up.require("changing an account's credentials")
    if changes.get("environment") == "live":
        step_up.require("making an account live")
    account = accounts.update_account(account_id, changes)
    return jsonify(account_json(account))


@bp.delete("/<id:account_id>")
def delete_account(account_id: int):
    accounts.delete_account(account_id)
    return "", 204


@bp.post("/<id:account_id>/test")
def test_connection(account_id: int):
    """Log in with the stored credentials and list the broker's accounts; 200 either way."""
    return jsonify(broker_check.check_connection(account_id).to_json())


@bp.get("/<id:account_id>/broker-limits")
def broker_limits(account_id: int):
    """The broker's own limits on the account (Tradovate's auto-liquidation settings) and
    the funded-account rules they suggest; `{}` when the broker sets or says none."""
    limits, suggested = broker_limits_service.read(account_id)
    if limits is None:
        return jsonify({})
    return jsonify(
        {
            "daily_loss": money(limits.daily_loss),
            "daily_profit": money(limits.daily_profit),
            "weekly_loss": money(limits.weekly_loss),
            "weekly_profit": money(limits.weekly_profit),
            "trailing_drawdown": money(limits.trailing_drawdown),
            "trailing_drawdown_mode": limits.trailing_drawdown_mode,
            "trailing_drawdown_limit": money(limits.trailing_drawdown_limit),
            "flatten_at": iso(limits.flatten_at),
            "changes_locked": limits.changes_locked,
            "suggested_rules": {
                name: money(value) if isinstance(value, Decimal) else value
                for name, value in suggested.items()
            },
        }
    )


@bp.post("/<id:account_id>/done-for-day")
def done_for_day(account_id: int):
    """Cancel, flatten and refuse entries until the next trading day opens; the limits
    and what the sweep did."""
    result = session_watch.done_for_day(account_id, datetime.now(UTC))
    limits = limits_json(risk_limits.limits_for(account_id))
    return jsonify(limits | {"sweep": result.to_json()})


@bp.post("/<id:account_id>/halt")
def halt(account_id: int):
    """Halt the account by hand; 409 already_halted leaves a halt in place as it is."""
    reason = parse_body(HaltRequest, optional=True).get("reason")
    return jsonify(limits_json(halts.halt_account(account_id, reason, datetime.now(UTC))))


@bp.delete("/<id:account_id>/halt")
def lift_halt(account_id: int):
    """Lift a manual or daily-loss halt; 409 names what lifts any other."""
    reason = parse_body(HaltRequest, optional=True).get("reason")
    return jsonify(limits_json(halts.lift_halt(account_id, reason, datetime.now(UTC))))
