"""Step-up: with two-factor login on, the sensitive calls need a fresh second factor — a
step-up of this browser session in the last five minutes, or the code in X-Second-Factor
on the call — and are refused with 401 step_up_required otherwise; with it off, nothing
changes. Also the recovery: `run.py init --reset-two-factor`."""

import json
import shutil
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AuditEntry, BrokerAccount, TrustedDevice, User
from app.services.setup import trusted_devices
from app.services.setup.auth import issue_api_token, owner
from tests.conftest import OWNER, PASSWORD, TRADOVATE_CREDENTIALS, Api, csrf_from, make_config
from tests.integration.test_cli import run_cli
from tests.integration.test_two_factor import next_code, turn_on


class Browser:
    """The owner's logged-in browser session: JSON calls with the page's CSRF token."""

    def __init__(self, client, auth):
        auth.login()
        self.client = client
        self.headers = {"X-CSRF-Token": auth.csrf()}

    def call(self, method: str, path: str, body=None):
        return self.client.open(path, method=method, json=body, headers=self.headers)

    def step_up(self, code: str):
        return self.call("POST", "/api/2fa/step-up", {"code": code})


@pytest.fixture
def browser(client, auth):
    return Browser(client, auth)


def with_code(api, method: str, path: str, code: str, body=None):
    """A script's call carrying its second factor."""
    headers = {**api.headers, "X-Second-Factor": code}
    return api.client.open(path, method=method, json=body, headers=headers)


def engaged(api) -> bool:
    return api.get("/api/kill-switch").get_json()["engaged"]


def auth_messages(app) -> list[str]:
    with app.app_context():
        query = select(AuditEntry.message).where(AuditEntry.category == "auth")
        return list(db.session.scalars(query))


def refused(response) -> bool:
    body = response.get_json()
    return response.status_code == 401 and body["error"]["code"] == "step_up_required"


# --- the guarded calls --------------------------------------------------------------------

GUARDED = [
    ("DELETE", "/api/kill-switch", None),
    ("POST", "/api/accounts", {"name": "Live", "broker": "tradovate", "environment": "live"}),
    ("PUT", "/api/accounts/{account}", {"credentials": {"password": "another-pass"}}),
    ("PUT", "/api/accounts/{account}", {"environment": "live"}),
    ("POST", "/api/strategies/{strategy}/rotate-token", None),
    ("POST", "/api/strategies/{strategy}/signing-secret", None),
    ("DELETE", "/api/strategies/{strategy}/signing-secret", None),
    ("POST", "/api/settings/password", {"current_password": PASSWORD, "new_password": "x" * 16}),
    ("PUT", "/api/settings", {"smtp_password": "mail-secret"}),
    ("POST", "/api/notifications/webhook-secret", None),
    ("PUT", "/api/strategies/{strategy}", {"passphrase": "a new passphrase"}),
    ("PUT", "/api/settings", {"webhook_allowlist": ["203.0.113.0/24"]}),
]


@pytest.fixture
def targets(api, make_strategy):
    demo = api.post(
        "/api/accounts",
        {
            "name": "Demo",
            "broker": "tradovate",
            "environment": "demo",
            "credentials": TRADOVATE_CREDENTIALS,
        },
    )
    assert demo.status_code == 201, demo.get_json()
    return {"account": demo.get_json()["id"], "strategy": make_strategy()["id"]}


@pytest.mark.parametrize(("method", "path", "body"), GUARDED)
def test_each_sensitive_call_asks_for_a_step_up_when_two_factor_is_on(
    api, app, targets, method, path, body
):
    turn_on(api)
    response = api.call(method, path.format(**targets), body)
    assert refused(response), response.get_json()
    assert set(response.get_json()["error"]) == {"code", "message", "fields"}
    assert "X-Second-Factor" in response.get_json()["error"]["message"]
    assert any(m.startswith("step-up asked for ") for m in auth_messages(app))


def test_with_two_factor_off_nothing_is_asked(api, targets):
    api.post("/api/kill-switch")
    assert api.delete("/api/kill-switch").status_code == 200
    assert api.post(f"/api/strategies/{targets['strategy']}/rotate-token").status_code == 200
    update = api.put(f"/api/accounts/{targets['account']}", {"environment": "live"})
    assert update.status_code == 200


def test_everyday_calls_are_not_guarded(api, targets):
    turn_on(api)
    demo = api.post("/api/accounts", {"name": "Paper", "broker": "paper"})
    assert demo.status_code == 201
    rename = api.put(f"/api/accounts/{targets['account']}", {"name": "Renamed"})
    assert rename.status_code == 200
    assert api.post("/api/kill-switch").status_code == 200, "engaging is never slowed down"
    assert api.put("/api/settings", {"timezone": "Europe/Berlin"}).status_code == 200


# --- X-Second-Factor: a script's proof, on the call itself -------------------------------


def test_a_script_re_arms_with_a_code_in_the_header_once(api, app):
    secret, backup = turn_on(api)
    api.post("/api/kill-switch")
    assert refused(api.delete("/api/kill-switch"))
    wrong = with_code(api, "DELETE", "/api/kill-switch", "000000")
    assert refused(wrong)
    assert wrong.get_json()["error"]["fields"] == {"code": "is wrong or was already used"}
    assert engaged(api)
    code = next_code(secret)
    rearmed = with_code(api, "DELETE", "/api/kill-switch", code)
    assert rearmed.status_code == 200 and rearmed.get_json()["engaged"] is False
    api.post("/api/kill-switch")
    again = with_code(api, "DELETE", "/api/kill-switch", code)
    assert refused(again), "a code is never taken twice"
    by_backup = with_code(api, "DELETE", "/api/kill-switch", backup[0])
    assert by_backup.status_code == 200
    messages = auth_messages(app)
    assert "step-up refused for re-arming the kill switch: wrong code" in messages
    assert "step-up passed for re-arming the kill switch (authenticator code)" in messages
    assert "step-up passed for re-arming the kill switch (backup code)" in messages
    with app.app_context():
        data = db.session.scalars(select(AuditEntry.data)).all()
    assert not any(code in json.dumps(d) for d in data)
    assert not any(code in m for m in messages)


def test_wrong_header_codes_count_towards_the_second_steps_lock(api, app):
    secret, _ = turn_on(api)
    api.post("/api/kill-switch")
    statuses = [
        with_code(api, "DELETE", "/api/kill-switch", "000000").status_code for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 423]
    locked = with_code(api, "DELETE", "/api/kill-switch", next_code(secret))
    assert locked.status_code == 423 and locked.get_json()["error"]["code"] == "locked"
    assert engaged(api)


def test_a_live_account_with_a_code_in_the_header_is_added(api, app):
    secret, _ = turn_on(api)
    body = {
        "name": "Live",
        "broker": "tradovate",
        "environment": "live",
        "credentials": TRADOVATE_CREDENTIALS,
    }
    response = with_code(api, "POST", "/api/accounts", next_code(secret), body)
    assert response.status_code == 201, response.get_json()
    with app.app_context():
        assert db.session.scalar(select(BrokerAccount.environment)) == "live"


def test_one_code_covers_a_call_that_is_sensitive_twice(api, targets):
    _, backup = turn_on(api)
    body = {"credentials": {"password": "another-pass"}, "environment": "live"}
    response = with_code(api, "PUT", f"/api/accounts/{targets['account']}", backup[0], body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["environment"] == "live"


# --- a browser session's step-up ---------------------------------------------------------


def test_a_step_up_lets_this_session_act_for_five_minutes(browser, api, app, targets):
    secret, _ = turn_on(api)
    api.post("/api/kill-switch")
    assert refused(browser.call("DELETE", "/api/kill-switch"))
    wrong = browser.step_up("000000")
    assert wrong.status_code == 400 and wrong.get_json()["error"]["code"] == "invalid_code"
    answer = browser.step_up(next_code(secret))
    assert answer.status_code == 200
    until = datetime.fromisoformat(answer.get_json()["valid_until"])
    assert timedelta(minutes=4) < until - datetime.now(UTC) <= timedelta(minutes=5)
    assert browser.call("DELETE", "/api/kill-switch").status_code == 200
    rotated = browser.call("POST", f"/api/strategies/{targets['strategy']}/rotate-token")
    assert rotated.status_code == 200
    assert refused(api.post(f"/api/strategies/{targets['strategy']}/rotate-token")), (
        "an API token's call is not stepped up by a browser's session"
    )
    with browser.client.session_transaction() as session:
        session["step_up"] = {**session["step_up"], "until": datetime.now(UTC).timestamp() - 1}
    assert refused(browser.call("POST", f"/api/strategies/{targets['strategy']}/rotate-token"))
    assert "step-up passed for this session (authenticator code)" in auth_messages(app)


def test_a_password_change_ends_the_step_up_with_the_session(browser, api, client):
    _, backup = turn_on(api)
    assert browser.step_up(backup[0]).status_code == 200
    changed = browser.call(
        "POST", "/api/settings/password", {"current_password": PASSWORD, "new_password": "n" * 16}
    )
    assert changed.status_code == 200
    browser.headers["X-CSRF-Token"] = csrf_from(client.get("/settings").get_data(as_text=True))
    assert refused(browser.call("POST", "/api/notifications/webhook-secret")), (
        "the marker names the old session nonce"
    )


def test_the_step_up_call_is_for_sessions_and_needs_two_factor_on(browser, api):
    off = browser.step_up("123456")
    assert off.status_code == 409 and off.get_json()["error"]["code"] == "not_enabled"
    _, backup = turn_on(api)
    scripted = api.post("/api/2fa/step-up", {"code": backup[0]})
    assert scripted.status_code == 409
    assert scripted.get_json()["error"]["code"] == "session_only"


# --- recovery from the shell --------------------------------------------------------------


def test_init_reset_two_factor_turns_it_off_and_forgets_devices(tmp_path, migrated_schema):
    database = tmp_path / "deskpilot.db"
    shutil.copyfile(migrated_schema, database)
    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{database}"))
    client = app.test_client()
    with app.app_context():
        token = issue_api_token(owner(), datetime.now(UTC))
    secret = Api(client, token).post("/api/2fa/setup").get_json()["secret"]
    Api(client, token).post("/api/2fa/enable", {"code": pyotp.TOTP(secret).now()})
    with app.app_context():
        trusted_devices.remember(owner(), "Mozilla/5.0 Firefox/133.0", datetime.now(UTC))
        db.engine.dispose()

    result = run_cli(tmp_path, "init", "--reset-two-factor")
    assert result.returncode == 0, result.stderr
    assert f"Two-factor login is now off for '{OWNER}'; 1 trusted device removed." in result.stdout

    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.totp_enabled_at, user.totp_secret_encrypted, user.backup_code_hashes) == (
            None,
            None,
            None,
        )
        assert db.session.scalars(select(TrustedDevice)).all() == []
        entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
        assert entry.message.startswith("two-factor login reset from the server's shell (was app")
        assert (entry.actor, entry.severity) == ("cli (run.py init --reset-two-factor)", "warning")
        db.engine.dispose()
