"""Manual approval: a strategy's alerts wait for the trader's click; approved they trade
once, rejected or expired they place nothing."""

import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.services.market import prices
from app.services.protection import monitor
from tests.conftest import front


@pytest.fixture
def held(api, app, make_account, make_strategy):
    account = make_account("Paper", starting_balance="50000.00")
    strategy = make_strategy("Careful", symbol="MES1!", require_approval=True)
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")

    class Held:
        def send(self, payload):
            return api.client.post(
                f"/webhook/{strategy['webhook_token']}",
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
            )

        def orders(self):
            return api.get(f"/api/orders?account_id={account['id']}").get_json()["items"]

        def event(self, event_id):
            return api.get(f"/api/webhook-events/{event_id}").get_json()

    held = Held()
    held.strategy = strategy
    return held


def test_an_alert_waits_for_approval_and_then_trades_once(api, held):
    assert held.strategy["require_approval"] is True
    response = held.send({"action": "buy", "quantity": 2})
    assert response.status_code == 200
    answer = response.get_json()
    assert (answer["status"], answer["orders"]) == ("pending_approval", [])
    assert held.orders() == []  # nothing placed yet
    [pending] = api.get("/api/approvals").get_json()["items"]
    assert pending["id"] == answer["approval"]["id"]
    assert pending["signal"]["action"] == "buy"

    approved = api.post(f"/api/approvals/{pending['id']}/approve")
    assert approved.status_code == 200, approved.get_json()
    result = approved.get_json()
    assert result["status"] == "executed"
    assert [(o["role"], o["status"], o["qty"]) for o in result["orders"]] == [
        ("entry", "filled", 2)
    ]
    again = api.post(f"/api/approvals/{pending['id']}/approve")
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "approval_decided")
    assert len(held.orders()) == 1  # never twice
    assert api.get("/api/approvals").get_json()["items"] == []


def test_a_rejected_alert_places_nothing(api, held):
    answer = held.send({"action": "buy"}).get_json()
    rejected = api.post(f"/api/approvals/{answer['approval']['id']}/reject")
    assert rejected.status_code == 200
    assert rejected.get_json()["status"] == "rejected"
    assert held.orders() == []
    assert api.post(f"/api/approvals/{answer['approval']['id']}/approve").status_code == 409


def test_an_expired_alert_places_nothing(api, app, held):
    sent = datetime.now(UTC) - timedelta(seconds=50)  # the strategy allows 60 s
    answer = held.send({"action": "buy", "time": sent.isoformat()}).get_json()
    approval_id = answer["approval"]["id"]
    with app.app_context():
        monitor.tick(datetime.now(UTC) + timedelta(seconds=11))  # past its expiry
    statuses = api.get("/api/approvals?status=all").get_json()["items"]
    assert [a["status"] for a in statuses] == ["expired"]
    refused = api.post(f"/api/approvals/{approval_id}/approve")
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "approval_decided")
    assert held.orders() == []


def test_approving_after_the_expiry_is_refused_as_expired(api, held):
    sent = datetime.now(UTC) - timedelta(seconds=59)
    answer = held.send({"action": "buy", "time": sent.isoformat()}).get_json()
    time.sleep(1.1)  # the approval's expiry passes while it waits
    refused = api.post(f"/api/approvals/{answer['approval']['id']}/approve")
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "expired")
    assert held.orders() == []


def test_an_approved_alert_trades_what_was_parsed_not_its_redacted_body(
    api, app, make_account, make_strategy
):
    account = make_account("Paper 2", starting_balance="50000.00")
    strategy = make_strategy("Secret", symbol="MES1!", require_approval=True, passphrase="2")
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    with app.app_context():
        prices.update(front("MES"), Decimal("6000"), datetime.now(UTC), "test")
    body = {"action": "buy", "quantity": 2, "passphrase": "2"}  # stored with "2" as ***
    answer = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        data=json.dumps(body),
        headers={"Content-Type": "application/json"},
    ).get_json()
    approved = api.post(f"/api/approvals/{answer['approval']['id']}/approve")
    assert approved.status_code == 200, approved.get_json()
    assert [o["qty"] for o in approved.get_json()["orders"]] == [2]
