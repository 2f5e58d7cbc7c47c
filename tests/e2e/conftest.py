"""Headless-Chromium fixtures: a live server per test and one browser for the session."""

import contextlib
import logging
import os
import shutil
import socket
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import ThreadedWSGIServer

from app import create_app
from app.extensions import db
from config import TestConfig
from tests.e2e.helpers import log_in

logger = logging.getLogger(__name__)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}
# The screens every page must work on: the laptop, a desktop, and the trader's phone.
SCREENS = {
    "1366": VIEWPORT,
    "1920": {"width": 1920, "height": 1080},
    "phone": {"width": 390, "height": 844},
}
# Auto-waiting assertions give up after this long; a local page answers in milliseconds.
EXPECT_TIMEOUT_MS = 5_000
# Screenshots for a person to look at; generated on every run, so git ignores them there.
SHOTS_DIR = Path(os.environ.get("E2E_SHOTS_DIR", Path(__file__).parent / "artifacts"))


def _chromium_available() -> bool:
    return Path(CHROMIUM).is_file() or shutil.which(CHROMIUM) is not None


@pytest.fixture
def live_config() -> dict:
    """Settings a test module changes for its live server (e.g. a fake broker's URL)."""
    return {}


class _DroppingServer(ThreadedWSGIServer):
    """Werkzeug's threaded server that can cut its open connections, as a process's death
    does: stopping the accept loop alone leaves a socket's long poll or WebSocket open in
    its thread, and the browser would not notice for a minute."""

    def __init__(self, host: str, port: int, app: Flask):
        super().__init__(host, port, app)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request, client_address):
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self._open_lock:
            dropped, self._open = self._open, set()
        for connection in dropped:
            with contextlib.suppress(OSError):  # its thread closed it meanwhile
                connection.shutdown(socket.SHUT_RDWR)


class LiveServer:
    """The app served from a background thread on one port. `stop()` goes down as a killed
    process does; `start()` serves a new app (create_app again) on the same port over the
    same database and instance folder, so a logged-in browser stays logged in."""

    def __init__(self, config: type[TestConfig]):
        self.config = config
        self.app: Flask | None = None
        self.port = 0  # the first start picks a free port, every restart takes it again
        self._server: _DroppingServer | None = None
        self._thread: threading.Thread | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.app is not None:  # what the test did with the stopped app is let go
            self.dispose()
        self.app = create_app(self.config)
        self._server = _DroppingServer("127.0.0.1", self.port, self.app)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="e2e-live-server",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def dispose(self) -> None:
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def restartable_server(
    tmp_path: Path, live_config: dict, migrated_schema: Path
) -> Iterator[LiveServer]:
    """Serve a fresh app and database from a background thread, able to restart."""
    shutil.copyfile(migrated_schema, tmp_path / "e2e.db")  # at head: no migration to run

    class LiveConfig(TestConfig):
        DATABASE_URL = f"sqlite:///{tmp_path / 'e2e.db'}"
        SESSION_COOKIE_SECURE = False
        INSTANCE_DIR = tmp_path

    for name, value in live_config.items():
        setattr(LiveConfig, name, value)
    server = LiveServer(LiveConfig)
    try:
        yield server
    finally:
        server.stop()
        server.dispose()


@pytest.fixture
def live_server(restartable_server: LiveServer) -> str:
    """The base URL of the test's live server."""
    return restartable_server.url


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the session; skipped locally without it, failed in CI."""
    if not _chromium_available():
        message = f"Chromium not found at {CHROMIUM!r} (set CHROMIUM to its path)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the e2e tests: {message}", pytrace=False)
        pytest.skip(message)
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except Exception:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def context(browser, live_server):
    """A fresh browser profile per test (no cookies, no cache) aimed at the live server."""
    context = browser.new_context(base_url=live_server, viewport=VIEWPORT)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def console_errors(context) -> list[str]:
    """Every console error and uncaught exception of the test's pages (CSP reports too)."""
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def watch(page):
        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    context.on("page", watch)
    return errors


@pytest.fixture
def page(context, console_errors):
    """A tab whose console errors land in `console_errors`."""
    return context.new_page()


@pytest.fixture
def logged_in_page(page):
    """A tab logged in through the login form as the owner, showing the dashboard."""
    log_in(page)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()
    return page


@pytest.fixture
def shoot():
    """Save a full-page screenshot to SHOTS_DIR/<name>.png for a person to look at; given
    `screens` (names in SCREENS), one per screen as <name>-<screen>.png, the page's own
    size put back after."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, screens: Iterable[str] = ()) -> list[Path]:
        if not screens:
            path = SHOTS_DIR / f"{name}.png"
            page.screenshot(path=str(path), full_page=True)
            return [path]
        own = page.viewport_size
        try:
            paths = []
            for screen in screens:
                page.set_viewport_size(SCREENS[screen])
                paths += take(page, f"{name}-{screen}")
            return paths
        finally:
            page.set_viewport_size(own)

    return take
