"""/api/traders: strategy × account assignments with their sizing."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from app.api.params import int_arg
from app.api.schemas import TraderCreate, TraderUpdate, parse_body
from app.api.serialize import decimal, iso, money
from app.models import Trader
from app.services.ledger.trader_pnl import TraderFigures, trader_figures
from app.services.setup import traders

bp = Blueprint("traders", __name__, url_prefix="/traders")


def trader_json(trader: Trader) -> dict:
    return {
        "id": trader.id,
        "strategy_id": trader.strategy_id,
        "strategy_name": trader.strategy.name,
        "account_id": trader.account_id,
        "account_name": trader.account.name,
        "quantity_multiplier": decimal(trader.quantity_multiplier),
        "fixed_quantity": trader.fixed_quantity,
        "enabled": trader.enabled,
        "created_at": iso(trader.created_at),
        "updated_at": iso(trader.updated_at),
    }


@bp.get("")
def list_traders():
    found = traders.list_traders(int_arg("strategy_id"), int_arg("account_id"))
    return jsonify(items=[trader_json(t) for t in found])


def figures_json(found: TraderFigures) -> dict:
    return {
        "trader_id": found.trader.id,
        "enabled": found.trader.enabled,
        "positions": [
            {
                "symbol": view.row.symbol,
                "qty": view.row.quantity,
                "avg_price": decimal(view.row.avg_price),
                "unrealized_pnl": money(view.unrealized_pnl),
            }
            for view in found.positions
        ],
        "realized_today": money(found.realized_today),
        "unrealized": money(found.unrealized),
        "pnl_today": money(found.pnl_today),
    }


@bp.get("/live")
def live_figures():
    """Each trader's open positions and today's P&L (realized since the trading day opened
    plus unrealized), for the control center's live traders."""
    found = trader_figures(traders.list_traders(), datetime.now(UTC))
    return jsonify(items=[figures_json(f) for f in found])


@bp.post("")
def create_trader():
    return jsonify(trader_json(traders.create_trader(parse_body(TraderCreate)))), 201


@bp.get("/<id:trader_id>")
def get_trader(trader_id: int):
    return jsonify(trader_json(traders.get_trader(trader_id)))


@bp.route("/<id:trader_id>", methods=["PUT", "PATCH"])
def update_trader(trader_id: int):
    traders.get_trader(trader_id)
    return jsonify(trader_json(traders.update_trader(trader_id, parse_body(TraderUpdate))))


@bp.delete("/<id:trader_id>")
def delete_trader(trader_id: int):
    traders.delete_trader(trader_id)
    return "", 204
