"""Exact numbers from untrusted input: JSON numbers and the strings TradingView renders."""

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from app.domain.errors import DomainValidationError

MAX_DIGITS = 18


def parse_decimal(value: object, field: str) -> Decimal:
    """Return `value` as a finite Decimal; floats go through their shortest repr."""
    if isinstance(value, bool) or value is None:
        raise DomainValidationError(field, "must be a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if not text or len(text) > 40:
            raise DomainValidationError(field, f"must be a number, got {value[:40]!r}")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise DomainValidationError(field, f"must be a number, got {value[:40]!r}") from None
    else:
        raise DomainValidationError(field, f"must be a number, got {type(value).__name__}")
    if not number.is_finite():
        raise DomainValidationError(field, "must be a finite number")
    if number != 0 and abs(number.adjusted()) > MAX_DIGITS:
        raise DomainValidationError(field, "is out of range")
    return number


def parse_positive_decimal(value: object, field: str) -> Decimal:
    number = parse_decimal(value, field)
    if number <= 0:
        raise DomainValidationError(field, "must be greater than zero")
    return number


def parse_whole_number(value: object, field: str) -> int:
    """Return a whole number; '2', 2 and 2.0 are accepted, 2.5 is not."""
    number = parse_decimal(value, field)
    if number != number.to_integral_value():
        raise DomainValidationError(field, "must be a whole number")
    return int(number)


def parse_quantity(value: object, field: str, cap: int) -> int:
    """Return a contract count in 1..cap."""
    quantity = parse_whole_number(value, field)
    if quantity <= 0:
        raise DomainValidationError(field, "must be at least 1")
    if quantity > cap:
        raise DomainValidationError(field, f"must be at most {cap}")
    return quantity


def shown(value: Decimal | None) -> str:
    """A decimal as a trader writes it: 6010, 0.0066005 (never 6010.000000000 or -0)."""
    if value is None:
        return "-"
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def rounded_to_total(values: Sequence[Decimal], total: Decimal, quantum: Decimal) -> list[Decimal]:
    """`values` each rounded to `quantum` (half even), the last taking what is left of
    `total`, so the parts always add up to the total exactly: the shares of a trade's P&L
    and fees among its partial closes."""
    if not values:
        return []
    head = [value.quantize(quantum, rounding=ROUND_HALF_EVEN) for value in values[:-1]]
    return [*head, total - sum(head, Decimal(0))]


def shares_by_weight(weights: Sequence[int], total: Decimal, quantum: Decimal) -> list[Decimal]:
    """`total` split in proportion to `weights` (contracts), by `rounded_to_total`."""
    whole = sum(weights)
    if not whole:
        return [Decimal(0) for _ in weights]
    return rounded_to_total([total * weight / whole for weight in weights], total, quantum)
