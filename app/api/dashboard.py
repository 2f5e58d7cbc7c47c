"""/api/dashboard: the figures behind the dashboard that are not a resource of their own —
the equity curve and its drawdown."""

from flask import Blueprint, jsonify

from app.api.params import int_arg, time_arg
from app.api.serialize import iso, money
from app.errors import InvalidInput
from app.services.ledger import equity
from app.services.setup.accounts import get_account

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

MAX_POINTS = 5000


@bp.get("/equity")
def equity_curve():
    """`?account_id=` (required), `since=`, `limit=` (newest points, at most 5000):
    snapshots oldest first, each with its drawdown from the highest equity before it."""
    account_id = int_arg("account_id")
    if account_id is None:
        raise InvalidInput("account_id is required.", {"account_id": "is required"})
    get_account(account_id)  # 404 for an unknown account
    limit = min(int_arg("limit") or MAX_POINTS, MAX_POINTS)
    points = equity.curve(account_id, time_arg("since"), limit)
    return jsonify(
        items=[
            {
                "time": iso(row.taken_at),
                "kind": row.kind,
                "trade_id": row.trade_id,
                "balance": money(row.balance),
                "realized": money(row.realized),
                "unrealized": money(row.unrealized),
                "equity": money(row.equity),
                "drawdown": money(drawdown),
            }
            for row, drawdown in points
        ],
        max_drawdown=money(max((drawdown for _, drawdown in points), default=None)),
    )
