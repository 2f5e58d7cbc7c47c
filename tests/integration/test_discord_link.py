"""Linking the owner's Discord account from Settings by OAuth2 `identify`: the test client
goes to the fake Discord's consent page and back, as a browser does, and the exchange
goes through `requests` to the fake's token endpoint and Bearer `/users/@me`."""

import base64
import hashlib
import logging
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, User
from app.routes.oauth import PENDING, STATE_REFUSED
from app.services.notify.discord_link import CLIENT_REFUSED, NOT_CONFIGURED, STALE_CODE

ALICE_ID = 300000000000000077
CALLBACK = "http://localhost/oauth/discord/callback"


@pytest.fixture
def linking(app, auth, fake_discord):
    """The owner logged in, the server's OAuth2 client pointed at the fake, and Alice the
    Discord user who approves at its consent page."""
    app.config.update(
        DISCORD_CLIENT_ID=fake_discord.client_id,
        DISCORD_CLIENT_SECRET=fake_discord.client_secret,
        DISCORD_OAUTH_AUTHORIZE_URL=fake_discord.authorize_url,
        DISCORD_OAUTH_TOKEN_URL=fake_discord.token_url,
        DISCORD_API_BASE=fake_discord.url,
    )
    fake_discord.add_user(ALICE_ID, "alice")
    fake_discord.consenting_user = ALICE_ID
    auth.login()
    return fake_discord


def consent(client) -> str:
    """Start from Settings and pass Discord's consent page; the URL it sends back to."""
    started = client.get("/oauth/discord/start")
    assert started.status_code == 302
    answered = requests.get(started.headers["Location"], allow_redirects=False, timeout=5)
    assert answered.status_code == 302, answered.text
    return answered.headers["Location"]


def with_query(url: str, **changes) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())))


def owner_row(app) -> User:
    with app.app_context():
        user = db.session.scalar(select(User))
        db.session.expunge(user)
        return user


def page_text(response) -> str:
    return response.get_data(as_text=True).replace("&#34;", '"').replace("&#39;", "'")


def test_start_sends_the_trader_to_discord_with_state_and_pkce(client, linking):
    location = client.get("/oauth/discord/start").headers["Location"]

    assert location.startswith(linking.authorize_url + "?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    with client.session_transaction() as session:
        pending = session[PENDING]
    assert query["response_type"] == "code" and query["scope"] == "identify"
    assert query["client_id"] == linking.client_id and query["redirect_uri"] == CALLBACK
    assert query["state"] == pending["state"] and len(pending["state"]) >= 32
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(pending["verifier"]) <= 128
    assert "client_secret" not in location and linking.client_secret not in location


def test_the_callback_links_the_discord_id_and_turns_dms_on(app, client, linking):
    landed = client.get(consent(client), follow_redirects=True)

    assert landed.request.path == "/settings"
    assert "Linked Discord user alice" in page_text(landed)
    assert str(ALICE_ID) in page_text(landed)  # the Discord block shows the linked id
    user = owner_row(app)
    assert user.discord_user_id == str(ALICE_ID) and user.discord_dm_enabled is True
    (exchange,) = linking.calls("token")
    assert exchange.status == 200 and exchange.form["redirect_uri"] == CALLBACK
    assert exchange.form["grant_type"] == "authorization_code" and exchange.form["code_verifier"]
    assert "client_secret" not in exchange.form  # sent in the Basic header
    assert [(c.authorized, c.status) for c in linking.calls("me")] == [(True, 200)]
    with app.app_context():
        messages = db.session.scalars(select(AuditEntry.message)).all()
    assert "Discord account alice linked" in messages
    with client.session_transaction() as session:
        assert PENDING not in session  # a callback is good once


@pytest.mark.parametrize("state", ["forged-by-another-site", None], ids=["wrong state", "no state"])
def test_a_callback_with_another_state_is_refused_and_saves_nothing(app, client, linking, state):
    back = consent(client)
    forged = with_query(back, state=state) if state else back.replace("state=", "other=")

    refused = client.get(forged)

    assert refused.status_code == 400
    assert STATE_REFUSED in page_text(refused)
    assert linking.calls("token") == []
    assert owner_row(app).discord_user_id is None
    # Nor does the genuine answer work afterwards: the pending sign-in is spent.
    assert client.get(back).status_code == 400 and owner_row(app).discord_user_id is None


def test_a_callback_nobody_started_is_refused(app, client, linking):
    refused = client.get("/oauth/discord/callback?code=abc&state=xyz")

    assert refused.status_code == 400 and owner_row(app).discord_user_id is None


def test_declining_on_discord_goes_back_to_settings_saying_so(app, client, linking):
    linking.declines = True

    landed = client.get(consent(client), follow_redirects=True)

    assert landed.request.path == "/settings"
    assert "Discord linking cancelled: you declined" in page_text(landed)
    assert linking.calls("token") == []
    assert owner_row(app).discord_user_id is None


def _stale_code(client, linking, back):
    return with_query(back, code="not-a-code-discord-issued")


def _other_verifier(client, linking, back):
    with client.session_transaction() as session:
        session[PENDING] = {**session[PENDING], "verifier": "x" * 64}
    return back


def _wrong_secret(client, linking, back):
    linking.client_secret = "rotated-on-discord"
    return back


@pytest.mark.parametrize(
    ("tamper", "status", "told"),
    [
        (_stale_code, 400, STALE_CODE),
        (_other_verifier, 400, STALE_CODE),
        (_wrong_secret, 401, CLIENT_REFUSED),
    ],
    ids=["invalid_grant: unknown code", "invalid_grant: PKCE verifier", "invalid_client"],
)
def test_a_refused_exchange_is_told_plainly_and_saves_nothing(
    app, client, linking, tamper, status, told
):
    back = tamper(client, linking, consent(client))

    landed = client.get(back, follow_redirects=True)

    assert landed.request.path == "/settings"
    assert told in page_text(landed)
    assert [c.status for c in linking.calls("token")] == [status]
    assert linking.calls("me") == []
    assert owner_row(app).discord_user_id is None


def test_an_unreachable_discord_is_told_plainly(app, client, linking):
    back = consent(client)
    linking.stop()

    landed = client.get(back, follow_redirects=True)

    assert "Discord could not be reached (ConnectionError): try again." in page_text(landed)
    assert owner_row(app).discord_user_id is None


def test_the_access_token_is_never_logged_or_stored(app, client, linking, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)

    client.get(consent(client), follow_redirects=True)

    (token,) = linking.access_tokens
    assert owner_row(app).discord_user_id == str(ALICE_ID)
    assert "/api/oauth2/token" in caplog.text  # urllib3's debug lines were captured
    assert token not in caplog.text
    assert all(token not in str(record.args) for record in caplog.records)
    with client.session_transaction() as session:
        assert token not in repr(dict(session))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # the WAL is checkpointed into the file
    assert token.encode() not in (tmp_path / "test.db").read_bytes()


def test_without_client_credentials_start_explains_and_the_page_says_so(app, client, auth):
    auth.login()
    assert app.config["DISCORD_CLIENT_ID"] is None

    landed = client.get("/oauth/discord/start", follow_redirects=True)

    assert landed.request.path == "/settings"
    assert NOT_CONFIGURED in page_text(landed)
    assert "type your Discord user id" in NOT_CONFIGURED
    assert 'data-testid="discord-link-button"' not in page_text(landed)


def test_the_settings_page_offers_the_link_when_configured(client, linking):
    page = page_text(client.get("/settings"))

    assert 'data-testid="discord-link-button"' in page and "/oauth/discord/start" in page


@pytest.mark.parametrize("path", ["/oauth/discord/start", "/oauth/discord/callback?state=x"])
def test_linking_needs_the_owner_logged_in(client, fake_discord, path):
    response = client.get(path)

    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert fake_discord.recorded == []
