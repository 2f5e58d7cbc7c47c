"""The pages in a real browser: login, navigation, and the setup pages' forms."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from app.services.market import prices
from config import TestConfig
from tests.conftest import front
from tests.e2e.conftest import SCREENS, VIEWPORT
from tests.e2e.helpers import (
    accept_dialogs,
    add_paper_account,
    add_strategy,
    api,
    log_in,
    send_alert,
)

NAV = {
    "Dashboard": "/",
    "Control center": "/control-center",
    "Strategies": "/strategies",
    "Accounts": "/accounts",
    "Traders": "/traders",
    "Trades": "/trades",
    "Analytics": "/analytics",
    "Charts": "/charts",
    "Alerts": "/alerts",
    "News": "/news",
    "Options": "/options",
    "Settings": "/settings",
}


# --- login -------------------------------------------------------------------------------


def test_a_visitor_is_sent_to_the_login_page(page: Page, live_server: str):
    page.goto("/accounts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccounts$"))
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_text("Please log in to continue.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)


def test_login_returns_to_the_page_asked_for(page: Page, live_server: str):
    page.goto("/accounts")
    page.get_by_label("Username").fill(TestConfig.ADMIN_USERNAME)
    page.get_by_label("Password").fill(TestConfig.ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/accounts")
    expect(page.get_by_role("heading", name="Accounts", exact=True)).to_be_visible()


def test_wrong_password_shows_an_error_and_keeps_the_username(page: Page, live_server: str):
    log_in(page, password="not the password")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    expect(page.get_by_label("Username")).to_have_value(TestConfig.ADMIN_USERNAME)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()


def test_five_wrong_passwords_lock_the_login_for_15_minutes(page: Page, live_server: str):
    for _ in range(4):
        log_in(page, password="not the password")
        expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    log_in(page, password="not the password")
    expect(page.get_by_test_id("login-error")).to_contain_text("locked for 15 minutes")

    log_in(page)  # the right password does not open a locked login
    expect(page.get_by_test_id("login-error")).to_contain_text("locked for 15 minutes")
    expect(page).to_have_url(re.compile(r"/login"))


def test_login_shows_the_dashboard(logged_in_page: Page, live_server: str):
    page = logged_in_page
    expect(page).to_have_url(f"{live_server}/")
    expect(page.locator(".topbar .who")).to_have_text(TestConfig.ADMIN_USERNAME)
    expect(page.get_by_test_id("recent-activity")).to_contain_text("login ok")
    expect(page.get_by_text("No accounts yet.")).to_be_visible()


def test_logout_ends_the_session(logged_in_page: Page, context):
    page = logged_in_page
    other_tab = context.new_page()
    other_tab.goto("/control-center")
    expect(other_tab.locator("[data-live-state]")).to_have_text("live")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login\?logged_out=1$"))
    expect(page.get_by_text("You are logged out.")).to_be_visible()
    expect(other_tab).to_have_url(re.compile(r"/login\?logged_out=1$"))  # told over Socket.IO
    expect(other_tab.get_by_text("You are logged out.")).to_be_visible()

    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert page.request.get("/api/accounts").status == 401


# --- every page --------------------------------------------------------------------------


def test_nav_links_every_page(logged_in_page: Page):
    links = logged_in_page.get_by_role("navigation", name="Main").get_by_role("link")
    expect(links).to_have_text(list(NAV))
    assert [link.get_attribute("href") for link in links.all()] == list(NAV.values())


def test_every_page_loads_without_console_errors_and_carries_a_csrf_token(
    logged_in_page: Page, console_errors: list[str]
):
    page = logged_in_page
    for label, path in NAV.items():
        response = page.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response}"
        expect(page.get_by_role("heading", level=1)).to_have_text(label)
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        assert token, f"{path} has no CSRF token"
        current = page.get_by_role("navigation", name="Main").get_by_role("link", name=label)
        expect(current).to_have_attribute("aria-current", "page")
    assert console_errors == []


def test_a_missing_page_says_so_and_links_back(logged_in_page: Page):
    page = logged_in_page
    response = page.goto("/no-such-page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    page.get_by_role("link", name="Back to the dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


# --- accounts ----------------------------------------------------------------------------


def test_paper_account_created_from_the_form_shows_its_starting_balance(logged_in_page: Page):
    page = logged_in_page
    page.goto("/accounts")
    form = page.get_by_test_id("account-form")
    form.get_by_label("Name", exact=True).fill("Paper 25K")
    form.get_by_label("Starting balance (USD)").fill("25000")
    form.get_by_role("button", name="Add account").click()

    row = page.locator("tr.account-row", has_text="Paper 25K")
    expect(row.get_by_test_id("balance")).to_have_text("25,000.00")
    expect(row).to_contain_text("paper")
    (account,) = api(page, "GET", "/api/accounts")["items"]
    assert account["name"] == "Paper 25K"
    assert account["starting_balance"] == account["cash_balance"] == "25000.00"

    page.goto("/")
    expect(page.get_by_test_id("equity")).to_contain_text("25,000.00")


def test_tradovate_credential_fields_show_only_for_tradovate(logged_in_page: Page):
    page = logged_in_page
    page.goto("/accounts")
    form = page.get_by_test_id("account-form")
    credentials = ["Username", "Password", "App id", "CID", "Secret (sec)"]
    environment = form.get_by_role("combobox", name="Environment")
    expect(environment).to_be_hidden()
    for label in credentials:
        expect(form.get_by_label(label, exact=True)).to_be_hidden()
    expect(form.get_by_label("Starting balance (USD)")).to_be_visible()

    form.get_by_label("Broker").select_option("tradovate")
    expect(environment).to_be_visible()
    for label in credentials:
        expect(form.get_by_label(label, exact=True)).to_be_visible()
    expect(form.get_by_label("Starting balance (USD)")).to_be_hidden()

    form.get_by_label("Broker").select_option("paper")
    expect(environment).to_be_hidden()
    for label in credentials:
        expect(form.get_by_label(label, exact=True)).to_be_hidden()


def test_tradovate_account_is_stored_with_credentials_that_never_come_back(logged_in_page: Page):
    page = logged_in_page
    page.goto("/accounts")
    form = page.get_by_test_id("account-form")
    form.get_by_label("Name", exact=True).fill("Tradovate demo")
    form.get_by_label("Broker").select_option("tradovate")
    form.get_by_label("Username", exact=True).fill("trader1")
    form.get_by_label("Password", exact=True).fill("s3cret-pass")
    form.get_by_label("App id").fill("DeskPilot")
    form.get_by_label("CID").fill("1234")
    form.get_by_label("Secret (sec)").fill("abcdef-secret")
    form.get_by_label("Tradovate account id").fill("556677")
    form.get_by_role("button", name="Add account").click()

    row = page.locator("tr.account-row", has_text="Tradovate demo")
    expect(row).to_contain_text("#556677")
    expect(row).to_contain_text("demo")
    (account,) = api(page, "GET", "/api/accounts")["items"]
    assert account["broker"] == "tradovate" and account["has_credentials"] is True
    assert account["broker_account_id"] == "556677"
    assert "credentials" not in account
    assert "s3cret-pass" not in page.content()


def test_incomplete_tradovate_credentials_name_the_missing_fields(logged_in_page: Page):
    page = logged_in_page
    page.goto("/accounts")
    form = page.get_by_test_id("account-form")
    form.get_by_label("Name", exact=True).fill("Tradovate live")
    form.get_by_label("Broker").select_option("tradovate")
    form.get_by_label("Username", exact=True).fill("trader1")
    form.get_by_role("button", name="Add account").click()

    expect(form.get_by_role("alert")).to_have_text("Tradovate credentials are incomplete.")
    for label in ["Password", "App id", "CID", "Secret (sec)"]:
        # The inline note joins the label's text, so find the field by its accessible name.
        field = form.get_by_role("textbox", name=label, exact=True)
        expect(field).to_have_class(re.compile("field-invalid"))
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description("is required")
    expect(form.get_by_label("Username", exact=True)).not_to_have_class(re.compile("invalid"))
    assert api(page, "GET", "/api/accounts")["items"] == []


def test_duplicate_account_name_shows_the_api_message_in_the_form(logged_in_page: Page):
    page = logged_in_page
    add_paper_account(page, "Paper 50K")
    page.goto("/accounts")
    form = page.get_by_test_id("account-form")
    form.get_by_label("Name", exact=True).fill("Paper 50K")
    form.get_by_role("button", name="Add account").click()

    expect(form.get_by_role("alert")).to_have_text("An account named 'Paper 50K' already exists.")
    name = form.get_by_role("textbox", name="Name", exact=True)
    expect(name).to_have_class(re.compile("field-invalid"))
    expect(name).to_have_accessible_description("is taken")
    assert len(api(page, "GET", "/api/accounts")["items"]) == 1


def test_risk_limits_saved_from_the_form_persist_after_reload(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    page.goto("/accounts")
    risk_row = page.locator(f'tr[data-risk-for="{account["id"]}"]')
    expect(risk_row.get_by_test_id("risk-summary")).to_contain_text("none set")
    risk_row.get_by_text("Risk limits").click()
    form = risk_row.get_by_test_id("risk-form")
    form.get_by_label("Max daily loss (USD)").fill("500")
    form.get_by_label("Max contracts / order").fill("3")
    form.get_by_label("Window start").fill("08:30")
    form.get_by_label("Window end").fill("15:00")
    form.get_by_role("button", name="Save limits").click()

    summary = risk_row.get_by_test_id("risk-summary")
    expect(summary).to_contain_text("daily loss 500.00")
    expect(summary).to_contain_text("3 per order")
    expect(summary).to_contain_text("08:30–15:00 America/Chicago")
    page.reload()
    expect(form.get_by_label("Max daily loss (USD)")).to_have_value("500.00")
    expect(form.get_by_label("Window start")).to_have_value("08:30")
    expect(form.get_by_label("Window end")).to_have_value("15:00")

    limits = api(page, "GET", f"/api/risk/{account['id']}")
    assert limits["max_daily_loss"] == "500.00"
    assert limits["max_contracts_per_order"] == 3
    assert limits["trading_window"] == {
        "start": "08:30",
        "end": "15:00",
        "timezone": "America/Chicago",
    }


def test_risk_mode_and_exposure_limit_are_set_and_cleared_from_the_form(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    page.goto("/accounts")
    risk_row = page.locator(f'tr[data-risk-for="{account["id"]}"]')
    risk_row.get_by_text("Risk limits").click()
    form = risk_row.get_by_test_id("risk-form")
    expect(form.get_by_label("Risk mode")).to_have_value("")  # none: the strategies' sizes
    form.get_by_label("Risk mode").select_option("moderate")
    form.get_by_label("Max exposure (USD)").fill("60000")
    form.get_by_role("button", name="Save limits").click()

    summary = risk_row.get_by_test_id("risk-summary")
    expect(summary).to_contain_text("risk mode moderate")
    expect(summary).to_contain_text("exposure 60,000.00")
    limits = api(page, "GET", f"/api/risk/{account['id']}")
    assert (limits["risk_mode"], limits["max_exposure"]) == ("moderate", "60000.00")

    risk_row.get_by_text("Risk limits").click()  # the page reloaded with it folded
    form.get_by_label("Risk mode").select_option("none")
    form.get_by_label("Max exposure (USD)").fill("")
    form.get_by_role("button", name="Save limits").click()
    expect(summary).to_contain_text("none set")
    limits = api(page, "GET", f"/api/risk/{account['id']}")
    assert (limits["risk_mode"], limits["max_exposure"]) == (None, None)


def test_clearing_the_trading_window_removes_it(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    api(
        page,
        "PUT",
        f"/api/risk/{account['id']}",
        {"trading_window": {"start": "08:30", "end": "15:00"}},
    )
    page.goto("/accounts")
    risk_row = page.locator(f'tr[data-risk-for="{account["id"]}"]')
    risk_row.get_by_text("Risk limits").click()
    form = risk_row.get_by_test_id("risk-form")
    form.get_by_label("Window start").fill("")
    form.get_by_label("Window end").fill("")
    form.get_by_role("button", name="Save limits").click()

    expect(risk_row.get_by_test_id("risk-summary")).to_contain_text("none set")
    assert api(page, "GET", f"/api/risk/{account['id']}")["trading_window"] is None


def test_bad_trading_window_shows_the_field_error(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    page.goto("/accounts")
    risk_row = page.locator(f'tr[data-risk-for="{account["id"]}"]')
    risk_row.get_by_text("Risk limits").click()
    form = risk_row.get_by_test_id("risk-form")
    form.get_by_label("Window start").fill("8:30")
    form.get_by_label("Window end").fill("15:00")
    form.get_by_role("button", name="Save limits").click()

    expect(form.get_by_role("alert")).to_contain_text("must be a time as HH:MM")
    start = form.get_by_role("textbox", name="Window start", exact=True)
    expect(start).to_have_class(re.compile("field-invalid"))
    expect(start).to_have_accessible_description("must be a time as HH:MM (24-hour)")


def test_account_enabled_switch_saves_at_once(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    page.goto("/accounts")
    switch = page.get_by_role("checkbox", name="Enable Paper 50K")
    expect(switch).to_be_checked()
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/accounts/{account['id']}") and r.request.method == "PUT"
    ) as answer:
        switch.click()
    assert answer.value.ok
    expect(page.locator("tr.account-row", has_text="Paper 50K")).to_have_class(
        re.compile("disabled")
    )
    assert api(page, "GET", f"/api/accounts/{account['id']}")["enabled"] is False

    page.reload()
    expect(switch).not_to_be_checked()
    switch.click()
    expect(page.locator("tr.account-row", has_text="Paper 50K")).not_to_have_class(
        re.compile("disabled")
    )
    page.reload()
    expect(switch).to_be_checked()


def test_deleting_an_account_asks_first(logged_in_page: Page):
    page = logged_in_page
    add_paper_account(page, "Scratch")
    page.goto("/accounts")
    asked = accept_dialogs(page)
    page.locator("tr.account-row", has_text="Scratch").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No accounts yet.")).to_be_visible()
    assert asked == ["Delete account Scratch?"]


# --- strategies --------------------------------------------------------------------------


def strategy_card(page: Page, name: str):
    return page.locator("section.strategy", has=page.get_by_role("heading", name=name, exact=True))


def test_new_strategy_shows_its_webhook_url_and_alert_message(
    logged_in_page: Page, live_server: str
):
    page = logged_in_page
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("MES trend")
    form.get_by_label("Default symbol").fill("MES1!")
    form.get_by_label("Take profit amount").fill("16")
    form.get_by_label("Take profit unit").select_option("ticks")
    form.get_by_label("Stop loss amount").fill("4")
    form.get_by_label("Stop loss unit").select_option("points")
    form.get_by_role("button", name="Create strategy").click()

    card = strategy_card(page, "MES trend")
    url = card.get_by_test_id("webhook-url")
    expect(url).to_contain_text(f"{live_server}/webhook/")
    expect(card.get_by_test_id("alert-message")).to_contain_text(
        '"action": "{{strategy.order.action}}"'
    )
    expect(card.locator('[data-fact="take_profit"]')).to_have_text("16 ticks")
    expect(card.locator('[data-fact="stop_loss"]')).to_have_text("4 points")
    expect(card.locator('[data-fact="symbol"]')).to_have_text("MES1!")

    (stored,) = api(page, "GET", "/api/strategies")["items"]
    assert stored["take_profit"] == {"ticks": "16"}
    assert stored["stop_loss"] == {"points": "4"}
    assert stored["trailing_stop"] is None
    assert stored["symbol"] == "MES1!"
    assert url.inner_text().strip() == stored["webhook_url"]
    assert stored["webhook_url"].endswith("/webhook/" + stored["webhook_token"])


def test_a_strategys_break_even_is_set_shown_and_refused_by_field(logged_in_page: Page):
    page = logged_in_page
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("MES trend")
    form.get_by_label("Stop loss amount").fill("8")
    form.get_by_label("Break-even stop beyond the entry amount").fill("1")
    form.get_by_role("button", name="Create strategy").click()
    trigger = form.locator('[data-exit="break_even.trigger"]')
    expect(trigger).to_have_class(re.compile(r"\bfield-invalid\b"))  # no trigger given
    expect(form.get_by_role("alert")).to_contain_text("trigger")

    form.get_by_label("Break-even once price gains amount").fill("8")
    form.get_by_role("button", name="Create strategy").click()

    card = strategy_card(page, "MES trend")
    expect(card.locator('[data-fact="break_even"]')).to_have_text(
        "after 8 ticks, stop 1 tick past the entry"
    )
    (stored,) = api(page, "GET", "/api/strategies")["items"]
    assert stored["break_even"] == {"trigger": {"ticks": "8"}, "offset": {"ticks": "1"}}


def test_a_strategys_targets_and_break_even_are_previewed_from_the_live_price(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    add_paper_account(page)  # its broker supplies the live price (the paper feed's 6000)
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    preview = form.get_by_test_id("strategy-preview")
    form.get_by_label("Name", exact=True).fill("Scale out")
    form.get_by_label("Default symbol").fill("MES1!")
    form.get_by_label("Quantity").fill("2")
    form.get_by_label("Stop loss amount").fill("8")
    form.get_by_label("Target 1 amount").fill("8")
    form.get_by_label("Target 1 percent of position").fill("50")
    form.get_by_label("Target 2 amount").fill("4")  # nearer than the first
    form.get_by_label("Target 2 percent of position").fill("50")
    form.get_by_label("Break-even once price gains unit").select_option("first_target")
    expect(preview).to_contain_text(
        "Buy: take_profit[1]: 6001 is not beyond the previous target 6002"
    )
    form.get_by_label("Target 2 amount").fill("16")
    mes = front("MES")
    expect(preview).to_have_text(
        f"{mes} from 6000 — Buy: targets 1 @ 6002, 1 @ 6004 · stop 5998 · break-even at 6002 "
        "→ stop 6000 | Sell: targets 1 @ 5998, 1 @ 5996 · stop 6002 · break-even at 5998 → "
        "stop 6000"
    )
    shoot(page, "strategies-preview")
    form.get_by_role("button", name="Create strategy").click()

    card = strategy_card(page, "Scale out")
    expect(card.locator('[data-fact="take_profit"]')).to_have_text(
        "8 ticks (50 %), 16 ticks (50 %)"
    )
    expect(card.locator('[data-fact="break_even"]')).to_have_text(
        "at the first target, stop at the entry"
    )
    (stored,) = api(page, "GET", "/api/strategies")["items"]
    assert stored["take_profit"] == [
        {"ticks": "8", "percent_of_position": "50"},
        {"ticks": "16", "percent_of_position": "50"},
    ]
    assert stored["break_even"] == {"trigger": "first_target"}
    card.get_by_text("Edit").click()
    edit = card.locator("form")
    expect(edit.get_by_label("Target 2 amount")).to_have_value("16")
    expect(edit.get_by_label("Break-even once price gains unit")).to_have_value("first_target")
    assert [e for e in console_errors if "400" not in e] == []


def test_copy_puts_the_webhook_url_on_the_clipboard(logged_in_page: Page, context):
    page = logged_in_page
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    strategy = add_strategy(page)
    page.goto("/strategies")
    row = strategy_card(page, "MES trend").locator(".copy-row", has_text="Webhook URL")
    row.get_by_role("button", name="Copy").click()
    expect(row.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == strategy["webhook_url"]


def test_rotating_the_token_changes_the_webhook_url(logged_in_page: Page):
    page = logged_in_page
    strategy = add_strategy(page)
    page.goto("/strategies")
    url = strategy_card(page, "MES trend").get_by_test_id("webhook-url")
    expect(url).to_have_text(strategy["webhook_url"])

    asked = accept_dialogs(page)
    strategy_card(page, "MES trend").get_by_role("button", name="Rotate token").click()
    expect(url).not_to_have_text(strategy["webhook_url"])
    expect(url).to_contain_text("/webhook/")
    assert asked and asked[0].startswith("Rotate the token?")

    rotated = api(page, "GET", f"/api/strategies/{strategy['id']}")
    assert rotated["webhook_token"] != strategy["webhook_token"]
    assert url.inner_text().strip() == rotated["webhook_url"]


def test_editing_a_strategy_saves_it_and_keeps_the_trailing_activation(logged_in_page: Page):
    page = logged_in_page
    strategy = add_strategy(
        page, trailing_stop={"percent": "0.2", "activation": {"ticks": 8}}, stop_loss={"points": 4}
    )
    page.goto("/strategies")
    card = strategy_card(page, "MES trend")
    expect(card.locator('[data-fact="trailing_stop"]')).to_have_text(
        "0.2 % · activates after 8 ticks"
    )
    card.get_by_text("Edit", exact=True).click()
    card.get_by_label("Quantity").fill("3")
    card.get_by_label("Order type").select_option("limit")
    card.get_by_label("Stop loss amount").fill("10")
    card.get_by_label("Stop loss unit").select_option("ticks")
    card.get_by_role("button", name="Save").click()

    expect(card.locator('[data-fact="quantity"]')).to_have_text("3 · limit")
    expect(card.locator('[data-fact="stop_loss"]')).to_have_text("10 ticks")
    expect(card.locator('[data-fact="trailing_stop"]')).to_have_text(
        "0.2 % · activates after 8 ticks"
    )
    stored = api(page, "GET", f"/api/strategies/{strategy['id']}")
    assert stored["quantity"] == 3 and stored["order_type"] == "limit"
    assert stored["stop_loss"] == {"ticks": "10"}
    assert stored["trailing_stop"] == {"percent": "0.2", "activation": {"ticks": "8"}}
    assert stored["webhook_token"] == strategy["webhook_token"]


def test_clearing_an_exit_in_the_edit_form_turns_it_off(logged_in_page: Page):
    page = logged_in_page
    strategy = add_strategy(page, take_profit={"ticks": 16})
    page.goto("/strategies")
    card = strategy_card(page, "MES trend")
    card.get_by_text("Edit", exact=True).click()
    card.get_by_label("Take profit amount").fill("")
    card.get_by_role("button", name="Save").click()

    expect(card.locator('[data-fact="take_profit"]')).to_have_text("off")
    assert api(page, "GET", f"/api/strategies/{strategy['id']}")["take_profit"] is None


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-3", "Take profit: must be greater than zero"), ("abc", "Take profit: must be a number")],
)
def test_invalid_take_profit_shows_a_clear_error(logged_in_page: Page, amount, message):
    page = logged_in_page
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("Bad exits")
    form.get_by_label("Take profit amount").fill(amount)
    form.get_by_role("button", name="Create strategy").click()

    expect(form.get_by_role("alert")).to_contain_text(message)
    expect(form.locator('[data-exit="take_profit"]')).to_have_class(re.compile("field-invalid"))
    expect(form.get_by_role("button", name="Create strategy")).to_be_enabled()
    assert api(page, "GET", "/api/strategies")["items"] == []


def test_duplicate_strategy_name_shows_the_api_message(logged_in_page: Page):
    page = logged_in_page
    add_strategy(page, "MES trend")
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("MES trend")
    form.get_by_role("button", name="Create strategy").click()
    expect(form.get_by_role("alert")).to_have_text("A strategy named 'MES trend' already exists.")


# --- traders -----------------------------------------------------------------------------


def test_traders_page_asks_for_a_strategy_and_an_account_first(logged_in_page: Page):
    page = logged_in_page
    page.goto("/traders")
    expect(page.get_by_text("Create at least one")).to_be_visible()
    expect(page.get_by_test_id("trader-form")).to_have_count(0)


def test_trader_with_a_fixed_quantity_can_be_added_toggled_and_removed(logged_in_page: Page):
    page = logged_in_page
    strategy = add_strategy(page)
    account = add_paper_account(page)
    page.goto("/traders")
    form = page.get_by_test_id("trader-form")
    form.get_by_label("Strategy").select_option(str(strategy["id"]))
    form.get_by_label("Account").select_option(str(account["id"]))
    expect(form.get_by_label("Fixed quantity", exact=True)).to_be_hidden()
    form.get_by_label("Sizing").select_option("fixed")
    expect(form.get_by_label("Multiplier")).to_be_hidden()
    form.get_by_label("Fixed quantity", exact=True).fill("2")
    form.get_by_role("button", name="Add trader").click()

    row = page.get_by_test_id("traders").locator("tr[data-trader-id]")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("sizing")).to_have_text("2 contracts fixed")
    expect(row).to_contain_text("MES trend")
    expect(row).to_contain_text("Paper 50K")
    (trader,) = api(page, "GET", "/api/traders")["items"]
    assert trader["fixed_quantity"] == 2 and trader["enabled"] is True
    assert (trader["strategy_id"], trader["account_id"]) == (strategy["id"], account["id"])

    switch = row.get_by_role("checkbox", name="Enable MES trend on Paper 50K")
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/traders/{trader['id']}") and r.request.method == "PUT"
    ):
        switch.click()
    expect(row).to_have_class(re.compile("disabled"))
    assert api(page, "GET", f"/api/traders/{trader['id']}")["enabled"] is False
    page.reload()
    expect(switch).not_to_be_checked()

    asked = accept_dialogs(page)
    row.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No traders yet.")).to_be_visible()
    assert asked == ["Remove the trader MES trend → Paper 50K?"]
    assert api(page, "GET", "/api/traders")["items"] == []


def test_trader_with_a_multiplier_is_added(logged_in_page: Page):
    page = logged_in_page
    add_strategy(page)
    add_paper_account(page)
    page.goto("/traders")
    form = page.get_by_test_id("trader-form")
    form.get_by_label("Multiplier").fill("1.5")
    form.get_by_role("button", name="Add trader").click()

    expect(page.get_by_test_id("sizing")).to_have_text("× 1.5 alert quantity")
    (trader,) = api(page, "GET", "/api/traders")["items"]
    assert trader["quantity_multiplier"] == "1.5" and trader["fixed_quantity"] is None


# --- settings ----------------------------------------------------------------------------

NEW_PASSWORD = "a brand new passphrase"


def change_password(page: Page, current: str, new: str = NEW_PASSWORD):
    page.goto("/settings")
    form = page.get_by_test_id("password-form")
    form.get_by_label("Current password").fill(current)
    form.get_by_label("New password").fill(new)
    form.get_by_role("button", name="Change password").click()
    return form


def test_wrong_current_password_is_refused(logged_in_page: Page):
    form = change_password(logged_in_page, "not the password")
    expect(form.get_by_role("alert")).to_contain_text("Current password is wrong.")
    current = form.get_by_role("textbox", name="Current password", exact=True)
    expect(current).to_have_class(re.compile("field-invalid"))
    expect(current).to_have_accessible_description("is wrong")


def test_right_current_password_changes_it(logged_in_page: Page, context):
    page = logged_in_page
    form = change_password(page, TestConfig.ADMIN_PASSWORD)
    expect(form.get_by_role("status")).to_contain_text("Password changed.")
    expect(form.get_by_label("Current password")).to_have_value("")
    expect(form.get_by_role("alert")).to_be_hidden()

    context.clear_cookies()
    log_in(page)
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    log_in(page, password=NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard", exact=True)).to_be_visible()


def test_changing_the_password_keeps_this_session_logged_in(logged_in_page: Page):
    page = logged_in_page
    form = change_password(page, TestConfig.ADMIN_PASSWORD)
    expect(form.get_by_role("status")).to_contain_text("Password changed.")
    page.goto("/settings")
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible(timeout=1_000)


def test_time_zone_preference_is_saved(logged_in_page: Page):
    page = logged_in_page
    page.goto("/settings")
    page.get_by_label("Time zone").fill("America/New_York")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert api(page, "GET", "/api/settings")["timezone"] == "America/New_York"
    page.reload()
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")


# --- how the pages look ------------------------------------------------------------------


def test_pages_with_data_render_cleanly(
    logged_in_page: Page, context, console_errors: list[str], shoot
):
    """Fill the pages as a trader would, save each at every screen for a person to review,
    and check each is usable on a phone."""
    page = logged_in_page
    paper = add_paper_account(page)
    tradovate = api(
        page,
        "POST",
        "/api/accounts",
        {
            "name": "Tradovate demo",
            "broker": "tradovate",
            "credentials": {"username": "u", "password": "p", "app_id": "a", "cid": 1, "sec": "s"},
            "broker_account_id": "123456",
        },
    )
    api(
        page,
        "PUT",
        f"/api/risk/{paper['id']}",
        {"max_daily_loss": "750", "max_contracts_per_order": 5},
    )
    trend = add_strategy(
        page,
        symbol="MES1!",
        quantity=2,
        take_profit={"ticks": 16},
        stop_loss={"points": 4},
        trailing_stop={"percent": "0.2", "activation": {"ticks": 8}},
        passphrase="correct horse",
    )
    sync = add_strategy(page, "NQ sync", mode="position-sync", enabled=False)
    api(
        page,
        "POST",
        "/api/traders",
        {"strategy_id": trend["id"], "account_id": paper["id"], "fixed_quantity": 2},
    )
    api(
        page,
        "POST",
        "/api/traders",
        {"strategy_id": sync["id"], "account_id": tradovate["id"], "quantity_multiplier": "1.5"},
    )

    # An alert's round trip closed, and the next entry open with its bracket working.
    alert = {"passphrase": "correct horse", "symbol": "MES1!"}
    entry = send_alert(page, trend["webhook_token"], action="buy", price="6000.25", **alert)
    send_alert(page, trend["webhook_token"], action="exit", price="6003", **alert)
    send_alert(page, trend["webhook_token"], action="buy", price="6001.5", **alert)
    (trade,) = api(page, "GET", "/api/trades")["items"]

    for name, path in [
        ("dashboard", "/"),
        ("control-center", "/control-center"),
        ("strategies", "/strategies"),
        ("accounts", "/accounts"),
        ("traders", "/traders"),
        ("trades", "/trades"),
        ("trade-trace", f"/trades/{trade['id']}"),
        ("alerts", "/alerts"),
        ("alert-trace", f"/alerts/{entry['event_id']}"),
        ("settings", "/settings"),
    ]:
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
        shoot(page, name, screens=SCREENS)
        page.set_viewport_size(SCREENS["phone"])
        assert_fits_the_screen(page)
        assert_nav_reachable(page)
        if name == "control-center":
            kill = page.get_by_test_id("kill-switch")
            kill.scroll_into_view_if_needed()
            kill.click(trial=True)  # there, and nothing covers it
        page.set_viewport_size(VIEWPORT)
        if name == "strategies":
            expect(strategy_card(page, "NQ sync")).to_have_class(re.compile("disabled"))
    assert console_errors == []

    context.clear_cookies()
    page.goto("/login")
    shoot(page, "login", screens=SCREENS)
    page.set_viewport_size(SCREENS["phone"])
    assert_fits_the_screen(page)


# The elements that stick out of the screen, not counting those inside a box that scrolls
# or clips: what to fix when a page scrolls sideways.
STICKING_OUT = """() => {
  const inBox = (el) => {
    for (let box = el.parentElement; box; box = box.parentElement) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(box).overflowX)) return true;
    }
    return false;
  };
  return Array.from(document.querySelectorAll("body *"))
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5 && !inBox(el))
    .slice(0, 8)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ${el.getBoundingClientRect().right}`);
}"""


def assert_fits_the_screen(page: Page) -> None:
    """The page never scrolls sideways: a wide table scrolls inside its own box."""
    wide, screen = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if wide > screen:
        pytest.fail(f"{page.url} is {wide}px wide on {screen}px: {page.evaluate(STICKING_OUT)}")


def assert_nav_reachable(page: Page) -> None:
    """The nav's links, one row that scrolls, can be brought into view first to last."""
    links = page.get_by_role("navigation", name="Main").get_by_role("link")
    for link in (links.first, links.last):
        link.scroll_into_view_if_needed()
        expect(link).to_be_in_viewport()


def test_the_accounts_page_shows_each_rules_room_left_as_the_price_moves(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    account = add_paper_account(page)
    rules = {
        "trailing_drawdown": "500",
        "trailing_drawdown_mode": "realtime",
        "daily_profit_target": "200",
    }
    api(page, "PUT", f"/api/risk/{account['id']}", rules)
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 2}
    api(page, "POST", "/api/orders", body)  # at the paper feed's 6000
    page.goto("/accounts")
    room = page.get_by_test_id("rule-room")
    expect(room.locator('[data-rule="trailing_drawdown"] strong')).to_have_text(
        "Trailing drawdown: $500.00 left before the $500.00 limit"
    )
    expect(room.locator('[data-rule="daily_profit_target"] strong')).to_have_text(
        "Daily profit target: $200.00 left before the $200.00 limit"
    )
    prices.update(front("MES"), Decimal("6018"), datetime.now(UTC), "test")  # +$180 open
    page.reload()
    target = room.locator('[data-rule="daily_profit_target"]')
    expect(target.locator("strong")).to_have_text(
        "Daily profit target: $20.00 left before the $200.00 limit"
    )
    expect(target).to_have_class("room-warning")
    prices.update(front("MES"), Decimal("6020"), datetime.now(UTC), "test")  # +$200
    expect(target.locator("strong")).to_have_text(
        "Daily profit target: breached (entries refused)", timeout=8000
    )  # measured again without a reload
    expect(target).to_have_class("room-breached")
    shoot(page, "accounts-rules")

    form = page.get_by_test_id("rules-form")
    form.get_by_label("Weekly loss limit (USD)").fill("1000")
    form.get_by_label("On a breach").select_option("flatten")
    form.get_by_role("button", name="Save rules").click()
    expect(room.locator('[data-rule="weekly_loss"]')).to_be_visible()
    stored = api(page, "GET", f"/api/risk/{account['id']}")
    assert (stored["weekly_loss_limit"], stored["breach_action"]) == ("1000.00", "flatten")
    assert stored["trailing_drawdown"] == "500.00"  # the form kept what it showed
    assert console_errors == []


def test_done_for_the_day_flattens_the_account_and_says_until_when(logged_in_page: Page):
    page = logged_in_page
    account = add_paper_account(page)
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 1}
    api(page, "POST", "/api/orders", body)
    page.goto("/accounts")
    asked = accept_dialogs(page)
    page.get_by_test_id("done-for-day").click()
    expect(page.get_by_test_id("halt-status")).to_contain_text("halted: done for day")
    row = page.locator("tr.account-row")
    expect(row).to_contain_text("lifts when the next trading day opens (17:00 Chicago time)")
    assert asked and asked[0].startswith("Done for the day on Paper 50K?")
    assert api(page, "GET", f"/api/positions?account_id={account['id']}")["items"] == []


def test_a_strategys_mapping_time_exits_and_watchdog_are_set_shown_and_cleared(
    logged_in_page: Page,
):
    page = logged_in_page
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("NQ on micros")
    form.get_by_label("Default symbol").fill("NQ1!")
    form.get_by_label("Trade instead").fill("MNQ1!")
    form.get_by_label("Contracts per charted contract").fill("10")
    form.get_by_label("Cancel an unfilled entry after (s)").fill("30")
    form.get_by_label("Close the position after (min)").fill("45")
    form.get_by_label("Expect an alert every (min)").fill("15")
    form.get_by_role("button", name="Create strategy").click()

    card = strategy_card(page, "NQ on micros")
    expect(card.locator('[data-fact="mapping"]')).to_have_text("MNQ1! × 10 per charted contract")
    expect(card.locator('[data-fact="time_exits"]')).to_have_text(
        "unfilled entry cancelled after 30 s; closed after 45 min"
    )
    expect(card.locator('[data-fact="watchdog"]')).to_contain_text("every 15 min")
    (stored,) = api(page, "GET", "/api/strategies")["items"]
    assert (stored["trade_symbol"], stored["quantity_ratio"]) == ("MNQ1!", "10")

    card.get_by_text("Edit", exact=True).click()
    card.get_by_label("Trade instead").fill("")
    card.get_by_label("Close the position after (min)").fill("")
    card.get_by_role("button", name="Save").click()
    expect(card.locator('[data-fact="time_exits"]')).to_have_text(
        "unfilled entry cancelled after 30 s"
    )
    stored = api(page, "GET", f"/api/strategies/{stored['id']}")
    assert (stored["trade_symbol"], stored["exit_after_minutes"]) == (None, None)


def test_an_unknown_contract_to_trade_is_refused_by_field(logged_in_page: Page):
    page = logged_in_page
    page.goto("/strategies")
    form = page.get_by_test_id("strategy-form")
    form.get_by_label("Name", exact=True).fill("Bad map")
    form.get_by_label("Trade instead").fill("NOPE1!")
    form.get_by_role("button", name="Create strategy").click()
    expect(form.get_by_role("alert")).to_contain_text("Trade instead: 'NOPE1!' is not a supported")
    assert api(page, "GET", "/api/strategies")["items"] == []
