"""The alert log as the trader reads it: strategy cards and the alerts page."""

from playwright.sync_api import Page, expect

from tests.e2e.helpers import add_paper_account, add_strategy, api


def _send_alert(page: Page, token: str, body: str) -> int:
    response = page.request.post(
        f"/webhook/{token}", data=body, headers={"Content-Type": "text/plain"}
    )
    return response.status


def test_alerts_show_on_the_strategy_card_and_in_the_log(logged_in_page: Page, console_errors):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Log test", symbol="MES1!")
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    token = strategy["webhook_token"]
    assert _send_alert(page, token, '{"action": "buy", "quantity": 1, "price": "6000.25"}') == 200
    assert _send_alert(page, token, '{"action": "buy", "quantity": "1.5"}') == 400

    page.goto("/strategies")
    card = page.locator(f'[data-strategy-id="{strategy["id"]}"] [data-testid="recent-alerts"]')
    expect(card).to_contain_text("executed")
    expect(card).to_contain_text("rejected")
    expect(card).to_contain_text("quantity")

    card.get_by_role("link").click()
    log = page.get_by_test_id("alert-log")
    expect(log.locator("tbody > tr[data-event-id]")).to_have_count(2)
    executed = log.locator("tr[data-event-id]", has_text="executed")
    expect(executed).to_contain_text("Log test")
    page.get_by_text("Details of alert 1", exact=True).click()
    details = page.locator("details", has_text="Details of alert 1")
    expect(details.get_by_test_id("raw-body")).to_contain_text('"price": "6000.25"')
    expect(details.get_by_test_id("alert-orders")).to_contain_text("filled")

    page.get_by_label("Status").select_option("rejected")
    page.get_by_role("button", name="Filter").click()
    expect(log.locator("tbody > tr[data-event-id]")).to_have_count(1)
    expect(log).to_contain_text("quantity")
    assert console_errors == []
