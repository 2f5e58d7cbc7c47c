"""Linking the owner's Discord account by OAuth2 `identify` (authorization code with PKCE):
DeskPilot learns the user id its DMs go to and keeps nothing else — the access token
reads `/users/@me` once and is dropped, never stored or logged."""

import base64
import hashlib
import logging
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from flask import current_app

from app import redaction
from app.domain.vocabulary import AuditCategory
from app.errors import AppError
from app.models import User
from app.services.records import audit
from app.services.setup.settings import update_settings

logger = logging.getLogger(__name__)

SCOPE = "identify"
TIMEOUT_SECONDS = 10
NOT_CONFIGURED = (
    "Linking with Discord needs DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET on the server "
    "(the OAuth2 client of a Discord application). Without them, type your Discord user id "
    "in Settings instead."
)
STALE_CODE = (
    "Discord did not accept the sign-in (invalid_grant: it expired or was already used). "
    "Click “Link with Discord” again."
)
CLIENT_REFUSED = (
    "Discord refused this server's DISCORD_CLIENT_ID / DISCORD_CLIENT_SECRET (invalid_client): "
    "check them against the application's OAuth2 page."
)


class LinkFailed(AppError):
    """Discord did not tell who the trader is; nothing was saved. The message says what to do."""

    code = "discord_link_failed"


@dataclass(frozen=True)
class Authorization:
    """Where to send the trader, and what the callback must be able to check and prove."""

    url: str
    state: str
    code_verifier: str


@dataclass(frozen=True)
class DiscordIdentity:
    user_id: str
    username: str


def configured() -> bool:
    config = current_app.config
    return bool(config.get("DISCORD_CLIENT_ID") and config.get("DISCORD_CLIENT_SECRET"))


def begin(redirect_uri: str) -> Authorization:
    """A fresh `state` (the callback is ours) and PKCE verifier (the code is useless to
    whoever intercepts it), and Discord's consent page asking for `identify` only."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters; RFC 7636 wants 43 to 128
    query = {
        "response_type": "code",
        "client_id": current_app.config["DISCORD_CLIENT_ID"],
        "scope": SCOPE,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    url = f"{current_app.config['DISCORD_OAUTH_AUTHORIZE_URL']}?{urlencode(query)}"
    return Authorization(url, state, verifier)


def state_matches(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode(), given.encode())


def identify(code: str, code_verifier: str, redirect_uri: str) -> DiscordIdentity:
    """Trade the code for an access token and ask Discord whose it is; LinkFailed otherwise."""
    return _whoami(_access_token(code, code_verifier, redirect_uri))


def link(user: User, identity: DiscordIdentity) -> None:
    """Save the id and switch DMs on, with an audit entry naming the Discord account."""
    audit.record(
        AuditCategory.SYSTEM,
        f"Discord account {identity.username} linked",
        data={"discord_user_id": identity.user_id, "username": identity.username},
    )
    update_settings(user, {"discord_user_id": identity.user_id, "discord_dm_enabled": True})


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _access_token(code: str, code_verifier: str, redirect_uri: str) -> str:
    config = current_app.config
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    reply = _call(
        "post",
        config["DISCORD_OAUTH_TOKEN_URL"],
        data=form,
        auth=(config["DISCORD_CLIENT_ID"], config["DISCORD_CLIENT_SECRET"]),
    )
    answer = _json(reply)
    if reply.status_code == 200 and isinstance(answer.get("access_token"), str):
        redaction.remember(answer["access_token"])
        return answer["access_token"]
    error = answer.get("error")
    if error == "invalid_grant":
        raise _failed(STALE_CODE)
    if error == "invalid_client" or reply.status_code == 401:
        raise _failed(CLIENT_REFUSED)
    reason = str(error)[:64] if error else "no reason given"
    raise _failed(f"Discord answered {reply.status_code} ({reason}) to the sign-in: try again.")


def _whoami(access_token: str) -> DiscordIdentity:
    url = f"{current_app.config['DISCORD_API_BASE'].rstrip('/')}/users/@me"
    reply = _call("get", url, headers={"Authorization": f"Bearer {access_token}"})
    answer = _json(reply)
    user_id, username = str(answer.get("id", "")), answer.get("username")
    if reply.status_code != 200 or not (user_id.isascii() and user_id.isdigit()) or not username:
        raise _failed(f"Discord answered {reply.status_code} when asked who signed in: try again.")
    return DiscordIdentity(user_id, username)


def _call(method: str, url: str, **kwargs) -> requests.Response:
    try:
        return requests.request(
            method, url, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs
        )
    except requests.RequestException as exc:
        raise _failed(f"Discord could not be reached ({type(exc).__name__}): try again.") from exc


def _json(reply: requests.Response) -> dict:
    try:
        answer = reply.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _failed(reason: str) -> LinkFailed:
    logger.warning("Discord linking failed: %s", reason)
    return LinkFailed(reason)
