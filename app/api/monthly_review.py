"""/api/analytics/monthly-review: a month's figures per strategy against the month before
(issue 16 item 7). Its own blueprint under the analytics prefix, beside app/api/analytics."""

from flask import Blueprint, jsonify, request

from app.api.params import int_arg
from app.api.serialize import decimal, iso, money
from app.domain.monthly_review import Comparison, Month, Review
from app.models import Trade
from app.services.insight.monthly_review import monthly_review

bp = Blueprint("monthly_review", __name__, url_prefix="/analytics")

MONEY_FIGURES = frozenset({"net_pnl", "expectancy", "max_drawdown"})


@bp.get("/monthly-review")
def review():
    """The `month` (YYYY-MM, CME trading days named in it) against the month before: for
    `strategy_id`, or all strategies together and then each one that traded or changed.
    Each review has its figures (`trades`, `win_rate`, `net_pnl`, `profit_factor`,
    `expectancy`, `max_drawdown`, `avg_slippage_ticks`) this month, last month and the
    change, with a verdict (better/worse/same); the best and worst trades; the settings'
    changes from the audit log; and the shifts worth a sentence."""
    month = Month.parse(request.args.get("month"))
    reviews = monthly_review(month, int_arg("strategy_id"))
    return jsonify(
        month=str(month),
        previous_month=str(month.previous()),
        start=iso(month.opens()),
        end=iso(month.closes()),
        reviews=[review_json(one) for one in reviews],
    )


def review_json(one: Review) -> dict:
    return {
        "strategy_id": one.strategy_id,
        "name": one.name,
        "figures": [_comparison_json(item) for item in one.comparisons],
        "best_trade": _trade_json(one.best),
        "worst_trade": _trade_json(one.worst),
        "settings_changes": [
            {
                "time": iso(change.at),
                "message": change.message,
                "strategy_id": change.strategy_id,
                "fields": change.fields,
            }
            for change in one.changes
        ],
        "shifts": [
            {"figure": shift.figure, "good": shift.good, "text": shift.text} for shift in one.shifts
        ],
    }


def _comparison_json(item: Comparison) -> dict:
    key = item.figure.key
    shown = money if key in MONEY_FIGURES else decimal
    return {
        "figure": key,
        "label": item.figure.label,
        "current": _value(item.current, shown),
        "previous": _value(item.previous, shown),
        "change": _value(item.change, shown),
        "verdict": item.verdict.value if item.verdict else None,
    }


def _value(value, shown):
    """Counts and float ratios as JSON numbers; money and ticks as decimal strings."""
    if value is None or isinstance(value, int | float):
        return value
    return shown(value)


def _trade_json(trade: Trade | None) -> dict | None:
    if trade is None:
        return None
    return {
        "id": trade.id,
        "symbol": trade.symbol,
        "side": str(trade.side),
        "qty": trade.quantity,
        "entry_price": decimal(trade.entry_price),
        "exit_price": decimal(trade.exit_price),
        "entry_time": iso(trade.entry_time),
        "exit_time": iso(trade.exit_time),
        "pnl": money(trade.pnl),
        "exit_reason": str(trade.exit_reason),
    }
