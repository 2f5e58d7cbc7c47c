"""Headless-Chromium fixtures: a live server per test and one browser for the session."""

import logging
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

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


@pytest.fixture
def live_server(tmp_path: Path, live_config: dict, migrated_schema: Path) -> Iterator[str]:
    """Serve a fresh app and database from a background thread; yield its base URL."""
    shutil.copyfile(migrated_schema, tmp_path / "e2e.db")  # at head: no migration to run

    class LiveConfig(TestConfig):
        DATABASE_URL = f"sqlite:///{tmp_path / 'e2e.db'}"
        SESSION_COOKIE_SECURE = False
        INSTANCE_DIR = tmp_path

    for name, value in live_config.items():
        setattr(LiveConfig, name, value)
    app = create_app(LiveConfig)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="e2e-live-server",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with app.app_context():
            db.engine.dispose()


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
    """Save a full-page screenshot to SHOTS_DIR/<name>.png for a person to look at."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SHOTS_DIR / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
