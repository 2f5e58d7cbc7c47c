"""Query-string parameters, checked the same way on every collection."""

from datetime import UTC, datetime

from flask import request
from werkzeug.routing import IntegerConverter

from app.errors import InvalidInput


def int_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # "³" is a digit to Python
        raise InvalidInput(f"{name} must be a whole number.", {name: "must be a whole number"})
    return int(value)


def time_arg(name: str) -> datetime | None:
    """An ISO 8601 time; without a zone it is taken as UTC."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO 8601 time.", {name: "is not a time"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


MAX_ROW_ID = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """`<id:name>`: a positive row id that fits a database integer; anything else is 404."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ROW_ID, **kwargs)
