"""Step-up in a real browser: with two-factor login on, re-arming the kill switch from the
control center asks for a code in a dialog (static/js/step_up.js); a wrong code is said
there and re-arms nothing, a right one re-arms without clicking Re-arm again. And SMS as
the second factor turned on from Settings against the fake TextBelt."""

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import accept_dialogs, api, log_in
from tests.e2e.test_two_factor import dashboard, log_out

REARM_QUESTION = (
    "Re-arm? Alerts will be executed again and the accounts the kill switch halted resume "
    "trading. Accounts halted for other reasons stay halted."
)


@pytest.fixture
def live_config(fake_textbelt) -> dict:
    return {"TEXTBELT_URL": fake_textbelt.url}


def test_rearming_the_kill_switch_asks_for_a_code_then_rearms(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    page.goto("/settings")
    secret = api(page, "POST", "/api/2fa/setup")["secret"]
    api(page, "POST", "/api/2fa/enable", {"code": pyotp.TOTP(secret).now()})
    api(page, "POST", "/api/kill-switch")

    page.goto("/control-center")
    asked = accept_dialogs(page)
    state = page.get_by_test_id("kill-switch-state")
    expect(state).to_have_attribute("data-engaged", "true")
    page.get_by_test_id("kill-switch-rearm").click()

    prompt = page.get_by_test_id("step-up")
    expect(prompt).to_be_visible()
    expect(prompt).to_contain_text("Re-arming the kill switch needs a fresh code")
    prompt.get_by_label("Code").fill("000000")
    prompt.get_by_role("button", name="Confirm").click()
    expect(prompt.get_by_role("alert")).to_have_text("That code is wrong or was already used.")
    expect(state).to_have_attribute("data-engaged", "true")
    shoot(page, "step-up-prompt")

    prompt.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    prompt.get_by_role("button", name="Confirm").click()
    expect(prompt).to_be_hidden()
    expect(state).to_have_attribute("data-engaged", "false")
    expect(page.get_by_test_id("kill-switch-result")).to_contain_text("Re-armed")
    assert asked == [REARM_QUESTION]
    # The refusals' answers (the 401 that opens the prompt, the wrong code's 400) are logged
    # by the browser itself; nothing else may be.
    assert [e for e in console_errors if " 401 " not in e and " 400 " not in e] == []


def test_sms_turned_on_from_settings_then_a_login_by_backup_code(
    logged_in_page: Page, fake_textbelt, console_errors
):
    page = logged_in_page
    page.goto("/settings")
    api(page, "PUT", "/api/settings", {"textbelt_key": "tb-key", "sms_to": ["+15551234567"]})
    page.reload()
    box = page.get_by_test_id("two-factor")
    box.get_by_role("button", name="Use SMS instead").click()
    expect(box).to_contain_text("A code was texted to ••• 4567")
    code = re.search(r"(\d{6}) is your code", fake_textbelt.texts[-1]["message"]).group(1)
    box.get_by_label("Code from the text").fill(code)
    box.get_by_role("button", name="Turn on by SMS").click()
    codes = box.get_by_test_id("backup-codes").locator("li")
    expect(codes).to_have_count(10)
    backup = codes.all_inner_texts()
    box.get_by_role("button", name="I saved them").click()
    expect(box.locator('[data-role="twofa-state"]')).to_contain_text("On by SMS")

    log_out(page)
    log_in(page)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))
    page.get_by_role("button", name="Text me a code").click()  # within 30 s of the last
    expect(page.get_by_test_id("login-error")).to_contain_text("A code was just sent; wait")
    page.get_by_label("Code").fill(backup[0])
    page.get_by_role("button", name="Verify").click()
    expect(dashboard(page)).to_be_visible()
    assert len(fake_textbelt.texts) == 1
    assert [e for e in console_errors if " 429 " not in e] == []
