"""/api/analytics: what a strategy's record says (DESIGN §5.4). The projection so far;
the metrics, breakdowns and replay come with the rest of the analytics work."""

from flask import Blueprint, jsonify

from app.api.schemas import ProjectionRequest, parse_body
from app.api.serialize import decimal
from app.errors import InvalidInput
from app.services.insight.projection import projection_of

bp = Blueprint("analytics", __name__, url_prefix="/analytics")


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
