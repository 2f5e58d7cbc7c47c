"""/api/analytics: what a strategy's record says (DESIGN §5.4): its metrics and its
projection (the breakdowns and the replay come with the rest of the analytics work)."""

from flask import Blueprint, jsonify, request

from app.api.params import int_arg, time_arg
from app.api.schemas import ProjectionRequest, parse_body
from app.api.serialize import decimal, iso
from app.errors import InvalidInput
from app.services.insight.analytics import analytics_of, breakdown
from app.services.insight.projection import projection_of

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


@bp.get("")
def summary():
    """The metrics of the closed trades that pass the filters (`account_id`,
    `strategy_id`, `symbol`, `start`, `end` on the exit time): counts and rates, money as
    decimal strings, ratios as numbers (null where undefined), the equity curve."""
    found = analytics_of(
        int_arg("account_id"),
        int_arg("strategy_id"),
        request_symbol(),
        time_arg("start"),
        time_arg("end"),
    )
    drawdown = found.drawdown
    return jsonify(
        trades=found.trades,
        wins=found.wins,
        losses=found.losses,
        win_rate=found.win_rate,
        avg_win=decimal(found.avg_win),
        avg_loss=decimal(found.avg_loss),
        payoff_ratio=found.payoff_ratio,
        profit_factor=found.profit_factor,
        expectancy=decimal(found.expectancy),
        gross_pnl=decimal(found.gross_pnl),
        commission=decimal(found.commission),
        net_pnl=decimal(found.net_pnl),
        max_drawdown=decimal(found.max_drawdown),
        max_drawdown_pct=found.max_drawdown_pct,
        max_drawdown_duration_seconds=drawdown.duration.total_seconds() if drawdown else None,
        sharpe=found.sharpe,
        sortino=found.sortino,
        calmar=found.calmar,
        annual_return_pct=found.annual_return_pct,
        longest_win_streak=found.longest_win_streak,
        longest_loss_streak=found.longest_loss_streak,
        avg_hold_seconds=found.avg_hold_seconds,
        avg_slippage_ticks=found.execution.avg_slippage_ticks,
        equity_curve=[
            [iso(time), decimal(equity)]
            for time, equity in zip(found.curve_times, found.curve_equity, strict=True)
        ],
    )


@bp.get("/breakdown")
def breakdowns():
    """The filtered trades grouped `by` day, weekday, hour, strategy or symbol: items
    `{key, trades, win_rate, net_pnl, profit_factor}`."""
    items = breakdown(
        request.args.get("by") or "",
        int_arg("account_id"),
        int_arg("strategy_id"),
        request_symbol(),
        time_arg("start"),
        time_arg("end"),
    )
    return jsonify(items=[{**item, "net_pnl": decimal(item["net_pnl"])} for item in items])


def request_symbol() -> str | None:
    return (request.args.get("symbol") or "").strip() or None


@bp.post("/projection")
def projection():
    """A Monte Carlo bootstrap of the account's or strategy's own closed trades: balance
    percentiles per projected trade, risk of ruin and the median max drawdown; the same
    `seed` gives the same answer."""
    fields = parse_body(ProjectionRequest)
    if "account_id" not in fields and "strategy_id" not in fields:
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
