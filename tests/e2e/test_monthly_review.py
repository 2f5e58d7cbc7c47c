"""The analytics page's monthly review in a real browser: last month's card per strategy
against the month before, arrows coloured by better or worse, the best and worst trades
linked to their traces, what changed; picking this month shows the settings changed."""

import re
from datetime import datetime

from playwright.sync_api import Page, expect

from app.domain.monthly_review import Month
from tests.conftest import add_month_of_trades
from tests.e2e.helpers import add_paper_account, add_strategy, api


def add_trades(server, account_id: int, strategy_id: int, month: Month, pnls: list[str]):
    add_month_of_trades(server.app, account_id, strategy_id, month, pnls)


def test_the_monthly_review_compares_last_month_and_tells_what_changed(
    logged_in_page: Page, restartable_server, console_errors, shoot
):
    page = logged_in_page
    account = add_paper_account(page, balance="10000")
    strategy = add_strategy(page, "Trend", symbol="MES1!", quantity=1)
    today = datetime.now().date()  # the browser's calendar picks last month by default
    this, last = Month.of(today), Month.of(today).previous()
    add_trades(restartable_server, account["id"], strategy["id"], last, ["40", "-15", "30"])
    add_trades(restartable_server, account["id"], strategy["id"], last.previous(),
               ["10", "-20", "5", "-5"])  # fmt: skip
    api(page, "PUT", f"/api/strategies/{strategy['id']}", {"quantity": 2})

    page.goto("/analytics")

    review = page.get_by_test_id("monthly-review")
    expect(review.get_by_label("Month")).to_have_value(str(last))
    cards = review.get_by_test_id("review-card")
    expect(cards).to_have_count(2)
    expect(cards.first.locator("h3")).to_have_text("All strategies")
    trend = review.locator(f'[data-strategy="{strategy["id"]}"]')
    expect(trend.locator("thead th")).to_have_text(["", str(last), str(last.previous()), "Change"])
    net = trend.locator('tr[data-figure="net_pnl"] td')
    expect(net).to_have_text(["Net P&L", "55.00", "−10.00", "▲ +65.00"])
    expect(net.last).to_have_class("num up")  # a rise, for the better
    drawdown = trend.locator('tr[data-figure="max_drawdown"] td')
    expect(drawdown).to_have_text(["Max drawdown", "15.00", "20.00", "▼ −5.00"])
    expect(drawdown.last).to_have_attribute("data-verdict", "better")  # shallower
    win_rate = trend.locator('tr[data-figure="win_rate"] td')
    expect(win_rate).to_have_text(["Win rate", "66.67 %", "50 %", "▲ +16.67 %"])
    expect(trend.locator('tr[data-figure="trades"] td').last).to_have_attribute("data-verdict", "")
    expect(trend.locator('[data-role="best"]')).to_contain_text("+40.00 long 1 MESZ6")
    expect(trend.locator('[data-role="worst"]')).to_contain_text("−15.00")
    shifts = trend.locator('li[data-kind="shift"]')
    expect(shifts).to_have_text(
        ["better Net P&L turned to a profit.", "better Win rate up 16.67 points (50 % → 66.67 %)."]
    )
    shoot(page, "monthly_review", screens=("1366", "phone"))

    trend.locator('[data-role="best"] a').click()
    expect(page).to_have_url(re.compile(r"/trades/\d+$"))
    page.go_back()

    review.get_by_label("Month").fill(str(this))
    trend = review.locator(f'[data-strategy="{strategy["id"]}"]')
    expect(trend.locator('tr[data-figure="trades"] td')).to_have_text(["Trades", "0", "3", "▼ -3"])
    expect(trend.locator('li[data-kind="shift"]')).to_have_text(
        ["worse No trades this month, after 3."]
    )
    settings = trend.locator('li[data-kind="setting"]')
    expect(settings.last).to_contain_text("strategy 'Trend' updated (quantity 1 → 2)")
    assert console_errors == []
