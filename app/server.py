"""The production web server: gunicorn's threaded worker, embedded so one command serves.

Flask-SocketIO keeps each client's state in the process that accepted it, so a server is
exactly one gunicorn worker process (`gthread`) with many threads; scaling out means more
such servers behind a proxy with sticky sessions (DESIGN §4 "Processes"). The app is
made in the worker, after the fork, so its scheduler threads, database pools and leader
lock belong to the process that serves; `on_exit` runs there when the worker stops
(SIGTERM, SIGINT), so jobs end cleanly and a leader lease is handed over at once.
"""

import logging
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication

logger = logging.getLogger(__name__)

# Long enough for an order in flight to finish; a Socket.IO connection is not waited for.
GRACEFUL_TIMEOUT_SECONDS = 10


class Server(BaseApplication):
    """gunicorn with one `gthread` worker of `threads` threads, serving `make_app()`."""

    def __init__(
        self,
        make_app: Callable[[], Flask],
        *,
        host: str,
        port: int,
        threads: int,
        on_exit: Callable[[Flask], None] | None = None,
    ) -> None:
        self.make_app = make_app
        self.settings = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": 1,
            "worker_class": "gthread",
            "threads": threads,
            "accesslog": "-",
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "proc_name": "deskpilot",
            # Several servers on one host (web processes, the benchmark's floor) would
            # share gunicorn's one default control socket path.
            "control_socket_disable": True,
            "worker_exit": _worker_exit(on_exit),
        }
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.settings.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        """Make the app; gunicorn calls this in the worker process, after the fork."""
        return self.make_app()


def _worker_exit(on_exit: Callable[[Flask], None] | None):
    """gunicorn's worker_exit hook, handing the worker's app to `on_exit`."""

    def hook(_arbiter, worker) -> None:
        app = getattr(worker, "wsgi", None)  # absent when the app failed to load
        if on_exit is not None and app is not None:
            on_exit(app)

    return hook
