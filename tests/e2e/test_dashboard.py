"""The dashboard in a real browser: an alert's position appears and its P&L moves with the
price over Socket.IO, a closed trade adds a point to the equity curve, and the account
selector shows one account or every enabled one."""

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

from playwright.sync_api import Page, expect

from app.services.market import prices
from tests.conftest import front
from tests.e2e.helpers import add_paper_account, add_strategy, api

PHONE = {"width": 375, "height": 812}


def position_row(page: Page, symbol: str):
    return page.get_by_test_id("positions").locator(f'tr[data-symbol="{symbol}"]')


def send_alert(page: Page, token: str, action: str, price: str) -> dict:
    answer = page.request.post(
        f"/webhook/{token}",
        data=json.dumps({"action": action, "symbol": "MES1!", "quantity": 1, "price": price}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()
    return answer.json()


def move_price(symbol: str, price: str) -> None:
    """A tick into the live server's price cache, as the paper feed's would arrive (the
    live server runs no scheduler, so its feed does not tick by itself)."""
    prices.update(symbol, Decimal(price), datetime.now(UTC), "test")


def test_an_alerts_position_moves_live_and_its_close_adds_an_equity_point(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    mes = front("MES")
    account = add_paper_account(page)
    strategy = add_strategy(page, "Trend", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    page.goto("/")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    expect(page.get_by_test_id("system-status")).to_contain_text("Armed")
    expect(page.get_by_test_id("equity")).to_have_text("50,000.00")
    expect(page.get_by_test_id("positions")).to_contain_text("No open positions.")
    expect(page.get_by_test_id("equity-chart")).to_have_attribute("data-points", "0")

    send_alert(page, strategy["webhook_token"], "buy", "6000.25")

    row = position_row(page, mes)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("+1")
    expect(row).to_contain_text("6000.25")
    pnl_cell = row.locator('[data-col="pnl"]')

    move_price(mes, "6010.25")  # +10 points × $5

    expect(pnl_cell).to_have_text("+50.00")
    expect(pnl_cell).to_have_class(re.compile(r"\bflash-up\b"))  # a brief flash, then calm
    expect(pnl_cell).to_have_class(re.compile(r"\bup\b"))
    expect(row.locator('[data-col="last"]')).to_have_text("6010.25")
    expect(page.get_by_test_id("pnl")).to_have_text("+50.00")
    expect(page.get_by_test_id("equity")).to_have_text("50,050.00")

    move_price(mes, "5998.25")  # −2 points × $5

    expect(pnl_cell).to_have_text("−10.00")
    expect(pnl_cell).to_have_class(re.compile(r"\bdown\b"))
    expect(row.locator('[data-col="last"]')).to_have_class(re.compile(r"\bflash-down\b"))
    expect(page.get_by_test_id("pnl")).to_have_text("−10.00")
    expect(page.get_by_test_id("pnl")).to_have_class(re.compile(r"\bdown\b"))

    send_alert(page, strategy["webhook_token"], "sell", "6004.25")  # +4 points closed

    expect(position_row(page, mes)).to_have_count(0)
    expect(page.get_by_test_id("equity-chart")).to_have_attribute("data-points", "1")
    expect(page.locator('[data-testid="equity-chart"] canvas').first).to_be_visible()
    [trade] = api(page, "GET", "/api/trades")["items"]
    trades = page.get_by_test_id("trades")
    expect(trades.locator(f'tr[data-trade-id="{trade["id"]}"]')).to_contain_text("+20.00")
    expect(page.get_by_test_id("pnl")).to_have_text("+20.00")
    figures = page.locator(".kpis")
    expect(figures.locator('[data-field="trades_today"]')).to_have_text("1")
    expect(figures.locator('[data-field="win_rate_today"]')).to_have_text("100 %")
    alerts = page.get_by_test_id("recent-alerts")
    expect(alerts.locator("tbody tr")).to_have_count(2)
    expect(alerts.locator("tbody tr").first).to_contain_text("executed")
    activity = page.get_by_test_id("recent-activity")  # drawn by the server, kept live
    expect(activity.locator("tbody tr").first).to_contain_text("closed")
    expect(page.locator(".flash-up, .flash-down")).to_have_count(0)
    shoot(page, "dashboard-1366")
    page.set_viewport_size(PHONE)
    expect(page.get_by_test_id("system-status")).to_be_visible()
    shoot(page, "dashboard-phone")

    trades.locator(f'tr[data-trade-id="{trade["id"]}"] a').click()
    expect(page).to_have_url(re.compile(rf"/trades/{trade['id']}$"))
    page.go_back()
    alerts.locator("tbody tr a").first.click()
    expect(page).to_have_url(re.compile(r"/alerts/\d+$"))
    assert console_errors == []


def test_the_account_selector_shows_one_account_or_every_enabled_one(
    logged_in_page: Page, console_errors
):
    page = logged_in_page
    first = add_paper_account(page, "Desk A", "50000")
    second = add_paper_account(page, "Desk B", "25000")
    parked = add_paper_account(page, "Parked", "10000")
    api(page, "PUT", f"/api/accounts/{parked['id']}", {"enabled": False})
    for account, symbol, side in ((first, "MES1!", "buy"), (second, "MNQ1!", "sell")):
        body = {"account_id": account["id"], "symbol": symbol, "side": side, "qty": 1}
        api(page, "POST", "/api/orders", body)
    page.goto("/")
    rows = page.get_by_test_id("positions").locator("tr[data-symbol]")
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("equity")).to_have_text("75,000.00")
    picker = page.get_by_label("Account", exact=True)
    expect(picker.locator("option")).to_have_text(["All enabled accounts (2)", "Desk A", "Desk B"])

    picker.select_option(label="Desk B")

    expect(page).to_have_url(re.compile(rf"\?account_id={second['id']}$"))
    expect(rows).to_have_count(1)
    expect(position_row(page, front("MNQ"))).to_contain_text("-1")
    expect(page.get_by_test_id("equity")).to_have_text("25,000.00")
    expect(page.get_by_test_id("account-figures").locator("tbody tr")).to_have_count(1)
    move_price(front("MES"), "6100")  # Desk A's price: nothing on this view moves
    expect(page.get_by_test_id("pnl")).to_have_text("0.00")

    page.get_by_label("Account", exact=True).select_option(label="All enabled accounts (2)")

    expect(page).to_have_url(re.compile(r"/(\?account_id=)?$"))
    expect(rows).to_have_count(2)
    expect(page.get_by_test_id("pnl")).to_have_text("+500.00")  # Desk A: 100 points × $5
    assert page.goto(f"/?account_id={parked['id']}").status == 404
    assert [e for e in console_errors if "404" not in e] == []
