"""Login and logout for the single owner (no registration)."""

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from app.errors import Locked, Unauthorized
from app.extensions import limiter
from app.services.live.sessions import end_owner_sessions
from app.services.setup import auth

logger = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login page cannot redirect off-site."""
    if not target:
        return url_for("pages.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("pages.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("pages.dashboard"))
    error = None
    status = 200
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")[:200]
        try:
            user = auth.authenticate(username, password, datetime.now(UTC))
        except Locked as exc:
            error, status = exc.message, 423
        except Unauthorized as exc:
            error, status = exc.message, 401
        else:
            session.clear()
            session.permanent = True
            login_user(user, remember=False)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error, username=username), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        auth.log_out(current_user)
        end_owner_sessions()
    logout_user()
    session.clear()
    # Said by the address, not a flash: every open tab is sent here too (session_ended),
    # and a flash would show in whichever tab loaded the login page first.
    return redirect(url_for("auth.login", logged_out=1))
