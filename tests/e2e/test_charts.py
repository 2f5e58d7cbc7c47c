"""The charts page (DESIGN §5.3 /charts) in a real browser: imported bars drawn in each of
the five styles, the controls kept in the URL, a refused parameter shown at its field, the
open candle moved by a new price without a reload, and the trader's fill and stop marked."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.services.market import prices
from tests.conftest import front
from tests.e2e.helpers import add_paper_account, add_strategy, api, send_alert

MINUTES = 60
STYLES = {  # style -> the parameters its drawing is checked with
    "candles": {},
    "heikin-ashi": {},
    "renko": {"box": "1"},
    "kagi": {"reversal": "2"},
    "point-and-figure": {"box": "1", "reversal": "3"},
}

# How many pixels of the chart's canvases are in the up or down colour (#3fb97a,
# #e5534b): a chart without data has its background, grid and grey axis text only.
DRAWN_PIXELS = """(el) => {
  let drawn = 0;
  for (const canvas of el.querySelectorAll("canvas")) {
    if (canvas.hidden || !canvas.width || !canvas.height) continue;
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const rgb = `${data[i]},${data[i + 1]},${data[i + 2]}`;
      if (rgb === "63,185,122" || rgb === "229,83,75") drawn += 1;
    }
  }
  return drawn;
}"""


def zigzag_items(now: datetime) -> list[dict]:
    """An hour of minutes up to the last whole one, closes zigzagging 10 points up and
    down, so every style has bricks, turns and columns to draw."""
    last = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    items, close = [], Decimal("6000")
    for i in range(MINUTES):
        opened = close
        close = Decimal("6000") + abs((i % 20) - 10)
        items.append(
            {
                "time": (last - timedelta(minutes=MINUTES - 1 - i)).isoformat(),
                "open": str(opened),
                "high": str(max(opened, close) + Decimal("0.5")),
                "low": str(min(opened, close) - Decimal("0.5")),
                "close": str(close),
                "volume": 10 + i,
            }
        )
    return items


@pytest.fixture
def charted(logged_in_page: Page) -> Page:
    page = logged_in_page
    body = {"symbol": "MES1!", "timeframe": "1m", "items": zigzag_items(datetime.now(UTC))}
    assert api(page, "POST", "/api/bars/import", body) == {"imported": MINUTES, "skipped": 0}
    return page


def expect_drawn(page: Page, style: str) -> None:
    chart = page.get_by_test_id("chart")
    expect(chart).to_have_attribute("data-style", style)
    expect(chart).not_to_have_attribute("data-count", "0")
    page.wait_for_timeout(100)  # the library paints on the next animation frame
    assert chart.evaluate(DRAWN_PIXELS) > 100, f"{style}: nothing drawn"


def test_each_style_is_drawn_and_the_url_keeps_the_controls(charted: Page, console_errors, shoot):
    page = charted
    page.goto("/charts")
    expect(page).to_have_url(f"{page.url.split('?')[0]}?symbol=MES1%21&timeframe=1m&style=candles")
    expect_drawn(page, "candles")
    shoot(page, "charts-candles")
    assert int(page.get_by_test_id("chart").get_attribute("data-count")) == MINUTES

    for style, params in list(STYLES.items())[1:]:
        page.get_by_label("Style").select_option(style)
        for name, value in params.items():
            page.locator(f'input[name="{name}"]').fill(value)
        page.get_by_role("button", name="Show").click()
        expect_drawn(page, style)
        shoot(page, f"charts-{style}")
        for name, value in {"style": style, **params}.items():
            assert f"{name}={value}" in page.url, page.url

    page.reload()  # the URL alone names the chart
    expect_drawn(page, "point-and-figure")
    expect(page.get_by_label("Style")).to_have_value("point-and-figure")
    expect(page.locator('input[name="box"]')).to_have_value("1")
    assert console_errors == []


def test_a_refused_box_is_shown_at_its_field(charted: Page):
    page = charted
    page.goto("/charts?symbol=MES1!&timeframe=1m&style=renko&box=-1")
    note = page.locator('[data-error-for="box"]')
    expect(note).to_be_visible()
    expect(note).to_contain_text("above 0")
    expect(page.locator('input[name="box"]')).to_have_attribute("aria-invalid", "true")

    page.locator('input[name="box"]').fill("2")
    page.get_by_role("button", name="Show").click()
    expect(note).to_be_hidden()
    expect_drawn(page, "renko")


def test_a_new_price_moves_the_open_candle_and_the_fill_and_stop_are_marked(charted: Page, shoot):
    page = charted
    account = add_paper_account(page)
    strategy = add_strategy(page, symbol="MES1!", quantity=1, stop_loss={"points": 4})
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    prices.update(front("MES"), Decimal("6050"), datetime.now(UTC), "test")
    send_alert(page, strategy["webhook_token"], action="buy", symbol="MES1!", quantity=1)

    page.goto("/charts")  # the open position's symbol by default
    expect(page.get_by_label("Symbol")).to_have_value(front("MES"))
    chart = page.get_by_test_id("chart")
    expect(chart).to_have_attribute("data-last-close", "6050")
    expect(chart).to_have_attribute("data-fills", "1")
    expect(chart).to_have_attribute("data-stops", "1")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    page.evaluate("window.notReloaded = true")

    prices.update(front("MES"), Decimal("6061.25"), datetime.now(UTC), "test")
    expect(chart).to_have_attribute("data-last-close", "6061.25")
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "charts-fill-and-stop")
