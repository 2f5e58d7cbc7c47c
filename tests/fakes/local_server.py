"""The one way a fake serves: a WSGI app on 127.0.0.1 on a free port, from a daemon thread,
without a log line per request (the tests read what the fake recorded)."""

import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietRequests(WSGIRequestHandler):
    """No line per request; a fake's own failure is still logged."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class LocalServer:
    def __init__(self, wsgi, name: str, *, poll_interval: float = 0.05) -> None:
        self._wsgi = wsgi
        self._name = name
        self._poll_interval = poll_interval  # how soon stop() returns
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> int:
        """Serve; the port it listens on."""
        self._server = make_server(
            "127.0.0.1", 0, self._wsgi, threaded=True, request_handler=_QuietRequests
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self._poll_interval},
            name=self._name,
            daemon=True,
        )
        self._thread.start()
        return self._server.server_port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
