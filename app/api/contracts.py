"""/api/contracts/resolve: the contract a symbol names today, so the ticket can show that
`MES1!` is MESZ6 before anything is sent."""

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from app.api.serialize import decimal
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.errors import InvalidInput

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

MAX_SYMBOL_LENGTH = 40  # as the order ticket takes it


@bp.get("/resolve")
def resolve():
    """`?symbol=` → the contract an order placed now would trade; 400 for a symbol DeskPilot
    cannot map to one contract (the same words the order would be refused with)."""
    text = (request.args.get("symbol") or "").strip()
    if not text:
        raise InvalidInput("symbol is required.", {"symbol": "is required"})
    if len(text) > MAX_SYMBOL_LENGTH:
        words = f"has at most {MAX_SYMBOL_LENGTH} characters"
        raise InvalidInput(f"symbol {words}.", {"symbol": words})
    today = datetime.now(UTC).date()
    try:
        contract = resolve_symbol(text, today)
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None
    return jsonify(
        symbol=text,
        contract=contract.code,
        root=contract.spec.root,
        name=contract.spec.name,
        tick_size=decimal(contract.spec.tick_size),
        tick_value=decimal(contract.spec.tick_value),
        last_trade=contract.maturity.last_trade.isoformat(),
        expired=contract.is_expired(today),
    )
