"""The owner's login: lockout, sessions, cookies, rate limit, audit trail."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.models import AuditEntry, User
from tests.conftest import PASSWORD, Auth, csrf_from, make_config


def _audit_messages(app, category="auth"):
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.category == category))
        return [row.message for row in rows]


def test_pages_redirect_to_login_when_logged_out(client):
    response = client.get("/strategies")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_with_right_password_reaches_dashboard(client, auth, app):
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert "login ok" in _audit_messages(app)


def test_wrong_password_is_refused_and_recorded(client, auth, app):
    response = auth.login(password="wrong password!")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert "login failed: wrong password" in _audit_messages(app)


def test_unknown_user_gets_the_same_message(auth):
    response = auth.login(username="mallory")
    assert response.status_code == 401
    assert "Wrong username or password" in response.get_data(as_text=True)


def test_five_failures_lock_the_account_for_fifteen_minutes(auth, app, client):
    for _ in range(4):
        assert auth.login(password="nope-nope-nope").status_code == 401
    fifth = auth.login(password="nope-nope-nope")
    assert fifth.status_code == 423
    assert "locked for 15 minutes" in fifth.get_data(as_text=True)
    right = auth.login()
    assert right.status_code == 423, "the right password must not open a locked account"
    assert client.get("/").status_code == 302
    with app.app_context():
        user = db.session.scalar(select(User))
        remaining = user.locked_until - datetime.now(UTC)
        assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)
    assert any("login locked" in m for m in _audit_messages(app))
    assert "login failed: account locked" in _audit_messages(app)


def test_lock_expires_after_fifteen_minutes(auth, app):
    for _ in range(5):
        auth.login(password="nope-nope-nope")
    with app.app_context():
        user = db.session.scalar(select(User))
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    assert auth.login().status_code == 302


def test_success_resets_the_failure_count(auth, app, client):
    for _ in range(4):
        auth.login(password="nope-nope-nope")
    assert auth.login().status_code == 302
    client.post("/logout", data={"csrf_token": auth.csrf()})
    for _ in range(4):
        assert auth.login(password="nope-nope-nope").status_code == 401


def test_logout_ends_the_session(client, auth):
    auth.login()
    response = client.post("/logout", data={"csrf_token": auth.csrf()})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_a_cookie_copied_before_logout_no_longer_logs_in(client, app, auth):
    """A response that was in flight when the trader logged out (a status poll, a
    socket long-poll) re-sends the old cookie; it must not bring the session back."""
    auth.login()
    before_logout = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.post("/logout", data={"csrf_token": auth.csrf()})
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], before_logout)
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_logout_without_csrf_is_refused(client, auth):
    auth.login()
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_login_form_without_csrf_is_refused(client):
    response = client.post("/login", data={"username": "owner", "password": PASSWORD})
    assert response.status_code == 400


def test_next_parameter_cannot_leave_the_site(client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/",
        data={"username": "owner", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_next_parameter_returns_to_the_page_asked_for(client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=/traders",
        data={"username": "owner", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/traders"


def _login_cookie(client, base_url: str) -> str:
    token = csrf_from(client.get("/login", base_url=base_url).get_data(as_text=True))
    response = client.post(
        "/login",
        base_url=base_url,
        data={"username": "owner", "password": PASSWORD, "csrf_token": token},
    )
    return next(c for c in response.headers.getlist("Set-Cookie") if "deskpilot_session" in c)


@pytest.mark.parametrize(
    ("mode", "base_url", "secure"),
    [
        ("auto", "https://desk.example.com", True),
        ("auto", "http://desk.example.com", True),
        ("auto", "http://127.0.0.1:5000", False),
        ("auto", "http://localhost:5000", False),
        ("1", "http://127.0.0.1:5000", True),
        ("0", "https://desk.example.com", False),
    ],
)
def test_cookie_secure_flag_follows_mode_and_address(tmp_path, mode, base_url, secure):
    app = create_app(make_config(tmp_path, COOKIE_SECURE=mode))
    assert ("Secure" in _login_cookie(app.test_client(), base_url)) is secure


def test_session_cookie_is_secure_httponly_lax_and_expires_after_30_idle_minutes(tmp_path):
    app = create_app(make_config(tmp_path))
    cookie = _login_cookie(app.test_client(), "https://desk.example.com")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert app.permanent_session_lifetime == timedelta(minutes=30)
    expires = next(part for part in cookie.split("; ") if part.startswith("Expires="))
    expiry = datetime.strptime(expires.removeprefix("Expires="), "%a, %d %b %Y %H:%M:%S GMT")
    remaining = expiry.replace(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


def test_an_idle_session_is_refused_server_side(app, client, auth, monkeypatch):
    auth.login()
    assert client.get("/").status_code == 200
    import time as time_module

    real_time = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real_time() + 31 * 60)
    assert client.get("/").status_code == 302


def test_password_change_logs_out_other_sessions(app, auth, client):
    auth.login()
    other = app.test_client()
    Auth(other).login()
    assert other.get("/").status_code == 200
    response = client.post(
        "/api/settings/password",
        json={"current_password": PASSWORD, "new_password": "a much better passphrase"},
        headers={"X-CSRF-Token": auth.csrf()},
    )
    assert response.status_code == 200
    assert other.get("/").status_code == 302
    other_auth = Auth(other)
    assert other_auth.login(password="a much better passphrase").status_code == 302


def test_login_is_rate_limited(tmp_path):
    app = create_app(make_config(tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3/minute"))
    client = app.test_client()
    auth = Auth(client)
    statuses = [auth.login(password="nope-nope-nope").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert client.get("/login").status_code == 200, "only POST is limited"


def test_password_change_keeps_the_session_that_made_it(client, auth):
    auth.login()
    response = client.post(
        "/api/settings/password",
        json={"current_password": PASSWORD, "new_password": "a much better passphrase"},
        headers={"X-CSRF-Token": auth.csrf()},
    )
    assert response.status_code == 200
    assert client.get("/settings").status_code == 200
