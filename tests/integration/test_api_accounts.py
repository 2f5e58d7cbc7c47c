"""/api/accounts: paper and Tradovate accounts; credentials encrypted, never returned."""

import json

import pytest
from sqlalchemy import select, text

from app.extensions import db
from app.models import AuditEntry, BrokerAccount, Order
from app.services.setup.crypto import decrypt_json
from tests.conftest import TRADOVATE_CREDENTIALS


def tradovate_body(**fields):
    return {
        "name": "Tradovate demo",
        "broker": "tradovate",
        "credentials": dict(TRADOVATE_CREDENTIALS),
        **fields,
    }


def test_paper_account_gets_default_starting_balance(api):
    response = api.post("/api/accounts", {"name": "Paper", "broker": "paper"})
    assert response.status_code == 201
    account = response.get_json()
    assert account["starting_balance"] == "50000.00"
    assert account["cash_balance"] == "50000.00"
    assert account["environment"] == "demo"
    assert account["enabled"] is True


def test_paper_account_takes_exact_starting_balance(api):
    account = api.post(
        "/api/accounts", {"name": "P", "broker": "paper", "starting_balance": "25000.10"}
    ).get_json()
    assert account["starting_balance"] == "25000.10"


def test_tradovate_account_stores_credentials_encrypted(api, app):
    response = api.post(
        "/api/accounts", tradovate_body(environment="live", broker_account_id=1234567)
    )
    assert response.status_code == 201
    account = response.get_json()
    assert account["has_credentials"] is True
    assert account["broker_account_id"] == "1234567"
    assert account["environment"] == "live"
    with app.app_context():
        stored = db.session.get(BrokerAccount, account["id"])
        assert TRADOVATE_CREDENTIALS["password"] not in stored.credentials_encrypted
        credentials = decrypt_json(stored.credentials_encrypted)
        assert credentials["password"] == TRADOVATE_CREDENTIALS["password"]
        assert credentials["cid"] == "8123", "cid may be sent as a number; it is kept as text"


def test_secrets_never_appear_in_any_response_or_the_audit_log(api, app):
    created = api.post("/api/accounts", tradovate_body()).get_json()
    api.put(f"/api/accounts/{created['id']}", {"credentials": {"password": "rotated-secret-99"}})
    secrets = [TRADOVATE_CREDENTIALS["password"], TRADOVATE_CREDENTIALS["sec"], "rotated-secret-99"]
    bodies = [
        api.get("/api/accounts").get_data(as_text=True),
        api.get(f"/api/accounts/{created['id']}").get_data(as_text=True),
        api.get("/api/logs").get_data(as_text=True),
    ]
    with app.app_context():
        raw_row = db.session.execute(
            text("SELECT credentials_encrypted FROM broker_accounts")
        ).scalar()
        audit = json.dumps([e.data for e in db.session.scalars(select(AuditEntry))])
    for secret in secrets:
        for body in bodies:
            assert secret not in body
        assert secret not in raw_row
        assert secret not in audit


def test_tradovate_device_id_is_generated_when_missing(api, app):
    credentials = {k: v for k, v in TRADOVATE_CREDENTIALS.items() if k != "device_id"}
    account = api.post(
        "/api/accounts", {"name": "T", "broker": "tradovate", "credentials": credentials}
    ).get_json()
    with app.app_context():
        stored = decrypt_json(db.session.get(BrokerAccount, account["id"]).credentials_encrypted)
    assert len(stored["device_id"]) == 36


def test_credential_update_merges_into_stored_credentials(api, app):
    account = api.post("/api/accounts", tradovate_body()).get_json()
    response = api.put(
        f"/api/accounts/{account['id']}", {"credentials": {"password": "new-pass-123"}}
    )
    assert response.status_code == 200
    with app.app_context():
        stored = decrypt_json(db.session.get(BrokerAccount, account["id"]).credentials_encrypted)
    assert stored["password"] == "new-pass-123"
    assert stored["sec"] == TRADOVATE_CREDENTIALS["sec"]


def test_account_crud_round_trip(api):
    account = api.post("/api/accounts", {"name": "Paper A", "broker": "paper"}).get_json()
    assert api.get(f"/api/accounts/{account['id']}").get_json()["name"] == "Paper A"
    updated = api.put(f"/api/accounts/{account['id']}", {"name": "Paper B", "enabled": False})
    assert updated.get_json()["name"] == "Paper B"
    assert updated.get_json()["enabled"] is False
    assert [a["name"] for a in api.get("/api/accounts").get_json()["items"]] == ["Paper B"]
    assert api.delete(f"/api/accounts/{account['id']}").status_code == 204
    assert api.get(f"/api/accounts/{account['id']}").status_code == 404


def test_account_with_orders_cannot_be_deleted(api, app):
    account = api.post("/api/accounts", {"name": "Paper", "broker": "paper"}).get_json()
    with app.app_context():
        db.session.add(
            Order(
                account_id=account["id"],
                client_order_id="dp-1",
                symbol="MESZ6",
                side="buy",
                quantity=1,
                order_type="market",
                role="manual",
            )
        )
        db.session.commit()
    response = api.delete(f"/api/accounts/{account['id']}")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "account_in_use"


def test_duplicate_account_name_is_409(api):
    api.post("/api/accounts", {"name": "Same", "broker": "paper"})
    response = api.post("/api/accounts", {"name": "Same", "broker": "paper"})
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"] == {"name": "is taken"}


def test_account_changes_are_audited(api, app):
    account = api.post("/api/accounts", {"name": "Paper", "broker": "paper"}).get_json()
    api.put(f"/api/accounts/{account['id']}", {"enabled": False})
    api.delete(f"/api/accounts/{account['id']}")
    messages = [e["message"] for e in api.get("/api/logs").get_json()["items"]]
    assert "account 'Paper' created (paper, demo)" in messages
    assert "account 'Paper' updated" in messages
    assert "account 'Paper' deleted" in messages
    update = next(
        e for e in api.get("/api/logs").get_json()["items"] if e["message"].endswith("updated")
    )
    assert update["data"] == {"enabled": [True, False]}
    assert update["actor"] == "owner (api token)"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"broker": "paper"}, "name"),
        ({"name": "", "broker": "paper"}, "name"),
        ({"name": "x" * 101, "broker": "paper"}, "name"),
        ({"name": 5, "broker": "paper"}, "name"),
        ({"name": "A"}, "broker"),
        ({"name": "A", "broker": "ibkr"}, "broker"),
        ({"name": "A", "broker": "paper", "environment": "prod"}, "environment"),
        ({"name": "A", "broker": "paper", "starting_balance": "-5"}, "starting_balance"),
        ({"name": "A", "broker": "paper", "starting_balance": "lots"}, "starting_balance"),
        ({"name": "A", "broker": "paper", "starting_balance": True}, "starting_balance"),
        ({"name": "A", "broker": "paper", "starting_balance": "1.005"}, "starting_balance"),
        ({"name": "A", "broker": "paper", "starting_balance": "NaN"}, "starting_balance"),
        ({"name": "A", "broker": "paper", "enabled": "yes"}, "enabled"),
        ({"name": "A", "broker": "paper", "credentials": {"username": "u"}}, "credentials"),
        ({"name": "A", "broker": "tradovate"}, "credentials"),
        (
            {"name": "A", "broker": "tradovate", "credentials": {"username": "u"}},
            "credentials.password",
        ),
        ({"name": "A", "broker": "tradovate", "credentials": "secret"}, "credentials"),
        ({"name": "A", "broker": "paper", "broker_account_id": "abc"}, "broker_account_id"),
        ({"name": "A", "broker": "paper", "surprise": 1}, "surprise"),
        (
            {
                "name": "A",
                "broker": "tradovate",
                "credentials": dict(TRADOVATE_CREDENTIALS),
                "starting_balance": "5",
            },
            "starting_balance",
        ),
    ],
)
def test_bad_account_bodies_are_400_naming_the_field(api, body, field):
    response = api.post("/api/accounts", body)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert any(name == field or name.startswith(field + ".") for name in error["fields"]), error


def test_changing_an_accounts_broker_is_refused(api):
    account = api.post("/api/accounts", {"name": "P", "broker": "paper"}).get_json()
    response = api.put(f"/api/accounts/{account['id']}", {"broker": "tradovate"})
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"] == {"broker": "is fixed"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_account_is_404(api, method):
    response = api.call(method, "/api/accounts/999", {"name": "x"} if method == "PUT" else None)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
