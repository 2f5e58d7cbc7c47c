"""Two-factor login in a real browser: turned on from Settings (the key read off the page,
the code computed as an authenticator app does), the backup codes shown once, a login
with a code that remembers the device, the next login without one, the device revoked, a
login with a backup code, and turning it off with the password and a code."""

import re
import time

import pyotp
from playwright.sync_api import Page, expect

from config import TestConfig
from tests.e2e.helpers import accept_dialogs, log_in
from tests.e2e.test_pages import assert_fits_the_screen


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login\?logged_out=1$"))


def dashboard(page: Page):
    return page.get_by_role("heading", name="Dashboard", exact=True)


def test_two_factor_from_settings_to_a_remembered_device(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    page.goto("/settings")
    box = page.get_by_test_id("two-factor")
    devices = box.get_by_test_id("trusted-devices")
    expect(devices).to_contain_text("No trusted devices.")

    box.get_by_role("button", name="Turn on two-factor login").click()
    shown = box.get_by_test_id("totp-secret")
    expect(shown).to_have_text(re.compile(r"^[A-Z2-7]{32}$"))
    secret = shown.inner_text()
    qr = box.get_by_role("img", name="QR code of the key for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0"), "the QR SVG did not load"
    shoot(page, "settings-two-factor-setup")

    box.get_by_label("Code from the app").fill("000000")
    box.get_by_role("button", name="Turn on", exact=True).click()
    expect(box.get_by_role("alert")).to_have_text("That code is wrong or was already used.")
    box.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    box.get_by_role("button", name="Turn on", exact=True).click()
    codes = box.get_by_test_id("backup-codes").locator("li")
    expect(codes).to_have_count(10)
    expect(codes.first).to_have_text(re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$"))
    backup = codes.all_inner_texts()
    shoot(page, "settings-two-factor-backup-codes", screens=("1366", "phone"))
    assert_fits_the_screen(page)
    box.get_by_role("button", name="I saved them").click()
    expect(box.locator('[data-role="twofa-state"]')).to_contain_text("10 backup codes left")
    expect(box.get_by_test_id("backup-codes")).to_be_hidden()  # shown once: gone on reload
    shoot(page, "settings-two-factor-on")

    log_out(page)
    log_in(page)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))
    assert page.request.get("/api/settings").status == 401, "the password alone logs nobody in"
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.get_by_label("Remember this device for 30 days").check()
    shoot(page, "login-two-factor")
    page.get_by_role("button", name="Verify").click()
    expect(dashboard(page)).to_be_visible()

    page.goto("/settings")
    expect(devices.locator("tbody tr")).to_have_count(1)
    expect(devices.locator("tbody tr").first).to_contain_text("Chrome on Linux")

    log_out(page)
    log_in(page)  # the remembered device: no code asked
    expect(dashboard(page)).to_be_visible()

    page.goto("/settings")
    asked = accept_dialogs(page)
    devices.get_by_role("button", name="Revoke").click()
    expect(devices).to_contain_text("No trusted devices.")
    assert asked == ["Revoke this device? Its next login asks for a code again."]
    asked.clear()
    log_out(page)
    log_in(page)
    expect(page).to_have_url(re.compile(r"/login/2fa$"))
    page.get_by_label("Code").fill(backup[0])  # the phone is not at hand
    page.get_by_role("button", name="Verify").click()
    expect(dashboard(page)).to_be_visible()

    # Turning it off takes the password and a code; a wrong one says so in the form.
    page.goto("/settings")
    expect(box.locator('[data-role="twofa-state"]')).to_contain_text("9 backup codes left")
    proof = box.get_by_test_id("twofa-proof")
    proof.get_by_label("Password", exact=True).fill(TestConfig.ADMIN_PASSWORD)
    proof.get_by_label("Code").fill(backup[0])  # used up at the login
    proof.get_by_role("button", name="Turn off").click()
    expect(proof.get_by_role("alert")).to_have_text("That code is wrong or was already used.")
    proof.get_by_label("Password", exact=True).fill(TestConfig.ADMIN_PASSWORD)
    proof.get_by_label("Code").fill(backup[1])
    proof.get_by_role("button", name="Turn off").click()
    expect(box.locator('[data-role="twofa-state"]')).to_contain_text("Off:")
    assert "Turn two-factor login off? Trusted devices are forgotten too." in asked
    log_out(page)
    log_in(page)
    expect(dashboard(page)).to_be_visible()
    assert [e for e in console_errors if "400" not in e] == []  # the wrong codes' answers
