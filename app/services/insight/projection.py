"""A strategy's or an account's own closed trades, projected forward (domain/projection).

The trades are the ledger's round trips, net of commission. The dollars each trade put at
risk are not recorded with it yet (a trade knows its exits, not the stop it was opened
with), so under a risk mode the projection takes the average loss as one unit of risk —
the domain's stated fallback.
"""

from decimal import Decimal

from sqlalchemy import select

from app.domain.errors import DomainValidationError
from app.domain.projection import Projection, TradeResult, project
from app.domain.vocabulary import RiskMode
from app.errors import InvalidInput
from app.extensions import db
from app.models import Trade


def trade_results(account_id: int | None, strategy_id: int | None) -> list[TradeResult]:
    query = select(Trade.pnl).order_by(Trade.exit_time)
    if account_id is not None:
        query = query.where(Trade.account_id == account_id)
    if strategy_id is not None:
        query = query.where(Trade.strategy_id == strategy_id)
    return [TradeResult(pnl) for pnl in db.session.scalars(query)]


def projection_of(fields: dict) -> tuple[Projection, int]:
    """The projection the request asks for, and how many closed trades it drew from."""
    account_id, strategy_id = fields.get("account_id"), fields.get("strategy_id")
    results = trade_results(account_id, strategy_id)
    source = "strategy_id" if strategy_id is not None else "account_id"
    if not results:
        raise InvalidInput(
            "There are no closed trades to project from.", {source: "has no closed trades"}
        )
    mode = fields.get("risk_mode")
    try:
        found = project(
            results,
            fields["starting_balance"],
            fields["trades"],
            risk_mode=RiskMode(mode) if mode else None,
            runs=fields.get("runs", 2000),
            seed=fields.get("seed"),
            ruin_pct=Decimal(str(fields.get("ruin_pct", 50))),
        )
    except DomainValidationError as exc:
        if exc.field != "risk_mode":
            raise
        raise InvalidInput(f"risk_mode {exc.message}.", {"risk_mode": exc.message}) from None
    return found, len(results)
