"""Step-up: a fresh second factor before a sensitive action, while two-factor login is on.

A stolen session cookie or API token must not be enough to add a live account, change
credentials, rotate a webhook's secrets or re-arm the kill switch. Such a call passes
with either a step-up done in this browser session in the last five minutes
(POST /api/2fa/step-up) or the code itself in `X-Second-Factor` on the call (a script
with an API token). Otherwise it is refused with 401 `step_up_required`, and the pages
ask for a code and try again (static/js/step_up.js). With two-factor off nothing is asked.
"""

import functools
import logging
from datetime import UTC, datetime, timedelta

from flask import g, request, session
from flask_login import current_user

from app.errors import Conflict, InvalidInput, Unauthorized
from app.services.setup import two_factor

logger = logging.getLogger(__name__)

HEADER = "X-Second-Factor"
SESSION_KEY = "step_up"
VALID_SECONDS = 300
CODE = "step_up_required"


def prove_for_session(code: str, now: datetime) -> datetime:
    """Check a code and mark this browser session as stepped up; until when it holds."""
    if g.get("auth_method") != "session":
        raise Conflict(
            f"A step-up holds for a browser session; a script sends the code in {HEADER} "
            "with the call itself.",
            code="session_only",
        )
    user = current_user._get_current_object()
    two_factor.verify_step_up(user, code, now, "this session")
    until = now + timedelta(seconds=VALID_SECONDS)
    session[SESSION_KEY] = {"user": user.get_id(), "until": until.timestamp()}
    return until


def require(action: str) -> None:
    """Refuse the current call unless two-factor is off or a fresh proof comes with it.
    Once passed, the rest of the call asks no more (its header's code is used up)."""
    user = current_user._get_current_object()
    if g.get("stepped_up") or not two_factor.is_on(user):
        return
    now = datetime.now(UTC)
    code = request.headers.get(HEADER, "").strip()[:64]
    if code:
        try:
            two_factor.verify_step_up(user, code, now, action)
        except InvalidInput as wrong:
            raise Unauthorized(
                f"The code in {HEADER} is wrong or was already used.",
                {"code": "is wrong or was already used"},
                code=CODE,
            ) from wrong
        g.stepped_up = True
        return
    if _session_fresh(user.get_id(), now):
        return
    two_factor.step_up_asked(user, action)
    script = "" if g.get("auth_method") == "session" else f" (a script sends it in {HEADER})"
    raise Unauthorized(
        f"{action.capitalize()} needs a fresh code from your second factor{script}.",
        code=CODE,
    )


def step_up_required(action: str):
    """Decorate a view that always needs a step-up; `action` names it in the audit."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            require(action)
            return view(*args, **kwargs)

        return guarded

    return decorate


def _session_fresh(user_id: str, now: datetime) -> bool:
    """A step-up marker of this session, for this login (the session nonce is in the id, so
    a password change voids it), younger than five minutes. Only a browser session has
    one: an API token's call carries no cookie of ours."""
    if g.get("auth_method") != "session":
        return False
    marker = session.get(SESSION_KEY)
    if not isinstance(marker, dict) or marker.get("user") != user_id:
        return False
    until = marker.get("until")
    return isinstance(until, int | float) and now.timestamp() < until
