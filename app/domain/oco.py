"""Take-profit / stop-loss pairs: prices from exit specs, rounded toward safety, checked.

Offsets are measured from a reference price (the entry's fill, or its limit price until
it fills). Rounding to the tick grid always favours the trader's protection: a take
profit moves toward the entry (more likely to fill), a stop loss moves toward the entry
(smaller loss). A pair that makes no sense for the side is refused, and so is an exit
implausibly far from the entry: a bare number is points (DESIGN §5.2), and some services
send a price level there — a 4990-point "stop" on a 5000 contract protects nothing.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.contracts import TickRounding, is_on_tick, round_to_tick
from app.domain.errors import DomainValidationError
from app.domain.exits import ExitSpec, OffsetUnit
from app.domain.numbers import shown
from app.domain.vocabulary import Side

MAX_EXIT_DISTANCE = Decimal("0.25")  # of the reference price


@dataclass(frozen=True)
class ExitPrices:
    take_profit: Decimal | None
    stop_loss: Decimal | None


def _distance(spec: ExitSpec, reference: Decimal, tick: Decimal) -> Decimal:
    if spec.unit is OffsetUnit.TICKS:
        return spec.amount * tick
    if spec.unit is OffsetUnit.POINTS:
        return spec.amount
    return reference * spec.amount / 100


def _level(spec: ExitSpec, side: Side, reference: Decimal, tick: Decimal, profit: bool) -> Decimal:
    if spec.unit is OffsetUnit.PRICE:
        return spec.amount
    distance = _distance(spec, reference, tick)
    upward = (side is Side.BUY) == profit
    raw = reference + distance if upward else reference - distance
    # Toward the entry: below it round up, above it round down.
    return round_to_tick(raw, tick, TickRounding.DOWN if upward else TickRounding.UP)


def exit_prices(
    side: Side,
    reference: Decimal,
    tick: Decimal,
    take_profit: ExitSpec | None,
    stop_loss: ExitSpec | None,
) -> ExitPrices:
    """Prices for the exits of an entry on `side`; raises naming the exit at fault."""
    tp = _level(take_profit, side, reference, tick, True) if take_profit else None
    sl = _level(stop_loss, side, reference, tick, False) if stop_loss else None
    long = side is Side.BUY
    for field, price, beyond in (("take_profit", tp, long), ("stop_loss", sl, not long)):
        if price is None:
            continue
        if price <= 0:
            raise DomainValidationError(field, f"would be at {shown(price)}, not a price")
        if (price <= reference) if beyond else (price >= reference):
            where = "above" if beyond else "below"
            raise DomainValidationError(
                field,
                f"must be {where} the entry {shown(reference)} for a {side.value}, "
                f"got {shown(price)}",
            )
        if abs(price - reference) > reference * MAX_EXIT_DISTANCE:
            raise DomainValidationError(
                field,
                f"{shown(price)} is more than 25% away from the entry {shown(reference)}; "
                'if you meant a price level, send {"price": n}',
            )
    return ExitPrices(tp, sl)


class OcoLeg(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


def check_pair(
    side: Side, market: Decimal, tick: Decimal, take_profit: Decimal, stop_loss: Decimal
) -> ExitPrices:
    """Validate an OCO pair of price levels for a position opened by `side` (buy = long).

    The rules of a bracket's exits, with the market in place of the entry: both on the
    tick grid; for a long the stop below `market` and the take profit above it (a short
    mirrors) — anything else would fill at once or protect nothing — each within 25%.
    """
    long = side is Side.BUY
    for field, level, beyond in (
        ("take_profit_price", take_profit, long),
        ("stop_loss_price", stop_loss, not long),
    ):
        if not is_on_tick(level, tick):
            raise DomainValidationError(
                field, f"{shown(level)} is not on the {shown(tick)} tick grid"
            )
        if (level <= market) if beyond else (level >= market):
            where = "above" if beyond else "below"
            position = "long" if long else "short"
            raise DomainValidationError(
                field,
                f"must be {where} the market {shown(market)} for a {position}, got {shown(level)}",
            )
        if abs(level - market) > market * MAX_EXIT_DISTANCE:
            raise DomainValidationError(
                field,
                f"{shown(level)} is more than 25% away from the market {shown(market)}",
            )
    return ExitPrices(take_profit, stop_loss)


def touched(
    side: Side, price: Decimal, take_profit: Decimal | None, stop_loss: Decimal | None
) -> OcoLeg | None:
    """The leg a print reaches for a position opened by `side` (stop first on a gap)."""
    long = side is Side.BUY
    if stop_loss is not None and (price <= stop_loss if long else price >= stop_loss):
        return OcoLeg.STOP_LOSS
    if take_profit is not None and (price >= take_profit if long else price <= take_profit):
        return OcoLeg.TAKE_PROFIT
    return None
