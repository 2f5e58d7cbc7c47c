"""/api/bars: the bars DeskPilot kept, in one of five chart styles, and the import of bar
history (DESIGN §5.4)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import Blueprint, jsonify, request

from app.api.introspect import request_body
from app.api.params import time_arg
from app.api.serialize import decimal, iso
from app.domain import chart_styles
from app.domain.bar_building import PERIOD_SECONDS, period_start
from app.domain.bars import Bar
from app.domain.contracts import Contract, UnknownSymbol, resolve_symbol
from app.domain.errors import DomainValidationError
from app.domain.trading_day import trading_day_of
from app.domain.vocabulary import BarSource, Timeframe
from app.errors import InvalidInput
from app.services.market import bars

bp = Blueprint("bars", __name__, url_prefix="/bars")

STYLES = ("candles", "heikin-ashi", "renko", "kagi", "point-and-figure")
DEFAULT_BARS = 300  # shown when no start is given
# The longest span one request reads, per timeframe: a year of minutes is half a million
# rows; a chart of it wants a longer timeframe.
MAX_SPAN = {
    Timeframe.M1: timedelta(days=31),
    Timeframe.M5: timedelta(days=93),
    Timeframe.M15: timedelta(days=186),
    Timeframe.H1: timedelta(days=400),
    Timeframe.D1: timedelta(days=3660),
}
MAX_IMPORT_ROWS = 50_000


@bp.get("")
def read_bars():
    """Bars of `symbol` (continuous `MES1!` or a contract) on `timeframe` from `start` to
    `end` (default: the last 300 bars), drawn as `style`: candles and heikin-ashi answer
    OHLCV items; renko `{time, open, close, direction}` (`box`, or the ATR's box);
    kagi `{time, price, thickness}` (`reversal`, a price or a percent like `2%`);
    point-and-figure columns `{direction, low, high, boxes}` (`box`, `reversal` boxes)."""
    contract = _contract(request.args.get("symbol"))
    timeframe = _timeframe(request.args.get("timeframe") or "1m")
    style = request.args.get("style") or "candles"
    if style not in STYLES:
        raise InvalidInput(f"style must be one of {', '.join(STYLES)}.", {"style": "is unknown"})
    end = time_arg("end") or datetime.now(UTC)
    start = time_arg("start") or end - _length(timeframe) * DEFAULT_BARS
    if start > end:
        raise InvalidInput("start must be before end.", {"start": "is after end"})
    if end - start > MAX_SPAN[timeframe]:
        words = f"spans more than {MAX_SPAN[timeframe].days} days for {timeframe.value} bars"
        raise InvalidInput(f"The range {words}.", {"start": words})
    found = bars.read(contract.code, timeframe, start, end)
    items, stated = _styled(found, style, contract.spec.tick_size)
    return jsonify(
        symbol=contract.code, timeframe=timeframe.value, style=style, **stated, items=items
    )


def _styled(found: list[Bar], style: str, tick: Decimal) -> tuple[list[dict], dict]:
    """The style's items as JSON, and what the style used (its box, its reversal)."""
    if style == "candles":
        return [_candle(bar) for bar in found], {}
    if style == "heikin-ashi":
        return [_candle(item) for item in chart_styles.heikin_ashi(found, tick)], {}
    if style == "renko":
        box = _decimal_arg("box", required=False)
        made = chart_styles.renko(found, tick, box)
        bricks = [
            {**brick, "time": iso(brick["time"]), "open": decimal(brick["open"]),
             "close": decimal(brick["close"]), "direction": str(brick["direction"])}
            for brick in made.bricks
        ]  # fmt: skip
        return bricks, {"box": decimal(made.box)}
    if style == "kagi":
        text = (request.args.get("reversal") or "").strip()
        percent = text.endswith("%")
        reversal = _decimal_text(text.removesuffix("%"), "reversal")
        points = chart_styles.kagi(found, tick, reversal, percent=percent)
        items = [
            {"time": iso(p["time"]), "price": decimal(p["price"]), "thickness": str(p["thickness"])}
            for p in points
        ]
        return items, {"reversal": text}
    box = _decimal_arg("box", required=True)
    reversal = _int_arg("reversal", default=3)
    columns = chart_styles.point_and_figure(found, tick, box, reversal)
    items = [
        {"direction": str(c["direction"]), "low": decimal(c["low"]), "high": decimal(c["high"]),
         "boxes": c["boxes"]}
        for c in columns
    ]  # fmt: skip
    return items, {"box": decimal(box), "reversal": reversal}


def _candle(bar) -> dict:
    get = bar.get if isinstance(bar, dict) else lambda name: getattr(bar, name)
    return {
        "time": iso(get("time")),
        "open": decimal(get("open")),
        "high": decimal(get("high")),
        "low": decimal(get("low")),
        "close": decimal(get("close")),
        "volume": get("volume"),
    }


@bp.post("/import")
@request_body(
    {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "symbol": {"type": "string"},
                    "timeframe": {"type": "string", "enum": [t.value for t in Timeframe]},
                    "items": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    }
)
def import_bars():
    """Bar history: `symbol` and `timeframe` (query, or the JSON body's fields) and rows
    `time,open,high,low,close,volume` as CSV (a header line is optional) or JSON `items`.
    Every row is checked before any is kept: a bad one refuses the whole import (400,
    the row and field named). A row whose time repeats an earlier one of the same
    import is skipped; a stored bar of the same start is replaced."""
    document = request.get_json(silent=True) if request.is_json else None
    if request.is_json and not isinstance(document, dict):
        raise InvalidInput("The JSON body must be an object with items.", code="invalid_json")
    fields = document or {}
    contract = _contract(fields.get("symbol") or request.args.get("symbol"))
    timeframe = _timeframe(fields.get("timeframe") or request.args.get("timeframe") or "1m")
    rows = _json_rows(fields.get("items")) if document is not None else _csv_rows()
    if len(rows) > MAX_IMPORT_ROWS:
        raise InvalidInput(
            f"At most {MAX_IMPORT_ROWS} bars per import.", {"items": "has too many rows"}
        )
    parsed: dict[datetime, Bar] = {}
    skipped = 0
    for index, row in enumerate(rows):
        bar = _bar(row, f"items[{index}]", timeframe)
        if bar.time in parsed:
            skipped += 1
            continue
        parsed[bar.time] = bar
    imported = bars.store(contract.code, timeframe, parsed.values(), BarSource.IMPORT)
    return jsonify(imported=imported, skipped=skipped)


# --- reading the request ----------------------------------------------------------------


def _contract(text: str | None) -> Contract:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("symbol is required.", {"symbol": "is required"})
    try:
        return resolve_symbol(text, datetime.now(UTC).date())
    except UnknownSymbol as exc:
        raise InvalidInput(exc.message, {"symbol": exc.message}) from None


def _timeframe(text: str) -> Timeframe:
    try:
        return Timeframe(text)
    except ValueError:
        allowed = ", ".join(t.value for t in Timeframe)
        raise InvalidInput(
            f"timeframe must be one of {allowed}.", {"timeframe": "is unknown"}
        ) from None


def _length(timeframe: Timeframe) -> timedelta:
    return (
        timedelta(days=1)
        if timeframe is Timeframe.D1
        else timedelta(seconds=PERIOD_SECONDS[timeframe])
    )


def _decimal_text(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"{field} must be a number.", {field: "is not a number"}) from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"{field} must be above 0.", {field: "must be above 0"})
    return value


def _decimal_arg(name: str, required: bool) -> Decimal | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"{name} is required for this style.", {name: "is required"})
        return None
    return _decimal_text(text, name)


def _int_arg(name: str, default: int) -> int:
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise InvalidInput(f"{name} must be a whole number of 1 or more.", {name: "is invalid"})
    return int(text)


COLUMNS = ("time", "open", "high", "low", "close", "volume")


def _csv_rows() -> list[dict]:
    text = request.get_data(as_text=True)
    lines = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if lines and lines[0] and lines[0][0].strip().lower() == "time":
        lines = lines[1:]
    if not lines:
        raise InvalidInput("No bars to import.", {"items": "is empty"})
    return [dict(zip(COLUMNS, (cell.strip() for cell in row), strict=False)) for row in lines]


def _json_rows(items) -> list[dict]:
    if not isinstance(items, list) or not items:
        raise InvalidInput("items must be a list of bars.", {"items": "is not a list of bars"})
    if not all(isinstance(item, dict) for item in items):
        raise InvalidInput("Each item must be an object.", {"items": "holds a non-object"})
    return items


def _bar(row: dict, where: str, timeframe: Timeframe) -> Bar:
    time = _row_time(row.get("time"), f"{where}.time")
    if timeframe is Timeframe.D1:  # a daily bar is named by its date: that trading day
        time = trading_day_of(time.date())
    if period_start(time, timeframe) != time:
        raise InvalidInput(
            f"{where}.time is not the start of a {timeframe.value} bar.",
            {f"{where}.time": f"is not the start of a {timeframe.value} bar"},
        )
    prices = {name: _row_price(row.get(name), f"{where}.{name}") for name in COLUMNS[1:5]}
    volume = row.get("volume", 0)
    if isinstance(volume, str):
        volume = int(volume) if volume.strip().isdigit() else -1
    if not isinstance(volume, int) or isinstance(volume, bool) or volume < 0:
        raise InvalidInput(
            f"{where}.volume must be a whole number of 0 or more.",
            {f"{where}.volume": "must be a whole number of 0 or more"},
        )
    try:
        return Bar(time, prices["open"], prices["high"], prices["low"], prices["close"], volume)
    except DomainValidationError as exc:
        field = f"{where}.{exc.field}"
        raise InvalidInput(f"{field} {exc.message}.", {field: exc.message}) from None


def _row_time(value, field: str) -> datetime:
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InvalidInput(f"{field} is not a time.", {field: "is not a time"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row_price(value, field: str) -> Decimal:
    try:
        price = Decimal(str(value)) if not isinstance(value, bool) and value is not None else None
    except InvalidOperation:
        price = None
    if price is None or not price.is_finite() or price <= 0:
        raise InvalidInput(f"{field} must be a price above 0.", {field: "must be a price above 0"})
    return price
