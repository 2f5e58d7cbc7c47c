"""The accounts page reads a Tradovate account's own limits (the fake's userAccountAutoLiq)
and offers them as the account's rules, applied only when the trader says so."""

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import TRADOVATE_CREDENTIALS
from tests.e2e.helpers import api
from tests.fakes.tradovate import FakeTradovate


@pytest.fixture
def fake():
    fake = FakeTradovate().start()
    fake.add_user(TRADOVATE_CREDENTIALS)
    yield fake
    fake.stop()


@pytest.fixture
def live_config(fake) -> dict:
    return {"TRADOVATE_API_URL": fake.url}


def test_tradovates_limits_are_offered_and_applied_as_the_rules(logged_in_page: Page, fake):
    page = logged_in_page
    account = api(
        page,
        "POST",
        "/api/accounts",
        {"name": "Funded", "broker": "tradovate", "credentials": dict(TRADOVATE_CREDENTIALS)},
    )
    fake.auto_liq[720001] = {  # the fake's first account, which DeskPilot trades
        "dailyLossAutoLiq": 1000,
        "trailingMaxDrawdown": 2500,
        "trailingMaxDrawdownMode": "EOD",
        "trailingMaxDrawdownLimit": 50000,
        "changesLocked": True,
    }
    page.goto("/accounts")
    page.get_by_text("Funded-account rules", exact=True).click()
    box = page.get_by_test_id("broker-limits")
    box.get_by_role("button", name="Read Tradovate's limits").click()
    expect(box.locator('[data-rule="max_daily_loss"]')).to_have_text("Max daily loss: $1000.00")
    expect(box.locator('[data-rule="trailing_drawdown"]')).to_have_text(
        "Trailing drawdown: $2500.00"
    )
    expect(box.locator('[data-rule="safety_buffer"]')).to_have_text("Safety buffer: $100.00")
    expect(box).to_contain_text("Tradovate has locked changes")
    assert (
        api(page, "GET", f"/api/risk/{account['id']}")["trailing_drawdown"] is None
    )  # offered only

    box.get_by_role("button", name="Use these as my rules").click()
    expect(page.get_by_test_id("rule-room")).to_contain_text("Trailing drawdown")
    risk = api(page, "GET", f"/api/risk/{account['id']}")
    assert (risk["trailing_drawdown"], risk["max_daily_loss"], risk["safety_buffer"]) == (
        "2500.00",
        "1000.00",
        "100.00",
    )
    assert risk["trailing_drawdown_mode"] == "eod"


def test_an_account_without_limits_says_so(logged_in_page: Page):
    page = logged_in_page
    account = api(
        page,
        "POST",
        "/api/accounts",
        {"name": "Plain", "broker": "tradovate", "credentials": dict(TRADOVATE_CREDENTIALS)},
    )
    page.goto("/accounts")
    page.get_by_text("Funded-account rules", exact=True).click()
    box = page.get_by_test_id("broker-limits")
    box.get_by_role("button", name="Read Tradovate's limits").click()
    expect(box).to_contain_text("Tradovate sets no auto-liquidation limits")
    assert api(page, "GET", f"/api/risk/{account['id']}")["trailing_drawdown"] is None
