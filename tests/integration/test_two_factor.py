"""Two-factor login: setup and switch through /api/2fa, the second step of a login, its
lockout, trusted devices, the pending step's expiry, the audit trail and login_new_device."""

import json
import shutil
import time
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AuditEntry, LoginSighting, TrustedDevice, User
from app.services.records import events
from app.services.setup.auth import issue_api_token, owner
from tests.conftest import OWNER, PASSWORD, Api, csrf_from, make_config

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def next_code(secret: str) -> str:
    """A code for the step after now: valid (one step either side is accepted) and never
    the step a code a moment ago used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def turn_on(api) -> tuple[str, list[str]]:
    secret = api.post("/api/2fa/setup").get_json()["secret"]
    answer = api.post("/api/2fa/enable", {"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200, answer.get_json()
    return secret, answer.get_json()["backup_codes"]


def password_step(client, remote_addr: str = "127.0.0.1", next_path: str | None = None):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    path = f"/login?next={next_path}" if next_path else "/login"
    return client.post(
        path,
        data={"username": OWNER, "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": remote_addr},
        headers={"User-Agent": FIREFOX},
    )


def second_step(client, code: str, remember: bool = False, remote_addr: str = "127.0.0.1"):
    page = client.get("/login/2fa")
    assert page.status_code == 200, page.headers.get("Location")
    data = {"code": code, "csrf_token": csrf_from(page.get_data(as_text=True))}
    if remember:
        data["remember_device"] = "on"
    return client.post(
        "/login/2fa",
        data=data,
        environ_base={"REMOTE_ADDR": remote_addr},
        headers={"User-Agent": FIREFOX},
    )


def log_out(client):
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})


def logged_in(client) -> bool:
    return client.get("/api/settings").status_code == 200


def audit_rows(app) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.category == "auth"))
        return [(row.message, json.dumps(row.data)) for row in rows]


def owner_row(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User))
        db.session.expunge(user)
        return user


# --- setup, enable, disable, backup codes --------------------------------------------------


def test_setup_answers_a_secret_uri_and_qr_but_turns_nothing_on(api, client, app):
    answer = api.post("/api/2fa/setup")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_json()
    assert len(body["secret"]) == 32
    assert body["otpauth_uri"].startswith(f"otpauth://totp/DeskPilot:{OWNER}?secret=")
    assert "issuer=DeskPilot" in body["otpauth_uri"]
    assert body["qr_svg"].startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert api.get("/api/settings").get_json()["two_factor_enabled"] is False
    assert owner_row(app).totp_secret_encrypted not in (None, body["secret"])
    assert password_step(client).headers["Location"] == "/"  # still one step


def test_enable_needs_a_right_code_and_answers_ten_backup_codes_once(api, app):
    assert api.post("/api/2fa/enable", {"code": "123456"}).get_json()["error"]["code"] == (
        "not_set_up"
    )
    secret = api.post("/api/2fa/setup").get_json()["secret"]
    wrong = api.post("/api/2fa/enable", {"code": "000000"})
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["code"] == "invalid_code"
    assert wrong.get_json()["error"]["fields"] == {"code": "is wrong or was already used"}
    answer = api.post("/api/2fa/enable", {"code": pyotp.TOTP(secret).now()})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    codes = answer.get_json()["backup_codes"]
    assert answer.get_json()["enabled"] is True
    assert len(codes) == 10 and len(set(codes)) == 10
    settings = api.get("/api/settings").get_json()
    assert settings["two_factor_enabled"] is True and settings["backup_codes_left"] == 10
    stored = owner_row(app).backup_code_hashes
    assert all(h.startswith("$2") for h in stored)
    assert not set(codes) & set(stored)
    assert api.post("/api/2fa/enable", {"code": "123456"}).status_code == 409
    again = api.post("/api/2fa/setup")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_enabled"


def test_disable_needs_the_password_and_a_code_and_forgets_trusted_devices(api, client, app):
    secret, backup = turn_on(api)
    login_code = next_code(secret)
    password_step(client)
    second_step(client, login_code, remember=True)
    log_out(client)
    wrong_password = api.post("/api/2fa/disable", {"password": "nope-nope-nope", "code": "1"})
    assert wrong_password.status_code == 400
    assert wrong_password.get_json()["error"]["code"] == "invalid_password"
    wrong_code = api.post("/api/2fa/disable", {"password": PASSWORD, "code": "000000"})
    assert wrong_code.get_json()["error"]["code"] == "invalid_code"
    missing = api.post("/api/2fa/disable", {"password": PASSWORD})
    assert missing.status_code == 400 and "code" in missing.get_json()["error"]["fields"]
    used = api.post("/api/2fa/disable", {"password": PASSWORD, "code": login_code})
    assert used.get_json()["error"]["code"] == "invalid_code"
    done = api.post("/api/2fa/disable", {"password": PASSWORD, "code": backup[0]})
    assert done.status_code == 200 and done.get_json() == {"enabled": False}
    with app.app_context():
        assert db.session.scalars(select(TrustedDevice)).all() == []
    assert api.post("/api/2fa/disable", {"password": PASSWORD, "code": "1"}).status_code == 409
    assert password_step(client).headers["Location"] == "/"


def test_new_backup_codes_replace_the_old_ones(api, client):
    secret, old = turn_on(api)
    answer = api.post("/api/2fa/backup-codes", {"password": PASSWORD, "code": next_code(secret)})
    assert answer.status_code == 200
    new = answer.get_json()["backup_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    password_step(client)
    assert second_step(client, old[0]).status_code == 401
    assert second_step(client, new[0]).headers["Location"] == "/"


# --- the second step of a login -----------------------------------------------------------


def test_the_password_alone_does_not_log_in_when_two_factor_is_on(api, client, app):
    turn_on(api)
    response = password_step(client, next_path="/strategies")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/2fa?next=/strategies"
    assert client.get("/api/settings").status_code == 401
    page = client.get("/strategies")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    messages = [message for message, _ in audit_rows(app)]
    assert "password ok, second step asked" in messages
    assert not any(m.startswith("login ok") for m in messages)


def test_an_app_code_logs_in_once_and_is_never_taken_twice(api, client, app):
    secret, _ = turn_on(api)
    code = next_code(secret)
    password_step(client, next_path="/strategies")
    response = second_step(client, code)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert logged_in(client)
    log_out(client)
    password_step(client)
    reused = second_step(client, code)
    assert reused.status_code == 401
    assert "wrong or was already used" in reused.get_data(as_text=True)
    older = pyotp.TOTP(secret).at(time.time() - 30)  # a step before the one accepted
    assert second_step(client, older).status_code == 401
    assert not logged_in(client)
    rows = audit_rows(app)
    assert ("login ok (authenticator code)", "null") in rows
    assert sum(m == "second step failed: wrong code" for m, _ in rows) == 2
    assert not any(code in message or code in data for message, data in rows)


def test_next_survives_the_second_step(api, client):
    secret, _ = turn_on(api)
    password_step(client, next_path="/strategies")
    page = client.get("/login/2fa?next=/strategies")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login/2fa?next=/strategies", data={"code": next_code(secret), "csrf_token": token}
    )
    assert response.headers["Location"] == "/strategies"


def test_a_backup_code_logs_in_once(api, client, app):
    _, codes = turn_on(api)
    password_step(client)
    typed = codes[3].upper().replace("-", " ")  # read off paper: case and spacing vary
    assert second_step(client, typed).headers["Location"] == "/"
    assert api.get("/api/settings").get_json()["backup_codes_left"] == 9
    log_out(client)
    password_step(client)
    assert second_step(client, codes[3]).status_code == 401
    rows = audit_rows(app)
    assert ("login ok (backup code)", "null") in rows
    assert ("backup code used (9 left)", "null") in rows
    bare = codes[3].replace("-", "")
    assert not any(bare in m.replace("-", "") or bare in d for m, d in rows)


def test_five_wrong_codes_lock_the_second_step_for_fifteen_minutes(api, client, app):
    secret, _ = turn_on(api)
    password_step(client)
    for _ in range(4):
        assert second_step(client, "000000").status_code == 401
    fifth = second_step(client, "000000")
    assert fifth.status_code == 423
    assert "locked for 15 minutes" in fifth.get_data(as_text=True)
    assert second_step(client, next_code(secret)).status_code == 423
    assert not logged_in(client)
    remaining = owner_row(app).second_factor_locked_until - datetime.now(UTC)
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    proof = api.post("/api/2fa/backup-codes", {"password": PASSWORD, "code": next_code(secret)})
    assert proof.status_code == 423 and proof.get_json()["error"]["code"] == "locked"
    messages = [m for m, _ in audit_rows(app)]
    assert any("second step locked for 15 minutes" in m for m in messages)
    assert "second step refused: locked" in messages
    assert owner_row(app).locked_until is None, "the password's own lock is apart"


def test_a_trusted_device_skips_the_second_step_until_revoked(api, client, app):
    secret, _ = turn_on(api)
    password_step(client)
    response = second_step(client, next_code(secret), remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("dp_trusted="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Max-Age={30 * 24 * 3600}" in cookie
    listed = api.get("/api/2fa/devices").get_json()["items"]
    assert [d["label"] for d in listed] == ["Firefox on Windows"]
    assert set(listed[0]) == {"id", "label", "created_at", "last_seen_at", "expires_at"}
    with app.app_context():
        token = client.get_cookie("dp_trusted").value
        assert token not in {row.token_hash for row in db.session.scalars(select(TrustedDevice))}
    log_out(client)
    assert password_step(client).headers["Location"] == "/"
    assert logged_in(client)
    assert ("login ok (trusted device)", "null") in audit_rows(app)
    assert api.delete(f"/api/2fa/devices/{listed[0]['id']}").status_code == 204
    assert api.delete(f"/api/2fa/devices/{listed[0]['id']}").status_code == 404
    log_out(client)
    assert password_step(client).headers["Location"] == "/login/2fa"
    assert not logged_in(client)


def test_an_expired_trust_asks_the_second_step_again(api, client, app):
    secret, _ = turn_on(api)
    password_step(client)
    second_step(client, next_code(secret), remember=True)
    log_out(client)
    with app.app_context():
        device = db.session.scalar(select(TrustedDevice))
        device.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert password_step(client).headers["Location"] == "/login/2fa"
    assert api.get("/api/2fa/devices").get_json() == {"items": []}


def test_the_pending_second_step_expires(api, client):
    secret, _ = turn_on(api)
    password_step(client)
    with client.session_transaction() as session:
        marker = session["login_pending"]
        session["login_pending"] = {**marker, "until": time.time() - 1}
    page = client.get("/login/2fa")
    assert page.status_code == 302 and page.headers["Location"] == "/login?expired=1"
    assert "enter your password again" in client.get("/login?expired=1").get_data(as_text=True)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    late = client.post("/login/2fa", data={"code": next_code(secret), "csrf_token": token})
    assert late.status_code == 302 and late.headers["Location"].startswith("/login")
    assert not logged_in(client)


def test_a_logout_elsewhere_voids_the_pending_second_step(api, client, app):
    """The marker carries the session nonce: a password change or logout meanwhile voids it."""
    secret, _ = turn_on(api)
    password_step(client)
    with app.app_context():
        user = db.session.scalar(select(User))
        user.session_nonce = "rotated"
        db.session.commit()
    assert client.get("/login/2fa").headers["Location"] == "/login?expired=1"


def test_the_second_step_is_rate_limited_as_the_login_is(tmp_path, migrated_schema):
    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    app = create_app(make_config(tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3/minute"))
    client = app.test_client()
    with app.app_context():
        token = issue_api_token(owner(), datetime.now(UTC))
    turn_on(Api(client, token))
    password_step(client)
    statuses = [second_step(client, "000000").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    with app.app_context():
        db.engine.dispose()


def test_without_a_pending_step_the_page_sends_to_the_login(client):
    response = client.get("/login/2fa")
    assert response.status_code == 302 and response.headers["Location"] == "/login"


# --- login_new_device ------------------------------------------------------------------------


@pytest.fixture
def told():
    heard: list[dict] = []

    def hear(_name, payload):
        heard.append(payload)

    events.subscribe("login_new_device", hear)
    yield heard
    events.unsubscribe("login_new_device", hear)


def test_a_login_from_a_new_address_or_device_is_told_and_a_known_one_is_not(app, told):
    first = app.test_client()
    password_step(first)
    assert told == [], "the very first login has nothing to compare with"
    log_out(first)
    password_step(first)
    assert told == []
    log_out(first)
    password_step(first, remote_addr="203.0.113.9")
    assert len(told) == 1
    assert told[0]["address"] == "203.0.113.9"
    assert (told[0]["new_address"], told[0]["new_device"]) == (True, False)
    assert told[0]["device"] == "Firefox on Windows"
    assert datetime.fromisoformat(told[0]["at"]) <= datetime.now(UTC)
    other = app.test_client()  # another browser: no device cookie yet
    password_step(other)
    assert len(told) == 2
    assert (told[1]["new_address"], told[1]["new_device"]) == (False, True)
    with app.app_context():
        hashes = db.session.scalars(select(LoginSighting.value_hash)).all()
    assert len(hashes) == 4 and "203.0.113.9" not in hashes  # 2 devices, 2 addresses
    assert any("login from a new address" in m for m, _ in audit_rows(app))


def test_a_failed_second_step_records_no_sighting(api, app, told):
    secret, _ = turn_on(api)
    browser = app.test_client()
    password_step(browser, remote_addr="198.51.100.7")
    second_step(browser, "000000", remote_addr="198.51.100.7")
    with app.app_context():
        assert db.session.scalars(select(LoginSighting)).all() == []
    second_step(browser, next_code(secret), remote_addr="198.51.100.7")
    with app.app_context():
        assert len(db.session.scalars(select(LoginSighting)).all()) == 2
    assert told == []  # still the first login ever
