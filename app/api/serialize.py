"""JSON forms of values: decimals as strings, times as ISO 8601 UTC, per DESIGN §5.4."""

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.exit_preview import ExitPreview

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


def exit_preview(found: ExitPreview) -> dict:
    """Where an entry's exits would go (the ticket's and the strategy form's preview)."""
    break_even = None
    if found.break_even_trigger is not None:
        break_even = {
            "trigger_price": decimal(found.break_even_trigger),
            "stop_price": decimal(found.break_even_stop),
        }
    return {
        "take_profit_price": decimal(found.take_profit_price),
        "stop_loss_price": decimal(found.stop_loss_price),
        "targets": [{"qty": t.qty, "price": decimal(t.price)} for t in found.targets],
        "merged": list(found.merged),
        "trailing_stop_price": decimal(found.trailing_stop_price),
        "break_even": break_even,
    }
