"""The server-rendered pages follow the live events (static/js/live_regions.js): an alert's
row appears on /alerts and its trade on /trades without a reload, an open <details> holds
its table still until it closes, a read answered by the login page swaps nothing, the
traders page shows a trader's position and P&L after a fill and its toggle still works
after a swap; the accounts page shows each account's broker connection from the `status`
event and the status header the market data's age."""

import json
import re
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.services.live import pusher
from app.services.market import prices
from app.workers.live_status import status_of
from app.workers.position_poller import poll_accounts
from tests.conftest import TRADOVATE_CREDENTIALS, front
from tests.e2e.helpers import add_paper_account, add_strategy, api


def send_alert(page: Page, strategy: dict, action: str, quantity: int = 1) -> None:
    """An alert with its own id: the same body twice in a minute would be a duplicate."""
    body = {"id": uuid.uuid4().hex, "action": action, "symbol": "MES1!", "quantity": quantity}
    answer = page.request.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()


@pytest.fixture
def trader(logged_in_page: Page) -> tuple[dict, dict]:
    """A paper account trading the MES strategy, and MES priced; (strategy, trader)."""
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Live", symbol="MES1!", quantity=1)
    found = api(
        page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    )
    prices.update(front("MES"), Decimal("6000.25"), datetime.now(UTC), "test")
    return strategy, found


def wait_for_page_read(page: Page, text: str, timeout_s: float = 5) -> None:
    """Wait until live_regions.js has read the page again and the answer holds `text`."""
    deadline = time.monotonic() + timeout_s
    read: list = []
    page.on("response", lambda r: read.append(r) if r.url == page.url else None)
    while not any(text in r.text() for r in read if r.request.resource_type == "fetch"):
        assert time.monotonic() < deadline, f"no read of {page.url} held {text!r}"
        page.wait_for_timeout(50)


def wait_until_live(page: Page) -> None:
    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    page.evaluate("window.notReloaded = true")


def test_alerts_and_trades_appear_without_a_reload_and_open_details_hold_still(
    logged_in_page: Page, trader, console_errors
):
    page = logged_in_page
    strategy, _ = trader
    page.goto("/alerts")
    wait_until_live(page)
    log = page.get_by_test_id("alert-log")
    expect(log).to_contain_text("No alerts yet")

    send_alert(page, strategy, "buy")
    expect(log.locator("tr[data-event-id]")).to_have_count(1)
    expect(log.locator("tr[data-event-id]")).to_contain_text("executed")

    page.get_by_text("Details of alert 1", exact=True).click()  # the trader reads it
    send_alert(page, strategy, "sell")  # closes the position: a trade
    wait_for_page_read(page, 'data-event-id="2"')
    page.wait_for_timeout(200)  # time enough for a swap that should not happen
    expect(page.locator("details[open]")).to_have_count(1)
    expect(log.locator("tr[data-event-id]")).to_have_count(1)  # held still
    page.get_by_text("Details of alert 1", exact=True).click()  # closed: brought up to date
    expect(log.locator("tr[data-event-id]")).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True

    page.goto("/trades")
    wait_until_live(page)
    trades = page.get_by_test_id("trades")
    expect(trades.locator("tr[data-trade-id]")).to_have_count(1)
    send_alert(page, strategy, "buy")
    send_alert(page, strategy, "sell")
    expect(trades.locator("tr[data-trade-id]")).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True

    page.context.clear_cookies()  # the session ends: a read is sent to /login
    with page.expect_response(lambda r: "/login?next=" in r.url):
        send_alert(page, strategy, "buy")
        send_alert(page, strategy, "sell")
    page.wait_for_timeout(200)  # time enough for a swap that should not happen
    expect(trades.locator("tr[data-trade-id]")).to_have_count(2)  # the login page is no table
    assert console_errors == []


def test_the_traders_page_shows_position_and_pnl_after_a_fill_and_its_toggle_still_works(
    logged_in_page: Page, trader, console_errors
):
    page = logged_in_page
    strategy, found = trader
    page.goto("/traders")
    wait_until_live(page)
    row = page.locator(f'tr[data-trader-id="{found["id"]}"]')
    expect(row.locator('[data-col="position"]')).to_have_text("flat")
    expect(row.locator('[data-col="pnl"]')).to_have_text("0.00")

    send_alert(page, strategy, "buy", quantity=2)
    expect(row.locator('[data-col="position"]')).to_have_text(f"+2 {front('MES')}")
    prices.update(front("MES"), Decimal("6010.25"), datetime.now(UTC), "test")  # +10 × 2 × $5
    [figures] = api(page, "GET", "/api/traders/live")["items"]
    assert figures["unrealized"] == "100.00"
    expect(row.locator('[data-col="pnl"]')).to_have_text(f"{Decimal(figures['pnl_today']):,f}")
    expect(row.locator('[data-col="pnl"]')).to_have_class("num up")

    with page.expect_response(lambda r: r.url.endswith(f"/api/traders/{found['id']}")):
        row.get_by_label("Enable Live on Paper 50K").uncheck()  # a row the swap drew
    expect(row).to_have_class("disabled")
    assert api(page, "GET", f"/api/traders/{found['id']}")["enabled"] is False
    assert page.evaluate("window.notReloaded") is True
    assert console_errors == []


def _dead_url() -> str:
    """An address nothing listens on: a Tradovate that refuses every connection."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def live_config() -> dict:
    return {"TRADOVATE_API_URL": _dead_url()}


def test_accounts_show_each_brokers_connection_and_the_header_the_data_age(
    logged_in_page: Page, restartable_server, console_errors
):
    page = logged_in_page
    app = restartable_server.app
    paper = add_paper_account(page)
    dead = api(
        page,
        "POST",
        "/api/accounts",
        {"name": "Funded", "broker": "tradovate", "credentials": dict(TRADOVATE_CREDENTIALS)},
    )
    page.goto("/accounts")
    wait_until_live(page)
    state = page.get_by_test_id("connection-state")
    paper_state = page.locator(f'[data-connection-for="{paper["id"]}"]')
    dead_state = page.locator(f'[data-connection-for="{dead["id"]}"]')
    expect(state).to_have_text(["not polled yet", "not polled yet"])

    with app.app_context():  # the poller's tick and the status job's, as the scheduler runs them
        poll_accounts(app, datetime.now(UTC))
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC) - timedelta(seconds=3), "t")
        pusher.send("status", status_of(app, leader=True))

    expect(paper_state).to_have_text("connected")
    expect(paper_state).to_have_attribute("data-state", "connected")
    expect(dead_state).to_have_text("connection error")
    expect(dead_state).to_have_attribute("data-state", "error")
    assert dead_state.get_attribute("title")  # the poller's error, for the trader to read
    header = page.get_by_test_id("system-status")
    expect(header.locator('[data-part="data"]')).to_have_text(re.compile(r"^data [34] s$"))
    expect(header.locator('[data-part="brokers"]')).to_have_text("1 broker error")
    assert console_errors == []
