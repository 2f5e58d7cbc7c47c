"""The news blackout of an account, set from the accounts page, in a real browser."""

from playwright.sync_api import Page, expect

from tests.e2e.helpers import add_paper_account, api


def test_a_trader_sets_a_blackout_that_flattens_before_the_event_and_turns_it_off(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    account = add_paper_account(page, "Paper 50K")
    page.goto("/accounts")
    details = page.locator(f'[data-risk-for="{account["id"]}"]')
    expect(details.get_by_test_id("news-summary")).to_have_text("off")
    details.get_by_text("News blackout").click()

    form = details.get_by_test_id("news-form")
    form.get_by_label("Minutes before the event").fill("5")
    form.get_by_label("Minutes after the event").fill("10")
    form.get_by_label("Events of impact").select_option("medium")
    form.get_by_label("Flatten before the event").check()
    form.get_by_role("button", name="Save blackout").click()

    summary = page.locator(f'[data-risk-for="{account["id"]}"]').get_by_test_id("news-summary")
    expect(summary).to_contain_text("flat before the event")
    expect(summary).to_contain_text("5 min before to 10 min after medium-impact events")
    assert api(page, "GET", f"/api/risk/{account['id']}")["news_blackout"] == {
        "before_minutes": 5,
        "after_minutes": 10,
        "min_impact": "medium",
        "flatten": True,
    }
    form = page.locator(f'[data-risk-for="{account["id"]}"]').get_by_test_id("news-form")
    expect(form.get_by_label("Flatten before the event")).to_be_checked()
    shoot(page, "accounts-news-blackout")

    form.get_by_label("Minutes before the event").fill("")
    form.get_by_role("button", name="Save blackout").click()

    expect(
        page.locator(f'[data-risk-for="{account["id"]}"]').get_by_test_id("news-summary")
    ).to_have_text("off")
    assert api(page, "GET", f"/api/risk/{account['id']}")["news_blackout"] is None
    assert console_errors == []
