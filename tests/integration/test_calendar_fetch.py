"""The economic calendar fetched by URL: the `calendar_url` setting, the job that fetches it
from a real HTTP server on 127.0.0.1, conditional requests, and failures that keep the
stored calendar and never show the URL's token."""

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry
from app.services.setup.auth import owner
from app.workers import calendar_fetch
from app.workers.jobs import job_status
from app.workers.scheduler import JOB_REGISTRATIONS

TOKEN = "s3cret-token"
ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//DeskPilot tests//EN
BEGIN:VEVENT
UID:cpi-2026-12-10@example.com
DTSTART:20261210T133000Z
SUMMARY:CPI m/m
X-IMPACT:High
X-CURRENCY:USD
END:VEVENT
BEGIN:VEVENT
UID:claims-2026-12-10@example.com
DTSTART:20261210T133000Z
SUMMARY:Jobless claims
X-IMPACT:Medium
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")


class CalendarServer:
    """A calendar host: answers GET with what the test sets, honours If-None-Match when it
    has an ETag, and keeps every request's path and headers."""

    def __init__(self):
        self.status, self.body, self.content_type = 200, ICS, "text/calendar; charset=utf-8"
        self.etag: str | None = None
        self.requests: list[tuple[str, dict]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                host.requests.append((self.path, dict(self.headers)))
                if host.etag and self.headers.get("If-None-Match") == host.etag:
                    self.send_response(304)
                    self.send_header("ETag", host.etag)
                    self.end_headers()
                    return
                payload = host.body.encode()
                self.send_response(host.status)
                self.send_header("Content-Type", host.content_type)
                self.send_header("Content-Length", str(len(payload)))
                if host.etag:
                    self.send_header("ETag", host.etag)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = f"/calendar.ics?token={TOKEN}") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def calendar_server():
    server = CalendarServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def set_url_directly(app, url: str) -> None:
    """Store the URL without the API, so the job makes the first fetch."""
    with app.app_context():
        owner().calendar_url = url
        db.session.commit()


def events(api) -> list[tuple[str, str]]:
    return [(e["title"], e["impact"]) for e in api.get("/api/calendar/events").get_json()["items"]]


def audit_entries(app, contains: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [row for row in rows if contains in row.message]


def test_the_job_imports_the_calendar_at_the_url(app, api, calendar_server):
    set_url_directly(app, calendar_server.url())

    calendar_fetch.run(app)

    assert events(api) == [("CPI m/m", "high"), ("Jobless claims", "medium")]
    status = job_status(app)[calendar_fetch.JOB_ID]
    assert status.last_error is None and status.last_success is not None
    path, headers = calendar_server.requests[0]
    assert path == f"/calendar.ics?token={TOKEN}"
    assert "If-None-Match" not in headers and "If-Modified-Since" not in headers


def test_without_a_url_the_job_fetches_nothing(app, calendar_server):
    calendar_fetch.run(app)

    assert calendar_server.requests == []
    assert job_status(app)[calendar_fetch.JOB_ID].last_error is None


def test_a_second_run_sends_the_etag_and_the_304_imports_nothing(app, api, calendar_server):
    calendar_server.etag = '"v1"'
    set_url_directly(app, calendar_server.url())
    calendar_fetch.run(app)

    with app.app_context():
        again = calendar_fetch.fetch_owner_calendar()

    assert [outcome.result for outcome in again] == ["unchanged"]
    assert calendar_server.requests[1][1]["If-None-Match"] == '"v1"'
    assert events(api) == [("CPI m/m", "high"), ("Jobless claims", "medium")]
    assert len(audit_entries(app, "economic calendar imported")) == 1


def test_without_an_etag_a_second_run_finds_every_event_already_stored(app, calendar_server):
    set_url_directly(app, calendar_server.url())
    with app.app_context():
        [first] = calendar_fetch.fetch_owner_calendar()
        [second] = calendar_fetch.fetch_owner_calendar()

    assert (first.report.new, first.report.updated) == (2, 0)
    assert (second.report.new, second.report.updated, second.report.unchanged) == (0, 0, 2)
    assert len(audit_entries(app, "economic calendar imported")) == 1  # a no-op leaves no trace


def test_a_moved_event_is_updated_not_doubled(app, api, calendar_server):
    set_url_directly(app, calendar_server.url())
    calendar_fetch.run(app)
    calendar_server.body = ICS.replace("X-IMPACT:Medium", "X-IMPACT:Low")

    with app.app_context():
        [outcome] = calendar_fetch.fetch_owner_calendar()

    assert (outcome.report.new, outcome.report.updated, outcome.report.unchanged) == (0, 1, 1)
    assert events(api) == [("CPI m/m", "high"), ("Jobless claims", "low")]


def test_a_server_error_keeps_the_calendar_and_the_job_status_says_why(app, api, calendar_server):
    set_url_directly(app, calendar_server.url())
    calendar_fetch.run(app)
    status = job_status(app)[calendar_fetch.JOB_ID]
    first_success = status.last_success
    calendar_server.status, calendar_server.body = 500, "oops"

    calendar_fetch.run(app)
    calendar_fetch.run(app)

    assert events(api) == [("CPI m/m", "high"), ("Jobless claims", "medium")]
    assert "answered HTTP 500" in status.last_error
    assert status.last_success == first_success
    warnings = audit_entries(app, "economic calendar fetch failed")
    assert len(warnings) == 1  # told once, not on every run
    assert warnings[0].severity == "warning"
    calendar_server.status, calendar_server.body = 200, ICS
    calendar_fetch.run(app)
    assert status.last_error is None and status.last_success > first_success


def test_a_body_that_is_no_calendar_keeps_the_calendar(app, api, calendar_server):
    set_url_directly(app, calendar_server.url())
    calendar_fetch.run(app)
    calendar_server.content_type, calendar_server.body = "text/html", "<html>log in</html>"

    calendar_fetch.run(app)

    assert len(events(api)) == 2
    assert "not a calendar (text/html)" in job_status(app)[calendar_fetch.JOB_ID].last_error


def test_saving_the_url_fetches_it_at_once(api, calendar_server):
    response = api.put("/api/settings", {"calendar_url": calendar_server.url()})

    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["calendar_url"] == calendar_server.url()
    assert answer["calendar_fetch"] == {
        "result": "imported",
        "new": 2,
        "updated": 0,
        "skipped": [],
        "error": None,
    }
    assert len(events(api)) == 2
    unchanged = api.put("/api/settings", {"timezone": "America/Chicago"}).get_json()
    assert "calendar_fetch" not in unchanged and len(calendar_server.requests) == 1


def test_a_url_that_is_down_does_not_fail_the_save(api):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/calendar.ics"

    response = api.put("/api/settings", {"calendar_url": url})

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["calendar_url"] == url
    fetch = response.get_json()["calendar_fetch"]
    assert (fetch["result"], fetch["error"]) == ("failed", "could not connect to 127.0.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/calendar.ics",
        "calendar.ics",
        "http://",
        "javascript:alert(1)",
        "https://example.com/my calendar.ics",
        "https://example.com:port/calendar.ics",
        "https://example.com/" + "a" * 2000,
        42,
    ],
)
def test_a_bad_calendar_url_is_400_naming_the_field(api, url):
    response = api.put("/api/settings", {"calendar_url": url})

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and "calendar_url" in error["fields"]


@pytest.mark.parametrize("off", [None, ""])
def test_null_or_empty_turns_the_fetch_off(api, calendar_server, off):
    api.put("/api/settings", {"calendar_url": calendar_server.url()})

    response = api.put("/api/settings", {"calendar_url": off})

    assert response.status_code == 200 and response.get_json()["calendar_url"] is None
    assert "calendar_fetch" not in response.get_json()


def test_the_url_is_never_logged_or_audited_with_its_token(app, api, calendar_server, caplog):
    caplog.set_level(logging.DEBUG)
    url = calendar_server.url(f"/private-{TOKEN}/calendar.ics?token={TOKEN}").replace(
        "http://", f"http://trader:{TOKEN}@"
    )
    assert api.put("/api/settings", {"calendar_url": url}).status_code == 200
    calendar_server.status = 503

    calendar_fetch.run(app)

    ours = [r for r in caplog.records if r.name.startswith("app") or r.levelno >= logging.INFO]
    assert ours and not [r.getMessage() for r in ours if TOKEN in r.getMessage()]
    with app.app_context():
        trail = [(row.message, row.data) for row in db.session.scalars(select(AuditEntry))]
    assert TOKEN not in json.dumps(trail)
    assert "127.0.0.1" in json.dumps(trail)  # the host is still shown
    assert TOKEN not in job_status(app)[calendar_fetch.JOB_ID].last_error


def test_the_job_is_registered_at_the_configured_interval(app):
    scheduler = BackgroundScheduler()
    calendar_fetch.register(scheduler, app)

    job = scheduler.get_job(calendar_fetch.JOB_ID)

    assert calendar_fetch.register in JOB_REGISTRATIONS
    assert job.trigger.interval.total_seconds() == 60 * app.config["CALENDAR_FETCH_MINUTES"]
    assert app.config["CALENDAR_FETCH_MINUTES"] == 60
