"""/api/analytics: what a strategy's record says (DESIGN §5.4): its metrics, their
breakdowns and its projection (the replay is /api/replay, the monthly review its own)."""

from flask import Blueprint, jsonify, request

from app.api.params import int_arg, time_arg
from app.api.schemas import ProjectionRequest, parse_body
from app.api.serialize import decimal, metrics_json, money
from app.errors import InvalidInput
from app.services.insight.analytics import analytics_of, breakdown
from app.services.insight.projection import projection_of

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


@bp.get("")
def summary():
    """The metrics of the closed trades that pass the filters (`account_id`,
    `strategy_id`, `symbol`, `start`, `end` on the exit time): counts and rates, money as
    decimal strings, ratios as numbers (null where undefined), the equity curve, and the
    execution quality: slippage against the alert's price (ticks, money), alert → fill
    delay and the average MAE / MFE (filled in from the bars on this read)."""
    found = analytics_of(
        int_arg("account_id"),
        int_arg("strategy_id"),
        request_symbol(),
        time_arg("start"),
        time_arg("end"),
    )
    return jsonify(metrics_json(found))


@bp.get("/breakdown")
def breakdowns():
    """The filtered trades grouped `by` day, weekday, hour, strategy or symbol: items
    `{key, trades, win_rate, net_pnl, profit_factor, expectancy, max_drawdown,
    avg_slippage_ticks, score}`; strategies and symbols ranked by score (expectancy ×
    √trades), best first."""
    items = breakdown(
        request.args.get("by") or "",
        int_arg("account_id"),
        int_arg("strategy_id"),
        request_symbol(),
        time_arg("start"),
        time_arg("end"),
    )
    amounts = ("net_pnl", "expectancy", "max_drawdown")
    return jsonify(items=[{**item, **{k: money(item[k]) for k in amounts}} for item in items])


def request_symbol() -> str | None:
    return (request.args.get("symbol") or "").strip() or None


@bp.post("/projection")
def projection():
    """A Monte Carlo bootstrap of the account's or strategy's own closed trades: balance
    percentiles per projected trade, risk of ruin and the median max drawdown; the same
    `seed` gives the same answer."""
    fields = parse_body(ProjectionRequest)
    if fields.get("account_id") is None and fields.get("strategy_id") is None:
        words = "account_id or strategy_id is required"
        raise InvalidInput(f"{words}.", {"strategy_id": words})
    found, used = projection_of(fields)
    return jsonify(
        percentiles={
            name: [decimal(balance) for balance in band] for name, band in found.percentiles.items()
        },
        risk_of_ruin=decimal(found.risk_of_ruin),
        median_max_drawdown_pct=decimal(found.median_max_drawdown_pct),
        trades_drawn_from=used,
    )
