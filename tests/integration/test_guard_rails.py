"""Funded-account rules on a paper account: set through the API, their room measured from
the ledger, and a breach refusing new entries while exits still go through."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.market import prices
from app.services.protection import monitor
from tests.conftest import front


@pytest.fixture
def paper(make_account, app):
    account = make_account("Funded 50K", starting_balance="50000.00")
    price(app, "6000.25")
    return account


def price(app, value: str) -> None:
    with app.app_context():
        prices.update(front("MES"), Decimal(value), datetime.now(UTC), "test")


def order(api, account, side="buy", qty=1):
    body = {"account_id": account["id"], "symbol": "MES1!", "side": side, "qty": qty}
    return api.post("/api/orders", body)


def room(api, account) -> dict:
    response = api.get(f"/api/risk/{account['id']}/room")
    assert response.status_code == 200, response.get_json()
    return {item["rule"]: item for item in response.get_json()["items"]}


def test_rules_are_set_and_their_room_follows_the_equity(api, app, paper):
    rules = {
        "trailing_drawdown": "500",
        "trailing_drawdown_mode": "realtime",
        "daily_profit_target": "200",
        "max_consecutive_losses": 2,
        "safety_buffer": "50",
        "breach_action": "flatten",
    }
    response = api.put(f"/api/risk/{paper['id']}", rules)
    assert response.status_code == 200, response.get_json()
    stored = response.get_json()
    assert (stored["trailing_drawdown"], stored["breach_action"]) == ("500.00", "flatten")
    assert room(api, paper) == room(api, paper)  # looking moves nothing at rest
    assert room(api, paper)["trailing_drawdown"]["room_left"] == "450"  # 50000 - 49500 - 50

    assert order(api, paper, qty=2).status_code == 201  # at 6000.25
    price(app, "6010.25")  # +10 points on 2 MES: +$100 open
    found = room(api, paper)
    drawdown = found["trailing_drawdown"]
    assert (drawdown["used"], drawdown["room_left"]) == ("0", "450")  # the mark rose with it
    target = found["daily_profit_target"]
    assert (target["used"], target["room_left"], target["action"]) == ("100", "50", "flatten")
    price(app, "6002.25")  # back to +$20: the real-time mark stays at 50100
    drawdown = room(api, paper)["trailing_drawdown"]
    assert (drawdown["used"], drawdown["room_left"]) == ("80", "370")
    assert room(api, paper)["consecutive_losses"]["action"] == "refuse"  # never flattens


def test_a_breached_rule_refuses_entries_and_lets_exits_through(api, app, paper):
    api.put(f"/api/risk/{paper['id']}", {"daily_profit_target": "100"})
    order(api, paper, qty=2)
    price(app, "6010.25")  # +$100: the day's target is reached
    refused = order(api, paper)
    assert refused.status_code == 422
    assert "daily profit target rule breached" in refused.get_json()["error"]["message"]
    assert order(api, paper, side="sell", qty=2).status_code == 201  # out, always


def test_losses_in_a_row_stop_the_day(api, app, paper):
    api.put(f"/api/risk/{paper['id']}", {"max_consecutive_losses": 2})
    for _ in range(2):
        price(app, "6000.25")
        order(api, paper)
        price(app, "5999.25")
        order(api, paper, side="sell")
    found = room(api, paper)["consecutive_losses"]
    assert (found["used"], found["breached"]) == ("2", True)
    refused = order(api, paper)
    assert refused.status_code == 422
    assert "consecutive losses rule breached" in refused.get_json()["error"]["message"]


def test_rules_are_validated_and_turned_off_with_null(api, paper):
    bad = api.put(f"/api/risk/{paper['id']}", {"consistency_pct": 100})
    assert bad.status_code == 400 and "consistency_pct" in bad.get_json()["error"]["fields"]
    api.put(f"/api/risk/{paper['id']}", {"weekly_loss_limit": "1000"})
    assert list(room(api, paper)) == ["weekly_loss"]
    api.put(f"/api/risk/{paper['id']}", {"weekly_loss_limit": None})
    assert room(api, paper) == {}


def tick(app):
    with app.app_context():
        status = monitor.tick(datetime.now(UTC))
        assert status.errors == 0, status.last_error
        return status


def test_a_breach_set_to_flatten_flattens_halts_and_the_halt_is_the_rules(api, app, paper):
    api.put(
        f"/api/risk/{paper['id']}",
        {
            "trailing_drawdown": "150",
            "trailing_drawdown_mode": "realtime",
            "breach_action": "flatten",
        },
    )
    order(api, paper, qty=2)  # at 6000.25
    price(app, "6010.25")  # the mark rises to 50,100 with the open profit
    assert tick(app).halted_accounts == []
    price(app, "5995.25")  # equity 49,950: at the floor 49,950
    assert tick(app).halted_accounts == [paper["id"]]
    risk = api.get(f"/api/risk/{paper['id']}").get_json()
    assert (risk["halted"], risk["halted_by"]) == (True, "rule")
    assert "trailing drawdown rule breached" in risk["halt_reason"]
    assert api.get(f"/api/positions?account_id={paper['id']}").get_json()["items"] == []
    assert api.delete(f"/api/accounts/{paper['id']}/halt").status_code == 409  # not by hand
    assert order(api, paper).status_code == 422


def test_a_rule_halt_ends_when_the_rule_is_no_longer_breached(api, app, paper):
    api.put(f"/api/risk/{paper['id']}", {"daily_profit_target": "50", "breach_action": "flatten"})
    order(api, paper, qty=2)
    price(app, "6005.25")  # +$50
    assert tick(app).halted_accounts == [paper["id"]]
    api.put(f"/api/risk/{paper['id']}", {"daily_profit_target": "500"})  # as a new day would
    tick(app)
    assert api.get(f"/api/risk/{paper['id']}").get_json()["halted"] is False


# --- flat before the close, done for the day ---------------------------------------------------

THURSDAY = datetime(2026, 12, 3, tzinfo=UTC)  # Chicago is UTC-6 in December


def chicago(hour: int, minute: int, day: datetime = THURSDAY) -> datetime:
    """A wall-clock time in Chicago on `day`, in UTC (CST: six hours behind)."""
    return day + timedelta(hours=hour + 6, minutes=minute)


def tick_at(app, now: datetime):
    with app.app_context():
        status = monitor.tick(now)
        assert status.errors == 0, status.last_error
        return status


def working(api, account):
    items = api.get(f"/api/orders?account_id={account['id']}&status=working").get_json()
    return items["items"]


def test_flat_at_a_set_time_then_refused_until_the_next_trading_day(api, app, paper):
    api.put(f"/api/risk/{paper['id']}", {"flatten_at": "15:55"})  # Chicago, the default zone
    body = {"account_id": paper["id"], "symbol": "MES1!", "side": "buy", "qty": 2}
    api.post("/api/orders", {**body, "take_profit": {"ticks": 8}, "stop_loss": {"ticks": 8}})
    api.post("/api/orders", {**body, "order_type": "limit", "limit_price": "5990"})
    assert len(working(api, paper)) == 3
    assert tick_at(app, chicago(15, 54)).halted_accounts == []
    assert tick_at(app, chicago(15, 55)).halted_accounts == [paper["id"]]
    assert working(api, paper) == []
    assert api.get(f"/api/positions?account_id={paper['id']}").get_json()["items"] == []
    risk = api.get(f"/api/risk/{paper['id']}").get_json()
    assert (risk["halted_by"], risk["flatten_at"]) == ("session_end", "15:55")
    assert order(api, paper).status_code == 422
    tick_at(app, chicago(17, 1))  # the next trading day opened
    assert api.get(f"/api/risk/{paper['id']}").get_json()["halted"] is False
    assert tick_at(app, chicago(17, 2)).halted_accounts == []  # tomorrow's 15:55 is far


def test_flat_minutes_before_an_early_close(api, app, paper):
    api.put(f"/api/risk/{paper['id']}", {"flatten_before_close_minutes": 10})
    order(api, paper)
    christmas_eve = datetime(2026, 12, 24, tzinfo=UTC)
    assert tick_at(app, chicago(11, 49, christmas_eve)).halted_accounts == []
    assert tick_at(app, chicago(11, 50, christmas_eve)).halted_accounts == [paper["id"]]


def test_done_for_the_day_flattens_and_only_the_next_day_lifts_it(api, app, paper):
    order(api, paper, qty=2)
    response = api.post(f"/api/accounts/{paper['id']}/done-for-day")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["halted_by"], answer["sweep"]["flattened_positions"]) == ("done_for_day", 1)
    assert api.delete(f"/api/accounts/{paper['id']}/halt").status_code == 409
    assert order(api, paper).status_code == 422
    tomorrow = datetime.now(UTC) + timedelta(days=1, hours=1)
    tick_at(app, tomorrow)
    assert api.get(f"/api/risk/{paper['id']}").get_json()["halted"] is False


# --- news blackout -----------------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//DeskPilot test//EN
BEGIN:VEVENT
UID:cpi-{day}
DTSTART:{start}
SUMMARY:CPI m/m
CATEGORIES:USD,High
END:VEVENT
BEGIN:VEVENT
UID:claims-{day}
DTSTART:{start}
SUMMARY:Jobless claims
PRIORITY:5
END:VEVENT
BEGIN:VEVENT
UID:no-impact-{day}
DTSTART:{start}
SUMMARY:Speech
END:VEVENT
END:VCALENDAR
"""


def import_calendar(api, start: datetime) -> dict:
    body = ICS.format(day=start.date(), start=start.strftime("%Y%m%dT%H%M%SZ"))
    response = api.client.post(
        "/api/calendar/events",
        data=body,
        headers={"Content-Type": "text/calendar", **api.headers},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_news_blackout_refuses_entries_inside_its_window_and_accepts_after(api, paper):
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    imported = import_calendar(api, soon)
    assert (imported["imported"], imported["skipped"]) == (2, ["Speech: no impact"])
    assert import_calendar(api, soon)["imported"] == 2  # again: updated, not doubled
    events = api.get("/api/calendar/events").get_json()["items"]
    assert [(e["title"], e["impact"]) for e in events] == [
        ("CPI m/m", "high"),
        ("Jobless claims", "medium"),
    ]
    rule = {"before_minutes": 5, "after_minutes": 10, "min_impact": "high"}
    assert api.put(f"/api/risk/{paper['id']}", {"news_blackout": rule}).status_code == 200
    refused = order(api, paper)
    assert refused.status_code == 422
    assert "news blackout: CPI m/m (high)" in refused.get_json()["error"]["message"]
    later = soon - timedelta(minutes=30)  # the calendar moved: the event is past its window
    import_calendar(api, later)
    assert order(api, paper).status_code == 201


def test_news_blackout_settings_are_checked(api, paper):
    flatten = {"before_minutes": 5, "after_minutes": 5, "flatten": "yes"}
    response = api.put(f"/api/risk/{paper['id']}", {"news_blackout": flatten})
    assert response.status_code == 400
    assert "flatten" in json.dumps(response.get_json()["error"]["fields"])
    csv_body = "time,title,impact,currency\n2026-12-10T13:30:00Z,CPI m/m,high,USD\nbad,x,high\n"
    response = api.client.post(
        "/api/calendar/events",
        data=csv_body,
        headers={"Content-Type": "text/csv", **api.headers},
    )
    assert response.get_json()["imported"] == 1 and len(response.get_json()["skipped"]) == 1


def test_a_malformed_event_in_a_calendar_is_skipped_not_a_server_error(api):
    body = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        "BEGIN:VEVENT\nUID:a\nDTSTART:garbage\nSUMMARY:Bad time\nPRIORITY:1\nEND:VEVENT\n"
        "BEGIN:VEVENT\nUID:b\nDTSTART:20261210T133000Z\nSUMMARY:Bad priority\nPRIORITY:high\n"
        "END:VEVENT\n"
        "BEGIN:VEVENT\nUID:c\nDTSTART:20261210T133000Z\nSUMMARY:CPI m/m\nX-IMPACT:High\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    response = api.client.post(
        "/api/calendar/events", data=body, headers={"Content-Type": "text/calendar", **api.headers}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["imported"] == 1
    assert [why.split(":")[0] for why in answer["skipped"]] == ["Bad time", "Bad priority"]
