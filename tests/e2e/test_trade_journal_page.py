"""The trader writes a trade's journal on its trace page, and the trades page exports."""

import json

from playwright.sync_api import Page, expect

from tests.e2e.helpers import add_paper_account, add_strategy, api


def _alert(page: Page, token: str, payload: dict) -> None:
    response = page.request.post(
        f"/webhook/{token}",
        data=json.dumps({"symbol": "MES1!", **payload}),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 200, response.text()


def test_the_journal_form_saves_notes_tags_and_rating(logged_in_page: Page, console_errors):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Journal test", symbol="MES1!")
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    _alert(page, strategy["webhook_token"], {"action": "buy", "quantity": 1, "price": "6000"})
    _alert(page, strategy["webhook_token"], {"action": "exit", "price": "6001"})
    (trade,) = api(page, "GET", f"/api/trades?account_id={account['id']}")["items"]

    page.goto(f"/trades/{trade['id']}")
    form = page.get_by_test_id("trade-journal")
    form.get_by_label("Rating").select_option("4")
    form.get_by_label("Tags").fill("breakout, news, news")
    form.get_by_label("Notes").fill("=Waited for the retest.")
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Journal saved.")).to_be_visible()

    saved = api(page, "GET", f"/api/trades/{trade['id']}")
    assert (saved["rating"], saved["tags"], saved["notes"]) == (
        4, ["breakout", "news"], "=Waited for the retest."
    )  # fmt: skip
    page.reload()
    expect(form.get_by_label("Tags")).to_have_value("breakout, news")

    page.goto(f"/trades?account_id={account['id']}")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0].startswith("id,account,strategy,symbol")
    assert "'=Waited for the retest." in text
    assert console_errors == []
