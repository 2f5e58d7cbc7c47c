"""A trader's webhook receiver on 127.0.0.1 that checks DeskPilot's signature with the
README's own snippet (executed as written), so the README's check is the one tested.

It answers 204 to a verified POST and 401 to anything else, or whatever `answer_next`
queued. Tests read `received` (`Delivery`: headers, raw body, parsed JSON, verified).
The `webhook_receiver` fixture starts one that knows WEBHOOK_SECRET.
"""

import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer

WEBHOOK_SECRET = "whsec-0d9f6c2b8e4a4f1c"
README = Path(__file__).resolve().parents[2] / "README.md"
SNIPPET = re.compile(r"```python\n(# Verify a DeskPilot webhook.*?)```", re.DOTALL)


def readme_verify():
    """The `verify` function of the README's receiver snippet."""
    match = SNIPPET.search(README.read_text(encoding="utf-8"))
    assert match, "README.md lost its webhook verification snippet"
    namespace: dict = {}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    return namespace["verify"]


@dataclass(frozen=True)
class Delivery:
    headers: Headers  # case-insensitive, as a receiver's framework gives them
    body: bytes
    document: dict | None
    verified: bool


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.verify = readme_verify()
        self.received: list[Delivery] = []
        self._answers: deque[tuple[int, dict[str, str], str]] = deque()
        self._lock = threading.Lock()
        self._server = LocalServer(self._wsgi, "webhook-receiver")
        self.url = ""

    def start(self) -> "WebhookReceiver":
        port = self._server.start()
        self.url = f"http://127.0.0.1:{port}/hooks/deskpilot"
        return self

    def stop(self) -> None:
        self._server.stop()

    def answer_next(self, status: int, body: str = "", headers: dict[str, str] | None = None):
        self._answers.append((status, headers or {}, body))

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_data()
        verified = self.verify(self.secret, request.headers, body)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        with self._lock:
            self.received.append(Delivery(Headers(request.headers), body, document, verified))
            answer = self._answers.popleft() if self._answers else None
        if answer is not None:
            status, headers, text = answer
            response = Response(text, status=status, headers=headers)
        elif verified:
            response = Response(status=204)
        else:
            response = Response("bad signature", status=401)
        return response(environ, start_response)


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver(WEBHOOK_SECRET).start()
    yield receiver
    receiver.stop()
