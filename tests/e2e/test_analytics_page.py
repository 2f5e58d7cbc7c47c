"""The analytics page in a real browser: two closed trades (+20 and −10) show as cards, an
equity curve, execution quality, a heat map cell for their day, bars by hour and weekday,
a P&L histogram, a strategy comparison row with its score, a breakdown row for their
strategy, on a click a projection's bands; and the replay panel against the real
POST /api/replay, on alerts recorded through the webhook and bars imported through the API."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from app.services.market import bars, prices
from tests.conftest import front
from tests.e2e.helpers import add_paper_account, add_strategy, api, send_alert


def close_two_trades(page: Page) -> dict:
    """A strategy whose trader closes +$20 and −$10 on paper (MES, $5 a point)."""
    account = add_paper_account(page, balance="10000")
    strategy = add_strategy(page, "Trend", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    path = [("buy", "6000"), ("sell", "6004"), ("buy", "6000"), ("sell", "5998")]
    for n, (action, price) in enumerate(path):
        prices.update(front("MES"), Decimal(price), datetime.now(UTC), "test")
        send_alert(page, strategy["webhook_token"], symbol="MES1!", action=action, price=price,
                   id=f"alert-{n}")  # fmt: skip
    return strategy


def test_the_page_shows_the_metrics_curve_breakdown_and_a_projection(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    strategy = close_two_trades(page)

    page.goto(f"/analytics?strategy_id={strategy['id']}")

    summary = page.get_by_test_id("analytics-summary")
    expect(summary.locator('[data-field="trades"]')).to_have_text("2")
    expect(summary.locator('[data-field="win_rate"]')).to_have_text("50 %")
    expect(summary.locator('[data-field="net_pnl"]')).to_have_text("+10.00")
    expect(summary.locator('[data-field="profit_factor"]')).to_have_text("2")
    expect(summary.locator('[data-field="expectancy"]')).to_have_text("+5.00")
    expect(summary.locator('[data-field="max_drawdown"]')).to_contain_text("10.00")
    win_rate_card = summary.locator(".kpi", has_text="Win rate")
    expect(win_rate_card).to_have_attribute("title", re.compile("wins / trades", re.I))
    # The filter stays in the form, so a reload or a bookmark shows the same view.
    expect(page.locator('select[name="strategy_id"]')).to_have_value(str(strategy["id"]))

    chart = page.get_by_test_id("equity-chart")
    expect(chart).not_to_have_attribute("data-points", "0")  # start, then two exits
    expect(chart.locator("canvas").first).to_be_visible()

    execution = page.get_by_test_id("execution")
    expect(execution.locator('[data-field="avg_slippage_ticks"]')).to_have_text("0")
    expect(execution.locator('[data-field="slippage"]')).to_have_text("0.00")
    expect(execution.locator('[data-field="fill_delay"]')).to_have_text(
        re.compile(r"^[\d.]+ / [\d.]+ ms$")
    )
    expect(execution.locator('[data-field="avg_mae"]')).to_have_text("—")  # bars not in yet
    expect(execution.locator('[data-field="execution_trades"]')).to_have_text("2 / 0 of 2")
    mae_card = execution.locator(".kpi", has_text="Avg MAE")
    expect(mae_card).to_have_attribute("title", re.compile("maximum adverse excursion", re.I))

    calendar = page.get_by_test_id("pnl-calendar")
    traded = calendar.locator(".heat-cell.traded")
    expect(traded).to_have_count(1)  # both trades closed on one trading day
    expect(traded).to_have_class(re.compile(r"\bup\b"))
    expect(traded).to_have_attribute("title", re.compile(r"\+10\.00, 2 trade"))
    expect(calendar.locator(".heat-cell")).not_to_have_count(0)
    expect(page.get_by_test_id("weekday-bars")).to_have_attribute("data-bars", "1")
    expect(page.get_by_test_id("hour-bars")).not_to_have_attribute("data-bars", "0")
    histogram = page.get_by_test_id("pnl-histogram")
    expect(histogram).to_have_attribute("data-bars", "12")  # −10 … +20 in 12 bins
    expect(histogram.locator(".bar.down")).to_have_count(1)  # the −10 trade
    expect(histogram.locator(".bar-column").first).to_have_attribute(
        "title", re.compile("^1 trade")
    )

    compared = page.get_by_test_id("strategy-comparison")
    expect(compared.locator('tr[data-key="Trend"] td').last).to_have_text("7.07")  # 10 / √2
    score_header = compared.locator("th", has_text="Score")
    expect(score_header).to_have_attribute("title", re.compile(r"expectancy × √trades"))

    row = page.get_by_test_id("breakdown").locator('tr[data-key="Trend"]')
    expect(row).to_contain_text("2")
    expect(row).to_contain_text("+10.00")
    page.locator('[data-role="breakdown-by"]').select_option("symbol")
    expect(page.get_by_test_id("breakdown").locator('tr[data-key="MES"]')).to_have_count(1)

    projection = page.get_by_test_id("projection")
    expect(projection.get_by_label("Starting balance")).to_have_value("10000.00")
    projection.get_by_label("Horizon (trades)").fill("5")
    projection.get_by_label("Runs").fill("200")
    projection.get_by_label("Seed").fill("7")
    projection.get_by_role("button", name="Project").click()

    expect(page.get_by_test_id("projection-chart")).to_have_attribute("data-points", "5")
    result = projection.locator('[data-role="projection-result"]')
    expect(result).to_contain_text("After 5 trades: p5 ")
    expect(result).to_contain_text("Risk of ruin 0")
    expect(result).to_contain_text("drawn from 2 trades")
    shoot(page, "analytics", screens=("1366", "phone"))
    assert console_errors == []


# Minutes after the first imported bar: it dips to 4995.00, then rallies to 5010.00.
REPLAY_PATH = [
    ("5000.00", "5001.00", "4999.00", "5000.50"),
    ("4999.00", "4999.50", "4995.00", "4997.00"),
    ("4997.00", "4998.00", "4996.50", "4997.50"),
    ("4998.00", "5006.00", "4997.75", "5005.00"),
    ("5005.00", "5010.00", "5004.50", "5009.00"),
]


def test_the_replay_panel_runs_a_tighter_stop_beside_the_actual_trade(
    logged_in_page: Page, console_errors
):
    """The actual trade: 1 MES bought at 5000.00 with the strategy's 10-point stop and
    target, out at 5010.00 (+$50). Replayed with an 8-tick stop on the recorded bars: in
    at the first bar's 5000.00 open, stopped at 4998.00 on the way down to the second
    bar's 4995.00 low, 2 points x $5 = -$10 (the test venue has no slippage or
    commission); then in the moderate risk mode, sized by that stop."""
    page = logged_in_page
    account = add_paper_account(page, balance="10000")
    strategy = add_strategy(
        page, "Trend", symbol="MES1!", quantity=1, stop_loss={"points": 10},
        take_profit={"points": 10},
    )  # fmt: skip
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    prices.update(front("MES"), Decimal("5000.00"), datetime.now(UTC), "test")
    send_alert(page, strategy["webhook_token"], symbol="MES1!", action="buy", price="5000.00")
    for price in ("4995.00", "5010.00"):
        prices.update(front("MES"), Decimal(price), datetime.now(UTC), "test")
    bars.book.clear()  # this process's live minute is no recorded bar
    first = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3)
    items = [
        {"time": (first + timedelta(minutes=n)).isoformat(), "open": o, "high": h, "low": low,
         "close": c, "volume": 10}
        for n, (o, h, low, c) in enumerate(REPLAY_PATH)
    ]  # fmt: skip
    imported = api(page, "POST", "/api/bars/import", {"symbol": "MES1!", "timeframe": "1m",
                                                       "items": items})  # fmt: skip
    assert imported["skipped"] == 0

    end = (first + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"/analytics?strategy_id={strategy['id']}&end={end}")
    summary = page.get_by_test_id("analytics-summary")
    expect(summary.locator('[data-field="net_pnl"]')).to_have_text("+50.00")

    replay = page.get_by_test_id("replay")
    error = replay.locator('[data-role="replay-error"]')
    replay.get_by_label("Stop loss (ticks)").fill("0")  # the API names what it refuses
    replay.get_by_role("button", name="Replay").click()
    expect(error).to_contain_text("overrides.stop_loss")
    expect(page.get_by_test_id("replay-compare")).to_be_hidden()

    replay.get_by_label("Stop loss (ticks)").fill("8")
    replay.get_by_role("button", name="Replay").click()

    expect(error).to_be_hidden()
    compare = page.get_by_test_id("replay-compare")

    def figures(name: str):
        return compare.locator("tr", has=page.locator("td", has_text=re.compile(f"^{name}$")))

    expect(figures("Trades").locator("td")).to_have_text(["Trades", "1", "1"])
    expect(figures("Net P&L").locator("td")).to_have_text(["Net P&L", "+50.00", "−10.00"])
    expect(figures("Win rate").locator("td")).to_have_text(["Win rate", "100 %", "0 %"])
    expect(figures("Max drawdown").locator("td")).to_have_text(["Max drawdown", "0.00", "10.00"])
    chart = page.get_by_test_id("replay-chart")
    expect(chart).to_have_attribute("data-series", "2")  # actual and replay, overlaid
    expect(chart).to_have_attribute("data-points", "4")  # each: the start and one exit
    expect(chart.locator("canvas").first).to_be_visible()
    expect(replay.locator('[data-role="replay-notes"]')).to_have_text("1 alert(s) replayed.")

    # moderate: $10,000 x 2 % = $200 over 8 ticks x $1.25 = 20 MES, each losing $10
    replay.get_by_label("Risk mode").select_option("moderate")
    replay.get_by_role("button", name="Replay").click()
    expect(figures("Net P&L").locator("td")).to_have_text(["Net P&L", "+50.00", "−200.00"])
    # the browser logs the refused call; nothing else may go wrong
    assert [e for e in console_errors if "status of 400" not in e] == []
    assert len(console_errors) == 1


def test_the_replay_panel_needs_a_strategy(logged_in_page: Page):
    page = logged_in_page
    close_two_trades(page)
    page.goto("/analytics")

    page.get_by_test_id("replay").get_by_role("button", name="Replay").click()

    error = page.get_by_test_id("replay").locator('[data-role="replay-error"]')
    expect(error).to_have_text(re.compile("Pick a strategy"))
