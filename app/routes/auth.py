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

from app.errors import AppError, InvalidInput, Locked, TooManyRequests, Unauthorized
from app.extensions import limiter
from app.models import User
from app.routes import login_state
from app.services.live.sessions import end_owner_sessions
from app.services.notify import login_code
from app.services.setup import auth, login_sightings, trusted_devices, two_factor

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
        now = datetime.now(UTC)
        try:
            user = auth.authenticate(username, password, now)
        except Locked as exc:
            error, status = exc.message, 423
        except Unauthorized as exc:
            error, status = exc.message, 401
        else:
            if not two_factor.is_on(user):
                return _complete_login(user, now, None)
            trusted = request.cookies.get(login_state.TRUSTED_COOKIE)
            if trusted_devices.recognise(user, trusted, now):
                return _complete_login(user, now, "trusted device")
            login_state.begin_pending(user, now)
            two_factor.second_step_asked(user)
            return redirect(url_for("auth.second_step", next=request.args.get("next")))
    return render_template("login.html", error=error, username=username), status


@bp.route("/login/2fa", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def second_step():
    """The second step of a login with two-factor on: an app code, a texted code ("Text me
    a code" posts `send_sms`) or a backup code."""
    if current_user.is_authenticated:
        return redirect(url_for("pages.dashboard"))
    now = datetime.now(UTC)
    had_marker = login_state.has_pending()
    user = login_state.pending_user(now)
    if user is None:
        expired = 1 if had_marker else None
        return redirect(url_for("auth.login", next=request.args.get("next"), expired=expired))
    error = notice = None
    status = 200
    if request.method == "POST" and request.form.get("send_sms") is not None:
        error, notice, status = _text_a_code(user, now)
    elif request.method == "POST":
        try:
            how = two_factor.verify_login(user, request.form.get("code", "")[:64], now)
        except Locked as exc:
            error, status = exc.message, 423
        except InvalidInput as exc:
            error, status = exc.message, 401
        else:
            remember = request.form.get("remember_device") is not None
            token = trusted_devices.remember(user, _agent(), now) if remember else None
            response = _complete_login(user, now, how)
            if token:
                login_state.set_trusted_cookie(response, token)
            return response
    by_sms = two_factor.method(user) == two_factor.SMS
    return render_template("login_2fa.html", error=error, notice=notice, by_sms=by_sms), status


def _text_a_code(user: User, now: datetime) -> tuple[str | None, str | None, int]:
    """Text a code for this login: (error, notice, status) for the page."""
    try:
        sent = login_code.send_for_second_factor(user, now, "a login")
    except TooManyRequests as exc:
        return exc.message, None, 429
    except AppError as exc:
        return exc.message, None, 409
    return None, f"A code was texted to {sent.to}; it works for 5 minutes.", 200


def _agent() -> str:
    return request.headers.get("User-Agent", "")[:500]


def _complete_login(user: User, now: datetime, second_step: str | None):
    """Log in (a fresh session: no fixation), note the device and address the login came
    from, and go where the login was asked for."""
    auth.login_completed(user, now, second_step)
    device = login_state.device_token(request.cookies.get(login_state.DEVICE_COOKIE))
    label = trusted_devices.device_label(_agent())
    login_sightings.record_login(user, device, request.remote_addr, label, now)
    session.clear()
    session.permanent = True
    login_user(user, remember=False)
    response = redirect(_safe_next(request.args.get("next")))
    login_state.set_device_cookie(response, device)
    return response


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
