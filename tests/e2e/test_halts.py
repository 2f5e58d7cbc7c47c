"""Halting and lifting an account from the accounts page, in a real browser."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import accept_dialogs, add_paper_account, api


def account_row(page: Page, name: str):
    return page.locator("tr.account-row", has_text=name)


def test_a_trader_halts_an_account_and_lifts_the_halt(logged_in_page: Page, console_errors, shoot):
    page = logged_in_page
    account = add_paper_account(page, "Paper 50K")
    add_paper_account(page, "Paper 25K", balance="25000")
    asked = accept_dialogs(page)
    page.goto("/accounts")
    row = account_row(page, "Paper 50K")
    expect(row.get_by_test_id("halt-status")).to_have_text("ready")

    row.get_by_label("Reason to halt Paper 50K").fill("CPI at 8:30")
    row.get_by_role("button", name="Halt", exact=True).click()

    expect(row.get_by_test_id("halt-status")).to_contain_text("halted: manual")
    expect(row.get_by_test_id("halt-reason")).to_have_text("CPI at 8:30")
    expect(account_row(page, "Paper 25K").get_by_test_id("halt-status")).to_have_text("ready")
    shoot(page, "accounts-halted")
    limits = api(page, "GET", f"/api/risk/{account['id']}")
    assert (limits["halted_by"], limits["halt_reason"]) == ("manual", "CPI at 8:30")

    row.get_by_role("button", name="Lift halt").click()

    expect(row.get_by_test_id("halt-status")).to_have_text("ready")
    expect(row.get_by_role("button", name="Halt", exact=True)).to_be_visible()
    assert asked == ["Lift the halt on Paper 50K? Alerts trade on it again."]
    assert api(page, "GET", f"/api/risk/{account['id']}")["halted"] is False
    logged = api(page, "GET", f"/api/logs?account_id={account['id']}")["items"]
    assert [entry["message"] for entry in logged][:2] == [
        "account 'Paper 50K' halt lifted (manual): lifted by the trader",
        "account 'Paper 50K' halted (manual): CPI at 8:30",
    ]
    assert console_errors == []


def test_a_kill_switch_halt_offers_the_re_arm_instead_of_a_lift(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    add_paper_account(page, "Paper 50K")
    page.goto("/accounts")
    api(page, "POST", "/api/kill-switch")
    page.reload()

    row = account_row(page, "Paper 50K")
    expect(row.get_by_test_id("halt-status")).to_contain_text("halted: kill switch")
    expect(row.get_by_role("button", name="Lift halt")).to_have_count(0)
    expect(row.get_by_role("button", name="Halt", exact=True)).to_have_count(0)
    shoot(page, "accounts-kill-switch-halt")
    row.get_by_role("link", name="control center").click()
    expect(page).to_have_url(re.compile(r"/control-center$"))
    assert console_errors == []
