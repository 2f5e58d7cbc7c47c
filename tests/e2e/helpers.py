"""Small steps the e2e tests share: logging in and seeding data through the JSON API."""

import json

from playwright.sync_api import Page

from config import TestConfig


def log_in(page: Page, username: str = TestConfig.ADMIN_USERNAME, password: str | None = None):
    """Submit the login form (the right password unless another is given)."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(TestConfig.ADMIN_PASSWORD if password is None else password)
    page.get_by_role("button", name="Log in").click()


def api(page: Page, method: str, path: str, body: dict | None = None) -> dict | None:
    """Call the JSON API with the page's session cookie and CSRF token; fail on an error."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.fetch(
        path, method=method, data=body, headers={"X-CSRF-Token": token or ""}
    )
    assert response.ok, f"{method} {path} answered {response.status}: {response.text()}"
    return response.json() if response.text() else None


def add_paper_account(page: Page, name: str = "Paper 50K", balance: str = "50000") -> dict:
    return api(
        page,
        "POST",
        "/api/accounts",
        {"name": name, "broker": "paper", "starting_balance": balance},
    )


def add_strategy(page: Page, name: str = "MES trend", **fields) -> dict:
    return api(page, "POST", "/api/strategies", {"name": name, **fields})


def send_alert(page: Page, token: str, **fields) -> dict:
    """POST a JSON alert to a strategy's webhook as TradingView does; fail unless it is 200."""
    response = page.request.post(
        f"/webhook/{token}", data=json.dumps(fields), headers={"Content-Type": "application/json"}
    )
    assert response.ok, f"alert answered {response.status}: {response.text()}"
    return response.json()


def accept_dialogs(page: Page) -> list[str]:
    """Accept every confirm() and return their texts, so a test can check what was asked."""
    asked: list[str] = []

    def accept(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked
