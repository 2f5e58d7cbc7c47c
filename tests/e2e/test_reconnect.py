"""A server restart in a real browser: the live connection comes back by itself, and what
changed while the server was down is on the page without a reload."""

import re
from datetime import UTC, datetime
from decimal import Decimal

from playwright.sync_api import Page, expect

from app.services.market import prices
from app.services.trading.manual import place_manual_order
from tests.conftest import front
from tests.e2e.conftest import LiveServer
from tests.e2e.helpers import add_paper_account

# Requests the restart cut or refused, as Chromium reports them; an HTTP error or a script
# error is still a failure.
CUT = re.compile(r"Failed to load resource: net::ERR_[A-Z_]+ ")
# Socket.IO retries after about 1, 2 and 4 s (live.js caps the wait at 5 s): the server is
# down well under a second here, so the second try at the latest finds it again.
RECONNECT_MS = 8_000


def badge(page: Page):
    return page.locator("[data-live-state]")


def trade_while_down(account_id: int, symbol: str) -> None:
    """A round trip closed at +2 points and a new long opened, as the paper venue fills
    them, written through the product's own services while no page can hear of it."""
    for price, side in (("6000", "buy"), ("6002", "sell"), ("6002", "buy")):
        now = datetime.now(UTC)
        prices.update(symbol, Decimal(price), now, "test")
        order = {"account_id": account_id, "symbol": symbol, "side": side, "qty": 1}
        place_manual_order(order, now)


def test_after_a_restart_the_pages_reconnect_and_show_what_changed_meanwhile(
    logged_in_page: Page, context, restartable_server: LiveServer, console_errors
):
    dashboard = logged_in_page
    account = add_paper_account(dashboard)
    mes = front("MES")
    dashboard.goto("/")
    control = context.new_page()
    control.goto("/control-center")
    tabs = (dashboard, control)
    for tab in tabs:
        expect(badge(tab)).to_have_attribute("data-live-state", "live")
        tab.evaluate("window.loadedBeforeRestart = true")  # a reload would forget it
    trades = dashboard.get_by_test_id("trades")
    expect(trades).to_contain_text("No closed trades yet.")

    restartable_server.stop()
    for tab in tabs:
        expect(badge(tab)).to_have_attribute("data-live-state", "down")
        expect(badge(tab)).to_have_text("reconnecting…")
    # Events sent now reach no page: only reading again on reconnection can show these.
    with restartable_server.app.app_context():
        trade_while_down(account["id"], mes)
    restartable_server.start()

    for tab in tabs:
        expect(badge(tab)).to_have_attribute("data-live-state", "live", timeout=RECONNECT_MS)
    expect(trades.locator("tr[data-trade-id]")).to_have_count(1)
    expect(trades.locator("tr[data-trade-id]")).to_contain_text("+10.00")  # 2 points × $5
    expect(dashboard.locator('.kpis [data-field="trades_today"]')).to_have_text("1")
    expect(
        dashboard.get_by_test_id("positions").locator(f'tr[data-symbol="{mes}"]')
    ).to_contain_text("+1")
    control_positions = control.get_by_test_id("positions").locator(f'tr[data-symbol="{mes}"]')
    expect(control_positions).to_contain_text("+1")
    expect(control.get_by_test_id("live-log")).to_contain_text(f"{mes} long 1 closed (manual)")
    for tab in tabs:
        assert tab.evaluate("window.loadedBeforeRestart") is True
    assert [e for e in console_errors if not CUT.search(e)] == []
