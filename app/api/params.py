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


# Times a filter may name, in UTC: wide enough for any history, narrow enough that a
# bucket or a week on either side is still a time Python can hold.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9998, 12, 31, tzinfo=UTC)


def time_arg(name: str) -> datetime | None:
    """An ISO 8601 time in UTC; without a zone it is taken as UTC. A time whose offset
    moves it out of what Python can hold, or out of 1900–9998, is a 400 like any bad time."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} must be an ISO 8601 time.", {name: "is not a time"}) from None
    if not EARLIEST_TIME <= moment <= LATEST_TIME:
        message = "must be between 1900 and 9998"
        raise InvalidInput(f"{name} {message}.", {name: message})
    return moment


MAX_ROW_ID = 2**63 - 1


class RowIdConverter(IntegerConverter):
    """`<id:name>`: a positive row id that fits a database integer; anything else is 404."""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ROW_ID, **kwargs)
