"""Price alerts (issue 15): rules through the API, looked at on each price and each new
bar, a crossing fired once per cooldown and told through the outbox, caps and one-shot
rules kept, bad rules refused with the field named."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Notification
from app.services.market import bars, price_alerts, prices
from tests.conftest import front

T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_memory():
    price_alerts.forget()
    yield
    price_alerts.forget()


def rule(api, **fields) -> dict:
    body = {"name": "Breakout", "symbol": "MES1!",
            "conditions": [{"kind": "crosses_above", "value": "6000"}], **fields}  # fmt: skip
    response = api.post("/api/price-alerts", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def watch(app, at: datetime) -> int:
    with app.app_context():
        return price_alerts.watch(at)


def price(value: str, at: datetime) -> None:
    prices.update(front("MES"), D(value), at, "test")


def told(app) -> list[Notification]:
    with app.app_context():
        found = list(db.session.scalars(select(Notification).order_by(Notification.id)))
        db.session.expunge_all()
        return found


def test_a_crossing_fires_once_per_cooldown_and_reaches_the_outbox(app, api, hooked):
    made = rule(api, cooldown_seconds=300)
    assert made["symbol"] == front("MES") and made["join"] == "and"
    watch(app, T0)  # loads the rule for the prices
    path = [("5998", 0), ("6001", 5), ("6003", 10), ("5999", 20), ("6002", 30)]
    for value, seconds in path:
        price(value, T0 + timedelta(seconds=seconds))
    assert watch(app, T0 + timedelta(seconds=31)) == 1  # the second crossing: cooled down
    [trigger] = api.get(f"/api/price-alerts/{made['id']}/triggers").get_json()["items"]
    assert trigger["time"] == "2026-12-04T14:30:05Z"
    assert trigger["values"]["conditions"][0] == {
        "condition": 0, "kind": "crosses_above", "seen": "6001", "met": True,
    }  # fmt: skip
    [note] = [n for n in told(app) if n.event_type == "price_alert"]
    assert note.title == f"Price alert: Breakout ({front('MES')})"
    assert "crosses above: 6001" in note.text

    price("5990", T0 + timedelta(minutes=6))
    price("6004", T0 + timedelta(minutes=6, seconds=1))  # after the cooldown: fires again
    assert watch(app, T0 + timedelta(minutes=7)) == 1


def test_a_one_shot_rule_turns_itself_off_and_a_cap_stops_the_day(app, api):
    one = rule(api, name="Once", one_shot=True)
    capped = rule(api, name="Twice a day", max_triggers_per_day=2,
                  conditions=[{"kind": "price_above", "value": "6000"}])  # fmt: skip
    watch(app, T0)
    for n in range(4):
        price("5990", T0 + timedelta(seconds=10 * n))
        price("6010", T0 + timedelta(seconds=10 * n + 5))
    watch(app, T0 + timedelta(minutes=1))
    shown = {item["name"]: item for item in api.get("/api/price-alerts").get_json()["items"]}
    assert shown["Once"]["enabled"] is False
    assert len(api.get(f"/api/price-alerts/{one['id']}/triggers").get_json()["items"]) == 1
    assert len(api.get(f"/api/price-alerts/{capped['id']}/triggers").get_json()["items"]) == 2


def test_a_bar_rule_is_looked_at_once_per_closed_bar(app, api):
    # RSI(2) above 60 on 1-minute bars: closes 100, 101, 102 rise without a loss (RSI 100).
    made = rule(api, name="Hot", conditions=[{"kind": "rsi_above", "value": 60, "period": 2}])
    for minute, value in enumerate(["100", "101", "102"]):
        price(value, T0 + timedelta(minutes=minute, seconds=1))
    with app.app_context():
        bars.flush(T0 + timedelta(minutes=3))
    assert watch(app, T0 + timedelta(minutes=3, seconds=1)) == 1  # the bar of 14:32 closed
    assert watch(app, T0 + timedelta(minutes=3, seconds=3)) == 0  # no new bar: no new look
    [trigger] = api.get(f"/api/price-alerts/{made['id']}/triggers").get_json()["items"]
    assert trigger["time"] == "2026-12-04T14:33:00Z"
    assert trigger["values"]["conditions"][0]["seen"] == "100"


def test_changing_the_conditions_starts_the_crossing_afresh(app, api):
    made = rule(api)
    watch(app, T0)
    price("5990", T0)
    response = api.put(f"/api/price-alerts/{made['id']}",
                       {"conditions": [{"kind": "crosses_above", "value": "5980"}]})  # fmt: skip
    assert response.status_code == 200
    watch(app, T0 + timedelta(seconds=1))
    price("5995", T0 + timedelta(seconds=2))  # above 5980, but no side was seen before
    assert watch(app, T0 + timedelta(seconds=3)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conditions": [{"kind": "moon", "value": 1}]}, "conditions[0].kind"),
        ({"conditions": [{"kind": "price_above", "value": -1}]}, "conditions[0].value"),
        ({"conditions": []}, "conditions"),
        ({"symbol": "NOPE1!"}, "symbol"),
        ({"timeframe": "2m"}, "timeframe"),
        ({"cooldown_seconds": -5}, "cooldown_seconds"),
        ({"join": "xor"}, "join"),
    ],
)
def test_bad_rules_are_400_with_the_field(api, body, field):
    full = {"name": "x", "symbol": "MES1!",
            "conditions": [{"kind": "price_above", "value": 1}], **body}  # fmt: skip
    response = api.post("/api/price-alerts", full)
    assert response.status_code == 400, response.get_json()
    assert any(key.startswith(field) for key in response.get_json()["error"]["fields"])


def test_unknown_rules_are_404_and_delete_removes_one(api):
    assert api.get("/api/price-alerts/999/triggers").status_code == 404
    made = rule(api)
    assert api.delete(f"/api/price-alerts/{made['id']}").status_code == 204
    assert api.get("/api/price-alerts").get_json()["items"] == []
