"""What a login keeps in the browser between its steps and after: the pending second step
(in the signed session, not a login), and the cookies naming a trusted and a known device.
"""

import logging
import secrets
from datetime import datetime, timedelta

from flask import Response, current_app, session

from app.models import User
from app.services.setup.auth import load_session_user
from app.services.setup.trusted_devices import TRUST_DAYS

logger = logging.getLogger(__name__)

PENDING_KEY = "login_pending"
PENDING_SECONDS = 300  # the second step is answered within five minutes or asked anew
TRUSTED_COOKIE = "dp_trusted"
DEVICE_COOKIE = "dp_device"
DEVICE_COOKIE_DAYS = 400  # the longest browsers keep a cookie
MAX_DEVICE_TOKEN_LENGTH = 128


def begin_pending(user: User, now: datetime) -> None:
    """Hold a right password for the second step. The session is emptied first and holds
    no login, so every page and API call still sees a stranger. The user's session nonce
    rides along: a password change or a logout meanwhile voids the marker."""
    session.clear()
    session[PENDING_KEY] = {
        "user": f"{user.id}:{user.session_nonce}",
        "until": (now + timedelta(seconds=PENDING_SECONDS)).timestamp(),
    }


def has_pending() -> bool:
    return PENDING_KEY in session


def pending_user(now: datetime) -> User | None:
    """The owner whose password was right, while the marker holds; a stale one is dropped."""
    marker = session.get(PENDING_KEY)
    if not isinstance(marker, dict):
        return None
    user = None
    until = marker.get("until")
    if isinstance(until, int | float) and now.timestamp() < until:
        user = load_session_user(str(marker.get("user", "")))
    if user is None:
        session.pop(PENDING_KEY, None)
    return user


def device_token(cookie: str | None) -> str:
    """The browser's long-lived device token, or a new one for a browser without (or with
    a malformed) one."""
    if cookie and len(cookie) <= MAX_DEVICE_TOKEN_LENGTH:
        return cookie
    return secrets.token_urlsafe(32)


def set_device_cookie(response: Response, token: str) -> None:
    _set_cookie(response, DEVICE_COOKIE, token, timedelta(days=DEVICE_COOKIE_DAYS))


def set_trusted_cookie(response: Response, token: str) -> None:
    _set_cookie(response, TRUSTED_COOKIE, token, timedelta(days=TRUST_DAYS))


def _set_cookie(response: Response, name: str, value: str, lifetime: timedelta) -> None:
    """HttpOnly and SameSite=Lax; Secure as the session cookie is (always over https, and
    on any address but a loopback one unless COOKIE_SECURE says otherwise)."""
    app = current_app._get_current_object()
    response.set_cookie(
        name,
        value,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="Lax",
        secure=app.session_interface.get_cookie_secure(app),
    )
