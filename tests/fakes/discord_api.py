"""A fake Discord REST API on 127.0.0.1, answering the calls discord.py 2.7.1 makes to DM a user.

Routes (under /api/v10, as reference/libraries.md §1 logged them): `GET /users/@me` (the
bot, which `HTTPClient.static_login` fetches), `GET /oauth2/applications/@me` (which
`Client.login` also fetches), `GET /users/{id}`, `POST /users/@me/channels`
`{"recipient_id"}` (the same DM channel for the same user, as Discord does) and
`POST /channels/{id}/messages` (honouring `nonce` + `enforce_nonce`: a repeat answers the
first message and creates none). Every call wants `Authorization: Bot <token>` (401
otherwise). Answers are Discord's JSON shapes with the X-RateLimit-* headers discord.py
reads; errors are `{"message", "code"}`.

Trouble on demand: `fail_next(route, status)` for the next call(s) of a route — 429 comes
with `retry_after` in the body and in `Retry-After`/`X-RateLimit-Reset-After`, plus the
`Via` header without which discord.py takes a 429 for a Cloudflare ban and gives up;
`close_dms(user_id)` makes sending to that user 403 code 50007, as when the bot shares no
server with them or they turned off DMs from server members.

OAuth2 `identify` (the account linking of Settings): `GET /oauth2/authorize` stands for
the consent page — the trader (`consenting_user`, or a decline when `declines` is set)
is sent back to `redirect_uri` with a `code` bound to the client, the redirect URI and the
PKCE challenge, or with `error=access_denied`; `POST /api/oauth2/token` (form-encoded,
client id/secret in a Basic header or the body) trades a code once for a Bearer access
token, answering OAuth's `{"error", "error_description"}` otherwise; `GET /users/@me`
with that Bearer token is the user it belongs to.

Tests read `recorded` (method, path, json or form, arrival time, status) through
`calls(route)`, and `messages` (what the user received). The `fake_discord` fixture starts
one per test.
"""

import base64
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer

TOKEN_PREFIX = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GfAkEb"
BOT_ID = 1100000000000000001
TRADER_ID = 200000000000000042
APPLICATION_ID = 1100000000000000001
BOT = "bot"  # the caller with the bot's token
ACCESS_TOKEN_SECONDS = 604800  # Discord's access tokens last a week

# route name → (method, path pattern under /api/v10; OAuth2's also under /api and at /)
ROUTES = {
    "authorize": ("GET", r"/oauth2/authorize"),
    "token": ("POST", r"/oauth2/token"),
    "me": ("GET", r"/users/@me"),
    "application": ("GET", r"/oauth2/applications/@me"),
    "dm": ("POST", r"/users/@me/channels"),
    "user": ("GET", r"/users/(?P<user_id>\d+)"),
    "message": ("POST", r"/channels/(?P<channel_id>\d+)/messages"),
}
ERRORS = {
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
}
CANNOT_DM = (50007, "Cannot send messages to this user")


def _stamp() -> str:
    return datetime.now(UTC).isoformat()


def _user(user_id: int, username: str, *, bot: bool = False) -> dict:
    return {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username.title(),
        "avatar": None,
        "bot": bot,
        "system": False,
        "banner": None,
        "accent_color": None,
        "flags": 0,
        "public_flags": 0,
        "avatar_decoration_data": None,
    }


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str  # under /api/v10
    route: str | None  # a ROUTES name, None for a path the fake does not serve
    json: dict | None
    at: float  # time.monotonic() on arrival
    authorized: bool
    status: int
    form: dict | None = None  # a form-encoded body (the token exchange)


@dataclass
class _Fault:
    route: str
    status: int
    retry_after: float
    is_global: bool


class FakeDiscord:
    """Discord's REST API for one test."""

    def __init__(self) -> None:
        # Unique per fake, so that no login of an earlier test's fake is taken for this one's.
        self.token = f"{TOKEN_PREFIX}.{secrets.token_urlsafe(24)}"
        self.lock = threading.Lock()
        self.users: dict[int, dict] = {}
        self.dm_channels: dict[int, dict] = {}  # recipient id → channel
        self.messages: list[dict] = []
        self.recorded: list[Recorded] = []
        self.dms_closed: set[int] = set()
        self.client_id = str(APPLICATION_ID)
        self.client_secret = secrets.token_urlsafe(24)
        self.consenting_user = TRADER_ID  # who approves at the consent page
        self.declines = False  # the trader presses "Cancel" at the consent page
        self.grants: dict[str, dict] = {}  # authorization code → what it was issued for
        self.access_tokens: dict[str, int] = {}  # Bearer token → user id
        self.url = ""
        self.authorize_url = ""
        self.token_url = ""
        self.bot = _user(BOT_ID, "deskpilot-bot", bot=True)
        self.add_user(TRADER_ID, "trader")
        self._ids = itertools.count(1300000000000000001)
        self._faults: list[_Fault] = []
        self._by_nonce: dict[tuple[str, str], dict] = {}
        self._server = LocalServer(self._wsgi, "fake-discord")

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> "FakeDiscord":
        port = self._server.start()
        root = f"http://127.0.0.1:{port}"
        self.url = f"{root}/api/v10"
        self.authorize_url = f"{root}/oauth2/authorize"
        self.token_url = f"{root}/api/oauth2/token"
        return self

    def stop(self) -> None:
        self._server.stop()

    # --- set-up and switches --------------------------------------------------------------

    def add_user(self, user_id: int, username: str) -> None:
        self.users[user_id] = _user(user_id, username)

    def close_dms(self, user_id: int) -> None:
        self.dms_closed.add(user_id)

    def fail_next(
        self,
        route: str,
        status: int,
        *,
        times: int = 1,
        retry_after: float = 1.0,
        is_global: bool = False,
    ) -> None:
        """The next `times` calls of `route` (a ROUTES name, OAuth2's aside) answer
        `status`; a 429 asks the client to wait `retry_after` seconds."""
        assert route in ROUTES and route not in ("authorize", "token"), route
        with self.lock:
            self._faults.extend(_Fault(route, status, retry_after, is_global) for _ in range(times))

    def calls(self, route: str) -> list[Recorded]:
        with self.lock:
            return [call for call in self.recorded if call.route == route]

    # --- serving --------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        path = re.sub(r"^/api(/v\d+)?", "", request.path)
        route, params = _match(request.method, path)
        if route == "authorize":
            with self.lock:
                response = self._consent(request.args)
                self.recorded.append(
                    Recorded("GET", path, route, None, time.monotonic(), True, response.status_code)
                )
            return response(environ, start_response)
        form = request.form.to_dict() if route == "token" else None
        body = request.get_json(silent=True) if request.method == "POST" and not form else None
        with self.lock:
            if route == "token":
                (status, payload), headers = self._exchange(form, request.authorization), {}
                authorized = status != 401
            else:
                caller = self._caller(request.headers.get("Authorization", ""))
                # A user's Bearer token (scope identify) reads that user, and nothing else.
                authorized = caller == BOT or (caller is not None and route == "me")
                status, payload, headers = self._answer(route, params, body, caller, authorized)
            self.recorded.append(
                Recorded(
                    request.method, path, route, body, time.monotonic(), authorized, status, form
                )
            )
        response = Response(json.dumps(payload), status=status, mimetype="application/json")
        response.headers.extend(headers)
        return response(environ, start_response)

    def _caller(self, header: str) -> str | int | None:
        """BOT for the bot's token, the user id of a Bearer token the token exchange
        issued, None for anything else."""
        if header == f"Bot {self.token}":
            return BOT
        if header.startswith("Bearer "):
            return self.access_tokens.get(header.removeprefix("Bearer "))
        return None

    def _answer(self, route, params, body, caller, authorized) -> tuple[int, dict, dict]:
        if route is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        if not authorized:
            return _error(401)
        fault = next((f for f in self._faults if f.route == route), None)
        if fault is not None:
            self._faults.remove(fault)
            if fault.status == 429:
                return _rate_limited(route, fault)
            return _error(fault.status)
        if route == "me":
            params = {"caller": caller}
        handler = getattr(self, f"_serve_{route}")
        status, payload = handler(body=body, **params)
        return status, payload, _rate_headers(route)

    def _serve_me(self, body, caller) -> tuple[int, dict]:
        return 200, self.bot if caller == BOT else self.users[caller]

    # --- OAuth2 (the trader's own account, scope identify) ----------------------------------

    def _consent(self, query) -> Response:
        """The consent page, answered at once: back to `redirect_uri` with a code for
        `consenting_user`, or with access_denied when the trader declines."""
        if query.get("client_id") != self.client_id or not query.get("redirect_uri"):
            return Response("Invalid OAuth2 application or redirect_uri", status=400)
        if query.get("response_type") != "code" or "identify" not in query.get("scope", ""):
            return Response("Invalid OAuth2 request", status=400)
        if self.declines:
            answer = {
                "error": "access_denied",
                "error_description": (
                    "The resource owner or authorization server denied the request"
                ),
            }
        else:
            code = secrets.token_urlsafe(22)
            self.grants[code] = {
                "user_id": self.consenting_user,
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "code_challenge": query.get("code_challenge"),
                "code_challenge_method": query.get("code_challenge_method"),
            }
            answer = {"code": code}
        if "state" in query:
            answer["state"] = query["state"]
        response = Response(status=302)
        response.headers["Location"] = f"{query['redirect_uri']}?{urlencode(answer)}"
        return response

    def _exchange(self, form: dict, basic) -> tuple[int, dict]:
        """The token endpoint: one code, used once, for one Bearer access token."""
        client_id = basic.username if basic else form.get("client_id")
        client_secret = basic.password if basic else form.get("client_secret")
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.pop(form.get("code", ""), None)
        if grant is None or (grant["client_id"], grant["redirect_uri"]) != (
            client_id,
            form.get("redirect_uri"),
        ):
            return 400, _invalid_grant('Invalid "code" in request.')
        if grant["code_challenge"] is not None and not _pkce_holds(grant, form):
            return 400, _invalid_grant('Invalid "code_verifier"')
        token = secrets.token_urlsafe(24)
        self.access_tokens[token] = grant["user_id"]
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "refresh_token": secrets.token_urlsafe(24),
            "scope": "identify",
        }

    def _serve_application(self, body) -> tuple[int, dict]:
        return 200, {
            "id": str(APPLICATION_ID),
            "name": "DeskPilot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "owner": _user(TRADER_ID, "trader"),
            "bot": self.bot,
            "rpc_origins": [],
            "interactions_endpoint_url": None,
            "redirect_uris": [],
            "tags": [],
        }

    def _serve_user(self, body, user_id: str) -> tuple[int, dict]:
        user = self.users.get(int(user_id))
        if user is None:
            return 404, {"message": "Unknown User", "code": 10013}
        return 200, user

    def _serve_dm(self, body) -> tuple[int, dict]:
        recipient = int((body or {}).get("recipient_id", 0))
        user = self.users.get(recipient)
        if user is None:
            return 400, {"message": "Invalid Recipient(s)", "code": 50033}
        if recipient not in self.dm_channels:
            self.dm_channels[recipient] = {
                "id": str(next(self._ids)),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [user],
            }
        return 200, self.dm_channels[recipient]

    def _serve_message(self, body, channel_id: str) -> tuple[int, dict]:
        recipient = next(
            (uid for uid, channel in self.dm_channels.items() if channel["id"] == channel_id),
            None,
        )
        if recipient is None:
            return 404, {"message": "Unknown Channel", "code": 10003}
        if recipient in self.dms_closed:
            code, message = CANNOT_DM
            return 403, {"message": message, "code": code}
        body = body or {}
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = self._by_nonce.get((channel_id, nonce))
            if earlier is not None:
                return 200, earlier
        message = {
            "id": str(next(self._ids)),
            "channel_id": channel_id,
            "author": self.bot,
            "content": body.get("content") or "",
            "timestamp": _stamp(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
            "nonce": nonce,
        }
        if nonce is not None:
            self._by_nonce[(channel_id, nonce)] = message
        self.messages.append(message)
        return 200, message


def _match(method: str, path: str) -> tuple[str | None, dict]:
    for name, (route_method, pattern) in ROUTES.items():
        found = re.fullmatch(pattern, path)
        if found and route_method == method:
            return name, found.groupdict()
    return None, {}


def _invalid_grant(description: str) -> dict:
    return {"error": "invalid_grant", "error_description": description}


def _pkce_holds(grant: dict, form: dict) -> bool:
    """RFC 7636: S256 hashes the verifier (base64url, unpadded); plain compares it."""
    verifier = form.get("code_verifier", "")
    if grant["code_challenge_method"] == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        verifier = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return secrets.compare_digest(verifier.encode(), grant["code_challenge"].encode())


def _error(status: int) -> tuple[int, dict, dict]:
    code, message = ERRORS.get(status, (0, f"{status}: Error"))
    return status, {"message": message, "code": code}, {}


def _rate_headers(route: str, *, remaining: int = 4, reset_after: float = 1.0) -> dict:
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": f"fake-{route}",
    }


def _rate_limited(route: str, fault: _Fault) -> tuple[int, dict, dict]:
    headers = _rate_headers(route, remaining=0, reset_after=fault.retry_after)
    headers["Retry-After"] = str(max(1, round(fault.retry_after)))
    headers["X-RateLimit-Scope"] = "global" if fault.is_global else "user"
    headers["Via"] = "1.1 google"
    if fault.is_global:
        headers["X-RateLimit-Global"] = "true"
    payload = {
        "message": "You are being rate limited.",
        "retry_after": fault.retry_after,
        "global": fault.is_global,
    }
    return 429, payload, headers


@pytest.fixture
def fake_discord():
    """A running fake Discord API; discord.py's process-wide Route.BASE is put back after."""
    from discord.http import Route  # here: importing discord costs every test run 0.5 s

    base = Route.BASE
    fake = FakeDiscord().start()
    yield fake
    fake.stop()
    Route.BASE = base
