"""Where a strategy's default exits would go from the live price, for a buy and a sell.

The strategies page shows this as the trader edits a strategy, by the rules its alerts
will meet (domain.exit_preview): a strategy has no side, so each side is priced, and a
side whose exits make no sense says why by field. Nothing is sent or stored.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app.brokers.errors import BrokerError
from app.domain.break_even import parse_break_even
from app.domain.contracts import UnknownSymbol, resolve_symbol
from app.domain.errors import DomainValidationError
from app.domain.exit_preview import ExitPreview, preview_exits
from app.domain.exits import parse_exit, parse_trailing
from app.domain.targets import parse_targets
from app.domain.vocabulary import Side
from app.errors import InvalidInput, Unprocessable
from app.extensions import db
from app.models import BrokerAccount
from app.services.market import prices
from app.services.setup.access import broker_for
from app.services.trading import orders


@dataclass(frozen=True)
class SidePreview:
    side: Side
    exits: ExitPreview | None  # None when `problem` says why
    problem: DomainValidationError | None = None


def preview_defaults(values: dict, now: datetime) -> tuple[str, Decimal, list[SidePreview]]:
    """The front-month contract, the price it starts from, and each side's exits for the
    strategy's default symbol, quantity and exits (`values` as a strategy body holds them);
    the contract it trades when it maps its alerts to another."""
    symbol = values.get("trade_symbol") or values.get("symbol")
    if not symbol:
        message = "give the default symbol to see its exits' prices"
        raise InvalidInput(f"symbol: {message}.", {"symbol": message})
    try:
        contract = resolve_symbol(symbol, now.date())
    except UnknownSymbol as exc:
        raise Unprocessable(exc.message, {"symbol": exc.message}, code="unknown_symbol") from None
    reference = _live_price(contract.code)
    if reference is None:
        message = f"no price known for {contract.code} yet"
        raise Unprocessable(message, {"symbol": message}, code="no_price")
    exits = _exits(values)
    sides = []
    for side in (Side.BUY, Side.SELL):
        try:
            found = preview_exits(
                side,
                reference,
                contract.spec.tick_size,
                values.get("quantity") or 1,
                market=values.get("order_type", "market") == "market",
                **exits,
            )
            sides.append(SidePreview(side, found))
        except DomainValidationError as exc:
            sides.append(SidePreview(side, None, exc))
    return contract.code, reference, sides


def _exits(values: dict) -> dict:
    """The body's exits (as a strategy stores them) as the domain reads them."""
    take_profit = values.get("take_profit")
    return {
        "take_profit": parse_exit(take_profit, "take_profit")
        if isinstance(take_profit, dict)
        else None,
        "targets": parse_targets(take_profit, "take_profit")
        if isinstance(take_profit, list)
        else None,
        "stop_loss": parse_exit(values["stop_loss"], "stop_loss")
        if values.get("stop_loss")
        else None,
        "trailing": parse_trailing(values["trailing_stop"], "trailing_stop")
        if values.get("trailing_stop")
        else None,
        "break_even": parse_break_even(values["break_even"]) if values.get("break_even") else None,
    }


def _live_price(code: str) -> Decimal | None:
    """The last price heard for `code`; else the first enabled account's broker is asked
    (and keeps it coming, as a ticket for it would)."""
    quote = prices.last(code)
    if quote is not None:
        return quote.price
    account = db.session.scalar(
        select(BrokerAccount).where(BrokerAccount.enabled).order_by(BrokerAccount.id).limit(1)
    )
    if account is None:
        return None
    try:
        broker = broker_for(account)
        broker.subscribe_quotes(code)
        return orders.last_price(broker, code)
    except BrokerError:  # no price to show: the page says so
        return None
