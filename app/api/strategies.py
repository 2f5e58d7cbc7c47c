"""/api/strategies: strategies with their webhook token, URL and a ready alert message."""

from datetime import UTC, datetime

from flask import Blueprint, current_app, g, jsonify, request

from app.api import serialize, step_up
from app.api.schemas import StrategyCreate, StrategyUpdate, parse_body
from app.api.serialize import decimal, iso
from app.api.step_up import step_up_required
from app.models import Strategy
from app.services.setup import strategies
from app.services.trading import strategy_preview

bp = Blueprint("strategies", __name__, url_prefix="/strategies")

WEBHOOK_PATH = "/webhook/{token}"  # DESIGN §5.2


def webhook_url(token: str) -> str:
    """The URL to paste into TradingView; PUBLIC_URL wins over the address the page used."""
    path = WEBHOOK_PATH.format(token=token)
    base = current_app.config.get("PUBLIC_URL") or request.host_url
    return base.rstrip("/") + path


def strategy_json(strategy: Strategy) -> dict:
    token = strategies.webhook_token(strategy)
    return {
        "id": strategy.id,
        "name": strategy.name,
        "webhook_token": token,
        "webhook_url": webhook_url(token),
        "has_passphrase": strategy.passphrase_encrypted is not None,
        "signed": strategy.signing_secret_encrypted is not None,
        "symbol": strategy.symbol,
        "quantity": strategy.quantity,
        "order_type": strategy.order_type,
        "take_profit": strategy.take_profit,
        "stop_loss": strategy.stop_loss,
        "trailing_stop": strategy.trailing_stop,
        "break_even": strategy.break_even,
        "max_alert_age_seconds": strategy.max_alert_age_seconds,
        "mode": strategy.mode,
        "enabled": strategy.enabled,
        "require_approval": strategy.require_approval,
        "trade_symbol": strategy.trade_symbol,
        "quantity_ratio": decimal(strategy.quantity_ratio),
        "entry_timeout_seconds": strategy.entry_timeout_seconds,
        "exit_after_minutes": strategy.exit_after_minutes,
        "expect_alert_every_minutes": strategy.expect_alert_every_minutes,
        "description": strategy.description,
        "alert_message": strategies.example_alert_message(strategy),
        "created_at": iso(strategy.created_at),
        "updated_at": iso(strategy.updated_at),
    }


@bp.get("")
def list_strategies():
    return jsonify(items=[strategy_json(s) for s in strategies.list_strategies()])


@bp.post("")
def create_strategy():
    strategy = strategies.create_strategy(parse_body(StrategyCreate))
    return jsonify(strategy_json(strategy)), 201


@bp.get("/<id:strategy_id>")
def get_strategy(strategy_id: int):
    return jsonify(strategy_json(strategies.get_strategy(strategy_id)))


@bp.route("/<id:strategy_id>", methods=["PUT", "PATCH"])
def update_strategy(strategy_id: int):
    """A changed passphrase is a webhook credential: with two-factor on, it needs a
    step-up like a rotated token."""
    strategies.get_strategy(strategy_id)
    changes = parse_body(StrategyUpdate)
    if "passphrase" in changes:
        step_up.require("changing a webhook passphrase")
    return jsonify(strategy_json(strategies.update_strategy(strategy_id, changes)))


@bp.post("/<id:strategy_id>/rotate-token")
@step_up_required("rotating a webhook token")
def rotate_token(strategy_id: int):
    return jsonify(strategy_json(strategies.rotate_token(strategy_id)))


@bp.post("/<id:strategy_id>/signing-secret")
@step_up_required("rotating a signing secret")
def set_signing_secret(strategy_id: int):
    """Create or rotate the secret senders sign with; the only answer that ever holds it."""
    _, secret = strategies.set_signing_secret(strategy_id)
    g.no_store = True  # no cache, proxy's or browser's, keeps a copy
    return jsonify(signing_secret=secret), 201


@bp.delete("/<id:strategy_id>/signing-secret")
@step_up_required("removing a signing secret")
def remove_signing_secret(strategy_id: int):
    return jsonify(strategy_json(strategies.remove_signing_secret(strategy_id)))


@bp.delete("/<id:strategy_id>")
def delete_strategy(strategy_id: int):
    strategies.delete_strategy(strategy_id)
    return "", 204


@bp.post("/preview")
def preview_defaults():
    """Where a strategy's default exits would go from the live price, for a buy and a sell
    (the strategies page's preview): a side that makes no sense carries its error."""
    symbol, reference, sides = strategy_preview.preview_defaults(
        parse_body(StrategyUpdate), datetime.now(UTC)
    )
    body: dict = {"symbol": symbol, "reference_price": decimal(reference)}
    for side in sides:
        if side.problem is not None:
            problem = side.problem
            body[side.side.value] = {
                "error": {
                    "code": "invalid_input",
                    "message": f"{problem.field}: {problem.message}",
                    "fields": {problem.field: problem.message},
                }
            }
            continue
        body[side.side.value] = serialize.exit_preview(side.exits)
    return jsonify(body)
