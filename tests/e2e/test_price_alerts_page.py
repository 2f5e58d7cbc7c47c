"""The price alerts of /alerts (DESIGN §5.3) in a real browser: a rule of two conditions
made through the form (a refused value shown at its row's field first), listed in words,
switched off and on by its toggle, fired by prices that cross (its row follows without a
reload and its disclosure shows what the conditions saw), and deleted."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.domain.price_rules import KINDS
from app.services.market import price_alerts, prices
from tests.conftest import front
from tests.e2e.conftest import SCREENS, VIEWPORT, LiveServer
from tests.e2e.helpers import accept_dialogs, api


@pytest.fixture(autouse=True)
def fresh_memory():
    """The rules a price is looked at against live in the process: none from another test."""
    price_alerts.forget()
    yield
    price_alerts.forget()


def watch(server: LiveServer) -> None:
    """What the server's job does every 2 s (jobs do not run under test): write the queued
    firings, publish them, and load the enabled price rules for the prices."""
    with server.app.app_context():
        price_alerts.watch(datetime.now(UTC))


def price(value: str) -> None:
    prices.update(front("MES"), Decimal(value), datetime.now(UTC), "test")


def condition(page: Page, index: int):
    return page.locator("[data-condition-row]").nth(index)


def test_a_rule_made_in_the_form_is_listed_in_words_fires_and_is_deleted(
    logged_in_page: Page, restartable_server: LiveServer, console_errors, shoot
):
    page = logged_in_page
    momentum = {"name": "Momentum", "symbol": "MES1!", "join": "or", "conditions": [
        {"kind": "rsi_above", "value": "70", "period": 14},
        {"kind": "ema_cross_above", "fast": 9, "slow": 21},
        {"kind": "sentiment_above", "value": "0.5"},
    ]}  # fmt: skip
    momentum = api(page, "POST", "/api/price-alerts", momentum)
    page.goto("/alerts")
    listed = page.get_by_test_id("price-alerts")
    expect(listed.locator(f'[data-price-alert-id="{momentum["id"]}"]')).to_contain_text(
        "RSI(14) above 70 OR EMA(9) crosses above EMA(21) OR sentiment above 0.5"
    )
    kinds = condition(page, 0).get_by_label("Kind").locator("option")
    assert set(kinds.evaluate_all("options => options.map((o) => o.value)")) == KINDS
    expect(kinds.filter(has_text="mean news score")).to_have_count(2)

    form = page.get_by_test_id("price-alert-form")
    form.get_by_label("Name").fill("MES breakout")
    form.get_by_label("Cooldown (seconds)").fill("60")
    form.get_by_label("Max triggers a day").fill("3")
    condition(page, 0).get_by_label("Kind").select_option("crosses_above")
    condition(page, 0).get_by_label("Value").fill("6000")
    form.get_by_role("button", name="Add condition").click()
    condition(page, 1).get_by_label("Kind").select_option("ema_cross_below")
    expect(condition(page, 1).get_by_label("Value")).to_be_hidden()  # fast and slow instead
    expect(condition(page, 1).get_by_label("Fast period")).to_be_visible()
    condition(page, 1).get_by_label("Kind").select_option("price_below")
    condition(page, 1).get_by_label("Value").fill("-6050")
    form.get_by_role("button", name="Add price alert").click()
    value = condition(page, 1).get_by_label("Value")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(condition(page, 1).locator(".field-message")).to_have_text("must be above 0")
    expect(condition(page, 0).locator(".field-message")).to_have_count(0)
    shoot(page, "price-alerts-refused")

    value.fill("6050")
    add = form.locator('[data-role="add-condition"]')
    for _ in range(8):
        add.click()
    expect(add).to_be_disabled()  # ten at most, as the API takes
    expect(add).to_have_text("At most 10 conditions")
    for _ in range(8):  # the rows after a removed one are numbered again
        form.get_by_role("button", name="Remove condition 3", exact=True).click()
    expect(page.locator("[data-condition-row]")).to_have_count(2)
    expect(condition(page, 1).get_by_label("Value")).to_have_attribute(
        "name", "conditions[1].value"
    )
    form.get_by_role("button", name="Add price alert").click()
    row = listed.locator("tr[data-price-alert-id]", has_text="MES breakout")
    expect(row.get_by_test_id("conditions")).to_have_text("crosses above 6000 AND price below 6050")
    for shown in (front("MES"), "1m", "60 s", "3", "never"):
        expect(row).to_contain_text(shown)
    [made] = [
        r for r in api(page, "GET", "/api/price-alerts")["items"] if r["id"] != momentum["id"]
    ]
    assert made["conditions"] == [
        {"kind": "crosses_above", "value": "6000"}, {"kind": "price_below", "value": "6050"},
    ]  # fmt: skip

    switch = row.get_by_role("checkbox", name="Enable MES breakout")
    switch.uncheck()
    # Once the API took it; the wait is generous for a loaded CI machine.
    expect(row).to_have_class("price-alert-row disabled", timeout=15_000)
    assert api(page, "GET", "/api/price-alerts")["items"][1]["enabled"] is False
    switch.check()
    expect(row).not_to_have_class("price-alert-row disabled", timeout=15_000)
    assert api(page, "GET", "/api/price-alerts")["items"][1]["enabled"] is True

    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    page.evaluate("window.notReloaded = true")
    watch(restartable_server)  # the rule is looked at on each price from now on
    price("5995")  # below the level: the side is learnt
    price("6002.25")  # crosses above it, still below 6050
    watch(restartable_server)
    expect(row.get_by_test_id("last-triggered")).not_to_have_text("never")
    assert page.evaluate("window.notReloaded") is True

    page.get_by_text("Triggers of MES breakout", exact=True).click()
    firing = page.get_by_test_id("triggers").locator(":scope > li")
    expect(firing).to_have_count(1)
    expect(firing).to_contain_text("crosses above 6000: saw 6002.25 met")
    expect(firing).to_contain_text("price below 6050: saw 6002.25 met")
    shoot(page, "price-alerts-triggers", screens=("1366", "phone"))
    page.set_viewport_size(SCREENS["phone"])  # the table scrolls in its card, not the page
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size(VIEWPORT)

    asked = accept_dialogs(page)
    row.get_by_role("button", name="Delete").click()
    expect(listed.locator("tr[data-price-alert-id]")).to_have_count(1)
    assert asked == ["Delete price alert MES breakout? Its triggers go with it."]
    assert [e for e in console_errors if "status of 400" not in e] == []  # the refusal
