"""API authentication: bearer tokens, session + CSRF header, and `python run.py token`."""

from datetime import UTC, datetime

import pytest

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


def test_the_api_is_rate_limited_per_caller_with_the_error_shape(tmp_path, migrated_schema):
    """Guessing tokens or hammering the API meets 429 in the JSON error shape; another
    caller is counted apart."""
    import shutil

    from app import create_app
    from tests.conftest import make_config

    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    app = create_app(make_config(tmp_path, RATELIMIT_ENABLED=True, API_RATE_LIMIT="3/minute"))
    client = app.test_client()
    guesses = [
        client.get("/api/accounts", headers={"Authorization": "Bearer dp_guess"}).status_code
        for _ in range(4)
    ]
    assert guesses == [401, 401, 401, 429]
    refused = client.get("/api/accounts", headers={"Authorization": "Bearer dp_guess"})
    assert refused.get_json()["error"]["code"] == "rate_limited"
    other = client.get("/api/accounts", headers={"Authorization": "Bearer dp_other"})
    assert other.status_code == 401  # a different caller has its own count


def test_https_answers_carry_hsts_and_plain_http_does_not(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_with_redis_the_count_lives_in_redis(tmp_path, migrated_schema):
    """Behind a load balancer each web process must not allow the whole limit again: with
    REDIS_URL the count is kept in Redis, where every process reads it. (The app is given
    the storage, not REDIS_URL itself, which would also put this process's Socket.IO on
    Redis for every later test.)"""
    import hashlib
    import shutil
    import uuid

    redis = pytest.importorskip("redis")
    from app import create_app, rate_limit_storage
    from tests.conftest import make_config

    url = "redis://127.0.0.1:6379/0"
    assert rate_limit_storage(url) == url and rate_limit_storage(None) == "memory://"
    store = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        store.ping()
    except (redis.RedisError, OSError) as exc:
        pytest.skip(f"Redis unreachable at 127.0.0.1:6379: {exc}")
    shutil.copyfile(migrated_schema, tmp_path / "test.db")
    config = make_config(
        tmp_path,
        RATELIMIT_ENABLED=True,
        API_RATE_LIMIT="3/minute",
        RATELIMIT_STORAGE_URI=rate_limit_storage(url),
    )
    client = create_app(config).test_client()
    header = f"Bearer dp_{uuid.uuid4().hex}"  # its own count
    codes = [
        client.get("/api/accounts", headers={"Authorization": header}).status_code for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]
    digest = hashlib.sha256(header.encode()).hexdigest()[:24]
    assert store.keys(f"*{digest}*"), "the count is not in Redis"
