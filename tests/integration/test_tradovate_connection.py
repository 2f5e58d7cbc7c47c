"""POST /api/accounts/<id>/test and the accounts page's "Test connection" button."""

import json

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, BrokerAccount
from app.services.setup.crypto import decrypt_json, encrypt_json
from tests.conftest import TRADOVATE_CREDENTIALS


@pytest.fixture
def tradovate(make_account, fake_tradovate):
    """Make a Tradovate account (fields override the defaults) and return its id."""

    def make(name="Tradovate demo", credentials=None, **fields):
        body = {"credentials": dict(TRADOVATE_CREDENTIALS, **(credentials or {})), **fields}
        return make_account(name, broker="tradovate", **body)["id"]

    return make


def check(api, account_id) -> dict:
    response = api.post(f"/api/accounts/{account_id}/test")
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert set(answer) == {"ok", "accounts", "message"}
    text = json.dumps(answer)
    for secret in (TRADOVATE_CREDENTIALS["password"], TRADOVATE_CREDENTIALS["sec"]):
        assert secret not in text
    return answer


def test_a_working_login_lists_the_accounts_and_names_the_one_used(api, app, tradovate):
    account_id = tradovate()
    answer = check(api, account_id)
    assert answer["ok"] is True
    assert answer["accounts"] == [
        {"id": 720001, "name": "DEMO720001", "active": True, "selected": True},
        {"id": 720002, "name": "DEMO720002", "active": True, "selected": False},
    ]
    assert answer["message"] == (
        "Connected to Tradovate demo as trader1; orders go to DEMO720001 (#720001); "
        "the login also sees DEMO720002 (#720002)."
    )
    with app.app_context():
        assert db.session.get(BrokerAccount, account_id).broker_account_spec == "DEMO720001"
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.message.like("connection test%"))
        ).one()
        assert entry.message.endswith(": ok")


def test_a_named_account_is_selected(api, tradovate):
    answer = check(api, tradovate(broker_account_id="720002"))
    assert answer["ok"] is True
    assert [a["selected"] for a in answer["accounts"]] == [False, True]
    assert "orders go to DEMO720002 (#720002)" in answer["message"]


def test_an_account_id_the_login_does_not_see_is_named_with_those_it_does(api, tradovate):
    answer = check(api, tradovate(broker_account_id="999"))
    assert answer["ok"] is False
    assert answer["message"].startswith("Tradovate account #999 is not among the accounts")
    assert "DEMO720001 (#720001), DEMO720002 (#720002)" in answer["message"]
    assert len(answer["accounts"]) == 2


def test_a_wrong_password_says_so_in_tradovates_words(api, tradovate):
    answer = check(api, tradovate(credentials={"password": "nope"}))
    assert answer == {
        "ok": False,
        "accounts": [],
        "message": "Tradovate refused the login: Incorrect username or password. Please try "
        "again, noting that passwords are case-sensitive. Check the username and password: "
        "they are those of your Tradovate login.",
    }


def test_a_wrong_api_secret_points_at_the_key_fields(api, tradovate):
    answer = check(api, tradovate(credentials={"sec": "not-the-secret"}))
    assert answer["ok"] is False
    assert "check cid and sec" in answer["message"]
    assert "cid is the key's number, sec its secret" in answer["message"]


def test_missing_credential_fields_are_named(api, app, tradovate, fake_tradovate):
    account_id = tradovate()
    with app.app_context():
        account = db.session.get(BrokerAccount, account_id)
        stored = decrypt_json(account.credentials_encrypted)
        del stored["sec"], stored["app_id"]
        account.credentials_encrypted = encrypt_json(stored)
        db.session.commit()
    answer = check(api, account_id)
    assert answer["ok"] is False
    assert answer["message"].startswith(
        "Tradovate credentials are incomplete: missing app id, sec (API secret)."
    )
    assert fake_tradovate.calls() == []


def test_a_captcha_penalty_tells_the_trader_to_wait_or_log_in_on_tradovate(
    api, tradovate, fake_tradovate
):
    fake_tradovate.penalize_next("auth/accesstokenrequest", 60, captcha=True)
    answer = check(api, tradovate())
    assert answer["ok"] is False
    assert "captcha" in answer["message"] and "wait about an hour" in answer["message"]


def test_testing_again_after_a_refusal_asks_tradovate_again(api, app, tradovate, fake_tradovate):
    account_id = tradovate()
    fake_tradovate.penalize_next("auth/accesstokenrequest", 60, captcha=True)
    assert check(api, account_id)["ok"] is False
    assert check(api, account_id)["ok"] is True  # the button skips the login hold
    assert fake_tradovate.logins == 1


def test_a_live_account_without_live_access_is_told_so(api, tradovate):
    answer = check(api, tradovate(environment="live"))
    assert answer["ok"] is False
    assert "no live access" in answer["message"] and len(answer["accounts"]) == 2


def test_a_live_account_with_live_access_connects(api, tradovate, fake_tradovate):
    fake_tradovate.users["trader1"].has_live = True
    answer = check(api, tradovate(environment="live"))
    assert answer["ok"] is True
    assert answer["message"].startswith("Connected to Tradovate live as trader1")


def test_a_rate_limit_is_reported_with_the_wait(api, tradovate, fake_tradovate):
    fake_tradovate.fail_next("auth/accesstokenrequest", status=429)
    answer = check(api, tradovate())
    assert answer["ok"] is False
    assert "HTTP 429" in answer["message"] and "3600 s" in answer["message"]


def test_tradovate_not_answering_is_reported(api, tradovate, fake_tradovate):
    account_id = tradovate()
    fake_tradovate.stop()
    answer = check(api, account_id)
    assert answer["ok"] is False
    assert answer["message"].startswith("Tradovate did not answer")


def test_a_paper_account_answers_ok_with_a_note(api, make_account):
    answer = check(api, make_account("Paper")["id"])
    assert answer == {
        "ok": True,
        "accounts": [],
        "message": "Paper accounts trade on DeskPilot's built-in simulator: there is nothing "
        "to connect to.",
    }


def test_an_unknown_account_is_404(api):
    assert api.post("/api/accounts/999/test").status_code == 404


def test_the_accounts_page_offers_the_test_on_tradovate_rows_only(
    client, auth, make_account, tradovate
):
    paper = make_account("Paper")
    account_id = tradovate()
    auth.login()
    html = client.get("/accounts").get_data(as_text=True)
    assert html.count('data-testid="test-connection"') == 1
    assert f'data-api="/api/accounts/{account_id}/test"' in html
    assert f'data-api="/api/accounts/{paper["id"]}/test"' not in html
    assert f'id="connection-{account_id}"' in html


def test_the_button_answers_a_session_call_with_csrf(client, auth, tradovate):
    account_id = tradovate()
    auth.login()
    response = client.post(
        f"/api/accounts/{account_id}/test", headers={"X-CSRF-Token": auth.csrf()}
    )
    assert response.status_code == 200 and response.get_json()["ok"] is True


# --- the broker's own limits -------------------------------------------------------------------


def test_the_brokers_auto_liquidation_settings_are_offered_as_the_rules(
    api, fake_tradovate, tradovate
):
    account = {"id": tradovate()}
    fake_tradovate.auto_liq[720001] = {
        "dailyLossAutoLiq": 1000,
        "trailingMaxDrawdown": 2500,
        "trailingMaxDrawdownMode": "EOD",
        "trailingMaxDrawdownLimit": 50000,
        "dailyProfitAutoLiq": None,
        "changesLocked": True,
    }
    response = api.get(f"/api/accounts/{account['id']}/broker-limits")
    assert response.status_code == 200, response.get_json()
    limits = response.get_json()
    assert (limits["daily_loss"], limits["trailing_drawdown"]) == ("1000.00", "2500.00")
    assert (limits["trailing_drawdown_mode"], limits["changes_locked"]) == ("eod", True)
    assert limits["daily_profit"] is None
    suggested = limits["suggested_rules"]
    assert suggested == {
        "max_daily_loss": "1000.00",
        "trailing_drawdown": "2500.00",
        "trailing_drawdown_mode": "eod",
        "trailing_stops_at_start": True,
        "safety_buffer": "100.00",  # a tenth of the tightest loss limit
    }
    assert api.put(f"/api/risk/{account['id']}", suggested).status_code == 200  # as it is


def test_an_account_without_broker_limits_answers_empty(api, tradovate, make_account):
    assert api.get(f"/api/accounts/{tradovate()}/broker-limits").get_json() == {}
    paper = make_account("Paper")
    assert api.get(f"/api/accounts/{paper['id']}/broker-limits").get_json() == {}
