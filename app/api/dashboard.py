"""/api/dashboard: the figures behind the dashboard that are not a resource of their own —
today's equity, P&L, trades and win rate, and the equity curve with its drawdown."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify

from app.api.params import int_arg, time_arg
from app.api.serialize import decimal, iso, money
from app.errors import InvalidInput, Unprocessable
from app.services.ledger import equity
from app.services.live import today
from app.services.setup.accounts import get_account

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

MAX_POINTS = 5000


def figures_json(found: today.Figures) -> dict:
    return {
        "equity": money(found.equity),
        "realized_today": money(found.realized_today),
        "unrealized": money(found.unrealized),
        "pnl_today": money(found.pnl_today),
        "trades_today": found.trades_today,
        "wins_today": found.wins_today,
        "win_rate_today": decimal(found.win_rate_today),
    }


@bp.get("")
def summary():
    """Today's figures of every enabled account, or of the one `?account_id=` names, and
    their sum; `win_rate_today` is a percent, null before the day's first round trip."""
    account_id = int_arg("account_id")
    account_ids = None
    if account_id is not None:
        account = get_account(account_id)  # 404 for an unknown account
        if not account.enabled:
            raise Unprocessable(
                f"Account {account.name!r} is disabled: the dashboard shows enabled accounts.",
                {"account_id": "is disabled"},
                code="account_disabled",
            )
        account_ids = [account_id]
    items = today.of_accounts(account_ids, datetime.now(UTC))
    return jsonify(
        account_id=account_id,
        **figures_json(today.total(items)),
        accounts=[
            {"account_id": f.account.id, "name": f.account.name, **figures_json(f)} for f in items
        ],
    )


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
