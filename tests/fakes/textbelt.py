"""A fake of the hosted TextBelt API on 127.0.0.1, in its wire format.

`POST /text` takes the form fields phone, message and key and answers JSON
`{"success": true, "textId": "…", "quotaRemaining": n}`, or `{"success": false,
"quotaRemaining": n, "error": "…"}` — "Out of quota" once `quota` is 0, TextBelt's words
for a malformed number for those in `invalid_numbers`. `GET /quota/<key>` answers
`{"success": true, "quotaRemaining": n}`. `fail_next(status, retry_after=…, phone=…)`
answers the next request (for that number, if given) with that HTTP status.
Tests read `texts` (each form posted to /text, key included, answered or not).
The `fake_textbelt` fixture starts one with a quota of 40.
"""

import itertools
import json
import threading
from urllib.parse import unquote

import pytest
from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer

INVALID_PHONE = (
    "Invalid phone number or bad request. If your phone number contains a +, please check "
    "that you are URL encoding it properly."
)


class FakeTextBelt:
    def __init__(self, *, quota: int = 40) -> None:
        self.lock = threading.Lock()
        self.quota = quota
        self.invalid_numbers: set[str] = set()
        self.texts: list[dict[str, str]] = []
        self.quota_asked: list[str] = []
        self._faults: list[tuple[int, str | None, str | None]] = []
        self._ids = itertools.count(80001)
        self._server = LocalServer(self._wsgi, "fake-textbelt")
        self.url = ""

    def start(self) -> "FakeTextBelt":
        port = self._server.start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def fail_next(
        self, status: int, *, retry_after: str | None = None, phone: str | None = None
    ) -> None:
        with self.lock:
            self._faults.append((status, retry_after, phone))

    # --- the API --------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        phone = request.form.get("phone")
        if request.method == "POST" and request.path == "/text":
            self.texts.append(request.form.to_dict())
        for index, (status, wait, only) in enumerate(self._faults):
            if only is None or only == phone:
                del self._faults[index]
                headers = {"Retry-After": wait} if wait else {}
                return Response("Service unavailable", status=status, headers=headers)
        if request.method == "POST" and request.path == "/text":
            return self._text(request.form.to_dict())
        if request.method == "GET" and request.path.startswith("/quota/"):
            self.quota_asked.append(unquote(request.path.removeprefix("/quota/")))
            return _json({"success": True, "quotaRemaining": self.quota})
        return Response(f"Cannot {request.method} {request.path}", status=404)

    def _text(self, form: dict[str, str]) -> Response:
        if not form.get("phone") or not form.get("message"):
            return _json({"success": False, "error": INVALID_PHONE, "quotaRemaining": self.quota})
        if self.quota <= 0:
            return _json({"success": False, "quotaRemaining": 0, "error": "Out of quota"})
        if form["phone"] in self.invalid_numbers:
            return _json({"success": False, "error": INVALID_PHONE, "quotaRemaining": self.quota})
        self.quota -= 1
        return _json(
            {"success": True, "textId": str(next(self._ids)), "quotaRemaining": self.quota}
        )


def _json(document: dict) -> Response:
    return Response(json.dumps(document), content_type="application/json")


@pytest.fixture
def fake_textbelt():
    fake = FakeTextBelt().start()
    yield fake
    fake.stop()
