"""The webhook defences in a real browser: a strategy's signing secret, shown once on its
card, and the allowlist field in Settings."""

import hashlib
import hmac
import json

from playwright.sync_api import Page, expect

from tests.e2e.helpers import accept_dialogs, add_paper_account, add_strategy, api
from tests.e2e.test_pages import strategy_card

ALERT = json.dumps({"action": "buy", "symbol": "MES1!", "quantity": 1, "price": "5000"})


def post_signed(page: Page, token: str, secret: str, body: str) -> int:
    signature = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Signature": signature}
    return page.request.post(f"/webhook/{token}", data=body, headers=headers).status


def test_signing_secret_is_created_shown_once_rotated_and_removed(
    logged_in_page: Page, console_errors: list[str]
):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Script", symbol="MES1!")
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    asked = accept_dialogs(page)
    page.goto("/strategies")
    card = strategy_card(page, "Script")
    expect(card.get_by_test_id("signing")).to_have_text("unsigned")

    card.get_by_role("button", name="Create secret").click()
    shown = card.locator('[data-role="signing-secret"]')
    expect(shown).to_be_visible()
    first = shown.inner_text()
    expect(card.get_by_test_id("signing")).to_have_text("signed")
    expect(card.get_by_text("it is not shown again")).to_be_visible()
    assert post_signed(page, strategy["webhook_token"], first, ALERT) == 200
    assert asked == []  # creating replaces nothing: no question

    page.reload()
    expect(shown).to_be_hidden()
    assert first not in page.content()
    card.get_by_role("button", name="Rotate secret").click()
    expect(shown).to_be_visible()
    second = shown.inner_text()
    assert second != first and "old one are refused" in asked[-1]
    body = json.dumps({**json.loads(ALERT), "id": "second"})
    assert post_signed(page, strategy["webhook_token"], first, body) == 401
    assert post_signed(page, strategy["webhook_token"], second, body) == 200

    card.get_by_role("button", name="Remove").click()
    expect(card.get_by_test_id("signing")).to_have_text("unsigned")
    assert api(page, "GET", f"/api/strategies/{strategy['id']}")["signed"] is False
    assert console_errors == []


def test_allowlist_is_saved_from_settings_and_a_bad_range_is_named(
    logged_in_page: Page, console_errors: list[str]
):
    page = logged_in_page
    page.goto("/settings")
    field = page.get_by_label("Addresses and ranges")
    form = page.locator("form", has=field)
    field.fill("203.0.113.0/24, 10.0.0.0/33")
    form.get_by_role("button", name="Save allowlist").click()
    expect(form.get_by_role("alert")).to_have_text(
        "Addresses and ranges: is not an IP address or CIDR range"
    )
    assert api(page, "GET", "/api/settings")["webhook_allowlist"] == []

    field.fill("203.0.113.9/24, 2001:DB8::/32")
    form.get_by_role("button", name="Save allowlist").click()
    expect(form.get_by_text("Allowlist saved.")).to_be_visible()
    assert api(page, "GET", "/api/settings")["webhook_allowlist"] == [
        "203.0.113.0/24",
        "2001:db8::/32",
    ]
    page.reload()
    expect(field).to_have_value("203.0.113.0/24, 2001:db8::/32")
    # The browser reports the refused save (a 400) itself; nothing else went wrong.
    assert [e for e in console_errors if "status of 400" not in e] == []
