"""One click from a trade to its whole path, as the trader reads it in the browser."""

import json

from playwright.sync_api import Page, expect

from tests.e2e.helpers import add_paper_account, add_strategy, api


def _alert(page: Page, token: str, payload: dict) -> dict:
    response = page.request.post(
        f"/webhook/{token}",
        data=json.dumps({"symbol": "MES1!", **payload}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()
    return response.json()


def test_a_trade_row_opens_its_trace(logged_in_page: Page, console_errors, shoot):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Trace test", symbol="MES1!")
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    entry = _alert(
        page, strategy["webhook_token"], {"action": "buy", "quantity": 1, "price": "6000.25"}
    )
    _alert(page, strategy["webhook_token"], {"action": "exit", "price": "6001"})
    (trade,) = api(page, "GET", f"/api/trades?account_id={account['id']}")["items"]
    trace = api(page, "GET", f"/api/trades/{trade['id']}")

    page.goto("/trades")
    row = page.get_by_test_id("trades").locator(f'tr[data-trade-id="{trade["id"]}"]')
    expect(row).to_contain_text("Trace test")
    row.get_by_role("link", name="Trace").click()

    expect(page.get_by_test_id("trade-trace")).to_be_visible()
    expect(page).to_have_url(f"{page.url.split('/trades')[0]}/trades/{trade['id']}")
    expect(page.get_by_test_id("trace-alert")).to_have_count(2)  # the entry's and the exit's
    alert = page.locator(f'[data-testid="trace-alert"][data-event-id="{entry["event_id"]}"]')
    expect(alert.get_by_test_id("trace-raw-body")).to_contain_text('"price": "6000.25"')
    expect(alert.get_by_test_id("trace-decisions")).to_contain_text("passed")
    orders = page.get_by_test_id("trace-orders")
    for order in trace["orders"]:
        line = orders.locator(f'tr[data-client-order-id="{order["client_order_id"]}"]')
        expect(line).to_contain_text(order["broker_order_id"])
    expect(page.get_by_test_id("trace-fills").locator("tr[data-fill-id]")).to_have_count(2)
    stages = page.get_by_test_id("trade-trace").get_by_test_id("trace-stages")
    expect(stages.locator("li")).to_have_count(5)
    expect(stages).to_contain_text("broker accepted")
    expect(page.get_by_test_id("trade-slippage")).to_contain_text(trace["slippage_ticks"])
    shoot(page, "trade-trace")

    alert.get_by_role("link", name="Alert's trace").click()
    expect(
        page.get_by_test_id("trace-trades").locator(f'tr[data-trade-id="{trade["id"]}"]')
    ).to_be_visible()
    assert console_errors == []
