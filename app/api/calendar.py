"""/api/calendar/events: the economic calendar behind the news blackout."""

from flask import Blueprint, jsonify, request

from app.api.introspect import request_body
from app.api.params import time_arg
from app.api.serialize import iso
from app.errors import InvalidInput
from app.services.market import economic_calendar

bp = Blueprint("calendar", __name__, url_prefix="/calendar")


@bp.post("/events")
@request_body(
    {
        "text/calendar": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"ics": {"type": "string"}, "csv": {"type": "string"}},
                "minProperties": 1,
            }
        },
    }
)
def import_events():
    """An iCalendar file (`text/calendar`) or CSV `time,title,impact,currency` (`text/csv`,
    `text/plain`), or JSON `{"ics": "..."}` / `{"csv": "..."}` → `{imported, skipped}`."""
    kind, body = _body()
    report = economic_calendar.import_events(body, kind)
    return jsonify(imported=report.imported, skipped=report.skipped)


@bp.get("/events")
def list_events():
    rows = economic_calendar.list_events(time_arg("since"))
    return jsonify(
        items=[
            {
                "id": row.id,
                "time": iso(row.starts_at),
                "title": row.title,
                "impact": row.impact,
                "currency": row.currency,
            }
            for row in rows
        ]
    )


def _body() -> tuple[str, str]:
    if (request.content_length or 0) > economic_calendar.MAX_BYTES:
        raise InvalidInput("The calendar is larger than 2 MB.", {"body": "too large"})
    kind = (request.mimetype or "").lower()
    if kind == "application/json":
        data = request.get_json(silent=True)
        for key in ("ics", "csv"):
            if isinstance(data, dict) and isinstance(data.get(key), str):
                return key, data[key]
        raise InvalidInput('Send {"ics": "..."} or {"csv": "..."}.', {"body": "no calendar"})
    text = request.get_data(as_text=True)
    return economic_calendar.calendar_kind(kind, text), text
