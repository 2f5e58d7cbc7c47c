"""The control center in a real browser: the ticket, positions, working orders, traders,
the live log and the kill switch."""

import json
import re
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.conftest import front
from tests.e2e.helpers import accept_dialogs, add_paper_account, add_strategy, api


def position_row(page: Page, symbol: str):
    return page.get_by_test_id("positions").locator(f'tr[data-symbol="{symbol}"]')


def test_trade_from_the_ticket_close_and_kill_and_rearm(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    asked = accept_dialogs(page)
    add_paper_account(page)
    mes = front("MES")
    page.goto("/control-center")
    expect(page.get_by_role("heading", name="Control center", exact=True)).to_be_visible()
    expect(page.get_by_test_id("positions")).to_contain_text("No open positions.")
    ticket = page.get_by_test_id("order-ticket")

    ticket.get_by_label("Quantity").fill("2")
    ticket.get_by_role("button", name="Buy").click()

    expect(ticket.get_by_role("status")).to_contain_text(f"Buy 2 {mes}: filled at")
    row = position_row(page, mes)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("+2")
    expect(row).to_contain_text("Paper 50K")

    row.get_by_role("button", name="Close").click()

    expect(position_row(page, mes)).to_have_count(0)
    expect(page.get_by_test_id("positions")).to_contain_text("No open positions.")
    assert asked[-1] == f"Close {mes} on Paper 50K at the market?"

    # A short with a bracket: a position and two working exits for the kill switch.
    ticket.get_by_label("Quantity").fill("1")
    ticket.get_by_label("Take profit amount").fill("8")
    ticket.get_by_label("Stop loss amount").fill("8")
    ticket.get_by_role("button", name="Sell").click()
    expect(position_row(page, mes)).to_contain_text("-1")
    orders = page.get_by_test_id("orders")
    expect(orders.locator("tbody tr")).to_have_count(2)
    expect(orders).to_contain_text("take profit")
    expect(orders).to_contain_text("stop loss")
    shoot(page, "control-center-trading")

    # Engaging takes the typed word: a click alone, or a wrong word, does nothing.
    page.get_by_test_id("kill-switch").click()
    confirm = page.get_by_test_id("kill-confirm")
    flatten = confirm.get_by_role("button", name="Flatten everything")
    expect(flatten).to_be_disabled()
    confirm.get_by_label("Type FLATTEN to engage").fill("FLAT")
    expect(flatten).to_be_disabled()
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    state = page.get_by_test_id("kill-switch-state")
    expect(state).to_have_attribute("data-engaged", "false")
    expect(position_row(page, mes)).to_contain_text("-1")

    page.get_by_test_id("kill-switch").click()
    expect(confirm.get_by_label("Type FLATTEN to engage")).to_have_value("")  # asked afresh
    confirm.get_by_label("Type FLATTEN to engage").fill("flatten")
    flatten.click()

    expect(state).to_have_attribute("data-engaged", "true")
    expect(state).to_contain_text("Engaged")
    expect(page.get_by_test_id("kill-switch-result")).to_have_text(
        "Kill switch engaged: cancelled 2 orders, flattened 1 position."
    )
    expect(position_row(page, mes)).to_have_count(0)
    expect(orders).to_contain_text("No working orders.")
    expect(page.get_by_test_id("live-log")).to_contain_text("kill switch engaged by owner")
    expect(page.get_by_test_id("kill-switch-panel")).to_have_class(re.compile(r"\bengaged\b"))
    halted = page.get_by_test_id("halts")
    expect(halted).to_contain_text("Paper 50K")
    expect(halted).to_contain_text("kill switch")
    expect(halted).to_contain_text("lifts when the kill switch is re-armed")
    expect(halted.get_by_role("button", name="Lift")).to_have_count(0)
    shoot(page, "control-center-engaged")

    # New exposure is refused while engaged; the ticket says why.
    ticket.get_by_role("button", name="Buy").click()
    expect(ticket.get_by_role("alert")).to_contain_text("The kill switch is engaged")

    page.get_by_test_id("kill-switch-rearm").click()

    expect(state).to_have_attribute("data-engaged", "false")
    expect(state).to_contain_text("Armed.")
    expect(page.get_by_test_id("kill-switch-rearm")).to_be_hidden()
    expect(page.get_by_test_id("kill-switch-result")).to_contain_text("Paper 50K resume trading")
    expect(halted).to_be_hidden()
    assert asked[-1].startswith("Re-arm?")
    page.reload()
    expect(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-engaged", "false")
    # Chromium reports the refused order's 423 on the console; nothing else may appear.
    assert [e for e in console_errors if "423" not in e] == []


def test_engaged_state_shows_on_load_and_selected_positions_close_together(
    logged_in_page: Page, console_errors
):
    page = logged_in_page
    accept_dialogs(page)
    account = add_paper_account(page)
    for symbol, side in (("MES1!", "buy"), ("MNQ1!", "sell")):
        body = {"account_id": account["id"], "symbol": symbol, "side": side, "qty": 1}
        api(page, "POST", "/api/orders", body)
    page.goto("/control-center")
    rows = page.get_by_test_id("positions").locator("tr[data-symbol]")
    expect(rows).to_have_count(2)

    page.get_by_label("Select every position").check()
    expect(page.get_by_test_id("close-selected")).to_have_text("Close selected (2)")
    page.get_by_test_id("close-selected").click()

    expect(rows).to_have_count(0)
    expect(page.get_by_test_id("close-selected")).to_be_disabled()

    api(page, "POST", "/api/kill-switch")  # engaged elsewhere: the page learns it
    expect(page.get_by_test_id("kill-switch-state")).to_have_attribute("data-engaged", "true")
    page.reload()
    expect(page.get_by_test_id("kill-switch-state")).to_contain_text("Engaged")
    expect(page.get_by_test_id("kill-switch-rearm")).to_be_visible()
    assert console_errors == []


def test_trader_toggles_save_at_once(logged_in_page: Page, console_errors):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, symbol="MES1!")
    trader = api(
        page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    )
    page.goto("/control-center")
    toggle = page.get_by_test_id("traders").get_by_label("Enable MES trend on Paper 50K")
    expect(toggle).to_be_checked()

    toggle.uncheck()

    expect(page.locator(f'tr[data-trader-id="{trader["id"]}"]')).to_have_class("disabled")
    page.reload()
    expect(
        page.get_by_test_id("traders").get_by_label("Enable MES trend on Paper 50K")
    ).not_to_be_checked()
    assert api(page, "GET", f"/api/traders/{trader['id']}")["enabled"] is False
    assert console_errors == []


def protect_a_two_lot(page: Page):
    """Buy 2 MES on a new paper account and open Protect on it: the entry, the dialog."""
    account = add_paper_account(page)
    body = {"account_id": account["id"], "symbol": "MES1!", "side": "buy", "qty": 2}
    entry = Decimal(
        api(page, "POST", "/api/orders", {**body, "order_type": "market"})["avg_fill_price"]
    )
    page.goto("/control-center")
    position_row(page, front("MES")).get_by_role("button", name="Protect").click()
    return entry, page.get_by_test_id("protect-dialog")


def test_protect_a_position_with_an_oco_pair_and_break_even(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    mes = front("MES")
    entry, dialog = protect_a_two_lot(page)
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"+2 {mes} on Paper 50K")

    # A long's stop above the market is refused, the field named, nothing placed.
    dialog.get_by_label("Take profit price").fill(str(entry + 10))
    dialog.get_by_label("Stop loss price").fill(str(entry + 5))
    dialog.get_by_role("button", name="Protect").click()
    expect(dialog.get_by_role("alert")).to_contain_text(
        f"stop_loss_price: must be below the market {entry} for a long"
    )
    expect(dialog.get_by_label("Stop loss price")).to_have_attribute("aria-invalid", "true")
    assert api(page, "GET", "/api/orders/advanced")["items"] == []

    dialog.get_by_label("Stop loss price").fill(str(entry - 10))
    dialog.get_by_label("Break-even once price gains amount").fill("8")
    dialog.get_by_label("Break-even stop beyond the entry amount").fill("1")
    shoot(page, "control-center-protect")
    dialog.get_by_role("button", name="Protect").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("protect-result")).to_have_text(
        f"OCO on {mes}: take profit {entry + 10}, stop {entry - 10} · "
        f"break-even: at {entry + 2} the stop moves to {entry + Decimal('0.25')}"
    )
    orders = page.get_by_test_id("orders")
    expect(orders.locator("tbody tr")).to_have_count(2)
    [pair] = api(page, "GET", "/api/orders/advanced")["items"]
    assert (pair["kind"], pair["qty"], pair["status"]) == ("oco", 2, "active")
    assert pair["break_even"] == {
        "trigger_price": str(entry + 2),
        "stop_price": str(entry + Decimal("0.25")),
    }
    assert [e for e in console_errors if "400" not in e] == []  # the refusal's answer


def test_the_ticket_previews_its_exits_for_a_buy_and_a_sell(logged_in_page: Page, console_errors):
    page = logged_in_page
    add_paper_account(page)
    page.goto("/control-center")
    ticket = page.get_by_test_id("order-ticket")
    preview = page.get_by_test_id("ticket-preview")
    expect(preview).to_be_hidden()

    ticket.get_by_label("Take profit amount").fill("8")
    ticket.get_by_label("Stop loss amount").fill("8")

    expect(preview).to_have_text(
        "From 6000 — Buy: take profit 6002 · stop 5998 | Sell: take profit 5998 · stop 6002"
    )
    # A price level below the market is a sell's take profit, never a buy's.
    ticket.get_by_label("Take profit unit").select_option("price")
    ticket.get_by_label("Take profit amount").fill("5990")
    expect(preview).to_contain_text(
        "Buy: take_profit: must be above the entry 6000 for a buy, got 5990"
    )
    expect(preview).to_contain_text("Sell: take profit 5990 · stop 6002")
    ticket.get_by_label("Take profit amount").fill("")
    ticket.get_by_label("Stop loss amount").fill("")
    expect(preview).to_be_hidden()
    assert api(page, "GET", "/api/orders")["items"] == []  # nothing was sent
    assert [e for e in console_errors if "400" not in e] == []


def test_the_ticket_scales_out_with_break_even_and_names_a_target_out_of_order(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    add_paper_account(page)
    page.goto("/control-center")
    ticket = page.get_by_test_id("order-ticket")
    preview = page.get_by_test_id("ticket-preview")
    ticket.get_by_label("Quantity").fill("2")
    ticket.get_by_text("Targets, trailing stop, break-even").click()
    ticket.get_by_label("Target 1 amount").fill("8")
    ticket.get_by_label("Target 1 percent of position").fill("50")
    ticket.get_by_label("Target 2 amount").fill("4")  # nearer than the first: out of order
    ticket.get_by_label("Target 2 percent of position").fill("50")
    ticket.get_by_label("Stop loss amount").fill("8")
    ticket.get_by_label("Break-even once price gains unit").select_option("first_target")

    expect(preview).to_contain_text("take_profit[1]: 6001 is not beyond the previous target 6002")
    ticket.get_by_role("button", name="Buy").click()
    expect(ticket.get_by_role("alert")).to_contain_text("take_profit[1]")
    expect(ticket.locator('[data-target="1"]')).to_have_attribute("aria-invalid", "true")
    assert api(page, "GET", "/api/orders")["items"] == []  # refused before anything was sent

    ticket.get_by_label("Target 2 amount").fill("16")
    expect(preview).to_have_text(
        "From 6000 — Buy: targets 1 @ 6002, 1 @ 6004 · stop 5998 · break-even at 6002 → "
        "stop 6000 | Sell: targets 1 @ 5998, 1 @ 5996 · stop 6002 · break-even at 5998 → stop 6000"
    )
    ticket.get_by_label("Take profit amount").fill("8")  # one take profit beside targets
    expect(preview).to_have_text("take_profit: give one take profit or targets, not both")
    ticket.get_by_label("Take profit amount").fill("")
    expect(preview).to_contain_text("Buy: targets 1 @ 6002, 1 @ 6004")
    expect(ticket.get_by_role("alert")).to_be_hidden()  # the refusal went with the edit
    shoot(page, "control-center-ticket-targets")
    ticket.get_by_role("button", name="Buy").click()

    result = page.get_by_test_id("order-ticket").locator('[data-role="ticket-result"]')
    expect(result).to_contain_text("Buy 2")
    expect(result).to_contain_text("filled")
    working = [o for o in api(page, "GET", "/api/orders")["items"] if o["status"] == "working"]
    assert sorted((o["role"], o["qty"]) for o in working) == [
        ("stop_loss", 2),
        ("take_profit", 1),
        ("take_profit", 1),
    ]
    [watch] = api(page, "GET", "/api/orders/advanced")["items"]
    assert watch["break_even"] == {"trigger_price": "6002", "stop_price": "6000"}
    assert [e for e in console_errors if "400" not in e] == []


def test_protect_a_position_with_scale_out_targets_and_break_even(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    mes = front("MES")
    entry, dialog = protect_a_two_lot(page)
    dialog.get_by_label("Target 1 amount").fill("8")
    dialog.get_by_label("Target 1 percent of position").fill("50")
    dialog.get_by_label("Target 2 amount").fill("16")
    dialog.get_by_label("Target 2 percent of position").fill("50")
    dialog.get_by_label("Take profit price").fill(str(entry + 10))  # one take profit too
    dialog.get_by_role("button", name="Protect").click()
    expect(dialog.get_by_role("alert")).to_contain_text("take_profit_price")
    assert api(page, "GET", "/api/orders?status=working")["items"] == []

    dialog.get_by_label("Take profit price").fill("")
    dialog.get_by_label("Stop loss price").fill(str(entry - 10))
    dialog.get_by_label("Break-even once price gains unit").select_option("first_target")
    shoot(page, "control-center-protect-targets")
    dialog.get_by_role("button", name="Protect").click()

    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("protect-result")).to_have_text(
        f"Targets on {mes}: 1 @ {entry + 2}, 1 @ {entry + 4} · stop {entry - 10}"
    )
    expect(page.get_by_test_id("orders").locator("tbody tr")).to_have_count(3)
    [watch] = api(page, "GET", "/api/orders/advanced")["items"]
    assert watch["break_even"] == {"trigger_price": str(entry + 2), "stop_price": str(entry)}

    # Changing them: an OCO beside the targets would exceed the position, until it replaces them.
    position_row(page, mes).get_by_role("button", name="Protect").click()
    dialog.get_by_label("Take profit price").fill(str(entry + 10))
    dialog.get_by_label("Stop loss price").fill(str(entry - 5))
    dialog.get_by_role("button", name="Protect").click()
    expect(dialog.get_by_role("alert")).to_contain_text("already has 2 contracts of stop")
    dialog.get_by_label("Replace its exits").check()
    dialog.get_by_role("button", name="Protect").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_test_id("orders").locator("tbody tr")).to_have_count(2)
    assert [e for e in console_errors if "400" not in e and "409" not in e] == []


def test_an_alert_waiting_for_approval_is_approved_from_the_control_center(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, symbol="MES1!", require_approval=True)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    page.goto("/control-center")
    card = page.get_by_test_id("approvals")
    expect(card).to_be_hidden()
    for quantity in (2, 1):
        answer = page.request.post(
            strategy["webhook_url"], data={"action": "buy", "quantity": quantity}
        ).json()
        assert answer["status"] == "pending_approval"
    expect(card.locator("tbody tr")).to_have_count(2)
    expect(card).to_contain_text("buy 2 MES1!")
    shoot(page, "control-center-approvals")
    card.locator("tr", has_text="buy 2").get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("approval-result")).to_contain_text(": executed")
    expect(position_row(page, front("MES"))).to_contain_text("+2")
    expect(card.locator("tbody tr")).to_have_count(1)  # the approved one is gone
    card.get_by_role("button", name="Reject").click()
    expect(page.get_by_test_id("approval-result")).to_contain_text("rejected: nothing was placed")
    expect(card).to_be_hidden()
    assert console_errors == []


def test_an_alert_shows_up_live_without_a_reload(logged_in_page: Page, console_errors):
    """The page reads its parts again when the live events say so, long before its slow
    safety refresh (30 s), and the topbar says the connection is live."""
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Live", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    page.goto("/control-center")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    expect(page.get_by_test_id("positions")).to_contain_text("No open positions.")

    answer = page.request.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"action": "buy", "symbol": "MES1!", "quantity": 1, "price": "6000.25"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()

    expect(position_row(page, front("MES"))).to_contain_text("+1")
    expect(page.get_by_test_id("live-log")).to_contain_text("filled (entry)")
    assert console_errors == []


def send_alert(page: Page, strategy: dict, **payload) -> dict:
    answer = page.request.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", "quantity": 1, **payload}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.ok, answer.text()
    return answer.json()


def test_the_live_log_shows_an_alert_and_its_filters_hide_and_show_it(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    account = add_paper_account(page)
    other = add_paper_account(page, "Paper B")
    live = add_strategy(page, "Live", symbol="MES1!", quantity=1)
    quiet = add_strategy(page, "Quiet", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": live["id"], "account_id": account["id"]})
    page.goto("/control-center")
    expect(page.locator("[data-live-state]")).to_have_attribute("data-live-state", "live")
    log = page.get_by_test_id("live-log")

    send_alert(page, live, action="buy")

    signal = log.locator("li", has_text="executed (Live)")
    expect(signal).to_be_visible()
    expect(signal).to_contain_text("signal")
    filled = log.locator("li", has_text="filled (entry)")
    expect(filled).to_be_visible()
    expect(log.locator("li[data-line]").first).to_contain_text("executed (Live)")  # newest first
    shoot(page, "control-center-live-log")

    by_strategy = page.get_by_test_id("log-filter-strategy")
    by_strategy.select_option(label="Quiet")
    expect(signal).to_be_hidden()
    expect(filled).to_be_hidden()
    by_strategy.select_option(label="Live")
    expect(signal).to_be_visible()
    expect(filled).to_be_visible()

    by_account = page.get_by_test_id("log-filter-account")
    by_account.select_option(label="Paper B")
    expect(filled).to_be_hidden()
    expect(log).to_contain_text("No line matches these filters.")
    by_account.select_option(label="Paper 50K")
    expect(filled).to_be_visible()
    expect(signal).to_be_hidden()  # an alert names a strategy, no account

    by_level = page.get_by_test_id("log-filter-level")
    by_level.select_option("warning")
    expect(filled).to_be_hidden()

    # The filters are kept in the address: a reload shows the same lines.
    assert f"log_account={account['id']}" in page.url and "log_level=warning" in page.url
    page.reload()
    expect(page.get_by_test_id("log-filter-account")).to_have_value(str(account["id"]))
    expect(page.get_by_test_id("log-filter-level")).to_have_value("warning")
    expect(page.get_by_test_id("log-filter-strategy")).to_have_value(str(live["id"]))
    expect(page.get_by_test_id("log-count")).to_contain_text(" of ")
    expect(log.locator("li", has_text="filled (entry)")).to_be_hidden()
    page.get_by_test_id("log-filter-level").select_option("")
    expect(log.locator("li", has_text="filled (entry)")).to_be_visible()
    assert other["id"] != account["id"] and quiet["id"] != live["id"]
    assert console_errors == []


def test_live_traders_show_position_and_pnl_and_a_disabled_trader_takes_no_alert(
    logged_in_page: Page, console_errors
):
    page = logged_in_page
    mes = front("MES")
    account = add_paper_account(page)
    strategy = add_strategy(page, "Live", symbol="MES1!", quantity=2)
    trader = api(
        page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]}
    )
    page.goto("/control-center")
    row = page.locator(f'tr[data-trader-id="{trader["id"]}"]')
    expect(row.locator('[data-col="position"]')).to_have_text("flat")
    expect(row.locator('[data-col="pnl"]')).to_have_text("0.00")

    send_alert(page, strategy, action="buy", quantity=2)

    expect(row.locator('[data-col="position"]')).to_have_text(f"+2 {mes}")
    [figures] = api(page, "GET", "/api/traders/live")["items"]
    expect(row.locator('[data-col="pnl"]')).to_contain_text(figures["pnl_today"].lstrip("-"))

    with page.expect_response(lambda r: r.url.endswith(f"/api/traders/{trader['id']}")):
        row.get_by_label("Enable Live on Paper 50K").uncheck()
    expect(row).to_have_class("disabled")
    assert api(page, "GET", f"/api/traders/{trader['id']}")["enabled"] is False
    refused = page.request.post(  # its only trader is off: the alert places nothing
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps({"symbol": "MES1!", "action": "buy", "quantity": 2}),
        headers={"Content-Type": "application/json"},
    )
    assert (refused.status, refused.json()["error"]["code"]) == (422, "no_traders")
    [position] = api(page, "GET", "/api/positions")["items"]
    assert position["qty"] == 2  # the disabled trader placed nothing
    expect(row.locator('[data-col="position"]')).to_have_text(f"+2 {mes}")
    assert console_errors == []


def test_the_ticket_shows_the_contract_and_asks_before_a_large_order(
    logged_in_page: Page, console_errors, shoot
):
    page = logged_in_page
    mes = front("MES")
    account = add_paper_account(page)
    api(page, "PUT", f"/api/risk/{account['id']}", {"max_contracts_per_order": 4})
    answers: list[bool] = []
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept() if answers.pop(0) else dialog.dismiss()

    page.on("dialog", answer)
    page.goto("/control-center")
    ticket = page.get_by_test_id("order-ticket")
    contract = page.get_by_test_id("ticket-contract")
    expect(contract).to_contain_text(f"MES1! → {mes}")
    ticket.get_by_label("Symbol").fill("MNQ1!")
    expect(contract).to_contain_text(f"MNQ1! → {front('MNQ')}")
    ticket.get_by_label("Symbol").fill("XYZ1!")
    expect(contract).to_contain_text("is not a supported futures symbol")
    ticket.get_by_label("Symbol").fill("MES1!")
    expect(contract).to_contain_text(f"MES1! → {mes}")

    # A limit order below the market rests.
    ticket.get_by_label("Type").select_option("limit")
    ticket.get_by_label("Limit price").fill("5990")
    ticket.get_by_role("button", name="Buy").click()
    result = ticket.locator('[data-role="ticket-result"]')
    expect(result).to_contain_text(f"Buy 1 {mes}: working")
    expect(page.get_by_test_id("orders")).to_contain_text("5990")

    # 3 of at most 4 per order: allowed, but asked first; declined, nothing is sent.
    ticket.get_by_label("Type").select_option("market")
    ticket.get_by_label("Quantity").fill("3")
    answers.append(False)
    ticket.get_by_role("button", name="Sell").click()
    expect(result).to_have_text(f"Not sent: Sell 3 {mes} was not confirmed.")
    assert len(asked) == 1
    assert asked[0].startswith(f"Sell 3 {mes} on Paper 50K?")
    assert "more than half this account's limit of 4 per order" in asked[0]
    assert [o["qty"] for o in api(page, "GET", "/api/orders")["items"]] == [1]

    answers.append(True)
    ticket.get_by_role("button", name="Sell").click()
    expect(result).to_contain_text(f"Sell 3 {mes}: filled at")
    expect(position_row(page, mes)).to_contain_text("-3")
    shoot(page, "control-center-ticket-confirm")

    # 1 contract is small: no question.
    ticket.get_by_label("Quantity").fill("1")
    ticket.get_by_role("button", name="Buy").click()
    expect(position_row(page, mes)).to_contain_text("-2")
    assert len(asked) == 2
    assert [e for e in console_errors if "400" not in e] == []  # XYZ1! resolved to nothing


def test_a_manual_halt_shows_with_a_lift_button(logged_in_page: Page, console_errors):
    page = logged_in_page
    accept_dialogs(page)
    account = add_paper_account(page)
    api(page, "POST", f"/api/accounts/{account['id']}/halt", {"reason": "stepping away"})
    page.goto("/control-center")
    halted = page.get_by_test_id("halts")
    expect(halted).to_contain_text("Paper 50K")
    expect(halted).to_contain_text("manual")
    expect(halted).to_contain_text("stepping away")

    halted.get_by_role("button", name="Lift").click()

    expect(page.get_by_test_id("halt-result")).to_have_text("Paper 50K trades again.")
    expect(halted.locator("li")).to_have_count(0)
    assert api(page, "GET", f"/api/accounts/{account['id']}")["halted"] is False
    assert console_errors == []


def test_the_control_center_fits_a_phone(logged_in_page: Page, console_errors, shoot):
    page = logged_in_page
    account = add_paper_account(page)
    strategy = add_strategy(page, "Live", symbol="MES1!", quantity=1)
    api(page, "POST", "/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    send_alert(page, strategy, action="buy")
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto("/control-center")
    expect(page.get_by_test_id("live-log")).to_contain_text("filled (entry)")
    expect(page.get_by_test_id("kill-switch")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide on a 375px screen"
    page.get_by_test_id("kill-switch").click()
    box = page.get_by_test_id("kill-confirm").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    shoot(page, "control-center-phone")
    assert console_errors == []
