"""API authentication: bearer tokens, session + CSRF header, and `python run.py token`."""

from datetime import UTC, datetime

from app.services.setup.auth import issue_api_token, owner


def test_api_refuses_anonymous_calls_with_json_401(client):
    for method, path in [("GET", "/api/accounts"), ("POST", "/api/accounts")]:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_bearer_token_needs_no_csrf(api):
    response = api.post("/api/accounts", {"name": "Paper X", "broker": "paper"})
    assert response.status_code == 201


def test_bearer_call_sets_no_session_cookie(api):
    response = api.get("/api/accounts")
    assert not [c for c in response.headers.getlist("Set-Cookie") if "deskpilot_session" in c]


def test_wrong_bearer_token_is_401(client):
    response = client.get("/api/accounts", headers={"Authorization": "Bearer dp_not-a-token"})
    assert response.status_code == 401
    assert "invalid or was revoked" in response.get_json()["error"]["message"]


def test_new_token_revokes_the_previous_one(app, client, api_token):
    with app.app_context():
        newer = issue_api_token(owner(), datetime.now(UTC))
    old = client.get("/api/accounts", headers={"Authorization": f"Bearer {api_token}"})
    new = client.get("/api/accounts", headers={"Authorization": f"Bearer {newer}"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_session_write_without_csrf_header_is_refused(client, auth):
    auth.login()
    response = client.post("/api/accounts", json={"name": "Paper X", "broker": "paper"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/accounts").get_json()["items"] == []


def test_session_write_with_wrong_csrf_header_is_refused(client, auth):
    auth.login()
    response = client.post(
        "/api/accounts",
        json={"name": "Paper X", "broker": "paper"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert response.status_code == 400


def test_session_write_with_csrf_header_succeeds(client, auth):
    auth.login()
    response = client.post(
        "/api/accounts",
        json={"name": "Paper X", "broker": "paper"},
        headers={"X-CSRF-Token": auth.csrf()},
    )
    assert response.status_code == 201


def test_session_reads_need_no_csrf(client, auth):
    auth.login()
    assert client.get("/api/accounts").status_code == 200


def test_every_page_carries_the_csrf_meta_tag(client, auth):
    auth.login()
    for path in [
        "/",
        "/accounts",
        "/strategies",
        "/traders",
        "/settings",
        "/control-center",
        "/trades",
        "/analytics",
        "/alerts",
        "/news",
        "/options",
    ]:
        html = client.get(path).get_data(as_text=True)
        assert '<meta name="csrf-token" content="' in html, path
