"""JSON forms of values: decimals as strings, times as ISO 8601 UTC, per DESIGN §5.4."""

from datetime import UTC, datetime
from decimal import Decimal

CENT = Decimal("0.01")


def decimal(value: Decimal | None) -> str | None:
    """A price or factor without the column's padding zeros: 5012.250000000 → "5012.25"."""
    if value is None:
        return None
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | None) -> str | None:
    """An amount with at least cents: 50000.0000 → "50000.00", 1.2345 → "1.2345"."""
    if value is None:
        return None
    return decimal(value) if value != value.quantize(CENT) else format(value.quantize(CENT), "f")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
