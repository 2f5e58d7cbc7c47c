"""The JSON API under /api: one blueprint per resource behind one authentication gate.

A request authenticates with `Authorization: Bearer <api token>` (no CSRF: the token is
not sent by browsers on their own) or with the owner's session cookie, in which case a
write must carry the page's CSRF token in `X-CSRF-Token`.
"""

import hashlib
import logging

from flask import Blueprint, current_app, g, request
from flask_login import current_user

from app.api.accounts import bp as accounts_bp
from app.api.advanced_orders import bp as advanced_orders_bp
from app.api.analytics import bp as analytics_bp
from app.api.approvals import bp as approvals_bp
from app.api.bars import bp as bars_bp
from app.api.calendar import bp as calendar_bp
from app.api.contracts import bp as contracts_bp
from app.api.dashboard import bp as dashboard_bp
from app.api.kill_switch import bp as kill_switch_bp
from app.api.logs import bp as logs_bp
from app.api.monthly_review import bp as monthly_review_bp
from app.api.news import bp as news_bp
from app.api.news import sentiment_bp
from app.api.notifications import bp as notifications_bp
from app.api.options import bp as options_bp
from app.api.orders import bp as orders_bp
from app.api.positions import bp as positions_bp
from app.api.price_alerts import bp as price_alerts_bp
from app.api.replay import bp as replay_bp
from app.api.risk import bp as risk_bp
from app.api.settings import bp as settings_bp
from app.api.strategies import bp as strategies_bp
from app.api.traders import bp as traders_bp
from app.api.trades import bp as trades_bp
from app.api.two_factor import bp as two_factor_bp
from app.api.webhook_events import bp as webhook_events_bp
from app.errors import Unauthorized
from app.extensions import csrf, limiter
from app.services.records import audit
from app.services.setup.auth import user_for_api_token

logger = logging.getLogger(__name__)

api_bp = Blueprint("api", __name__, url_prefix="/api")

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@api_bp.before_request
def _authenticate():
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_api_token(header.removeprefix("Bearer ").strip())
        if user is None:
            raise Unauthorized("API token is invalid or was revoked.")
        g._login_user = user  # Flask-Login's per-request user; no session is created
        g.auth_method = "api token"
    elif current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            csrf.protect()
        g.auth_method = "session"
    else:
        raise Unauthorized("Log in or send an API token (Authorization: Bearer <token>).")
    audit.set_actor(f"{current_user.username} ({g.auth_method})")


RESOURCES = (
    accounts_bp,
    risk_bp,
    strategies_bp,
    traders_bp,
    settings_bp,
    logs_bp,
    orders_bp,
    advanced_orders_bp,
    positions_bp,
    trades_bp,
    webhook_events_bp,
    approvals_bp,
    calendar_bp,
    contracts_bp,
    dashboard_bp,
    kill_switch_bp,
    notifications_bp,
    two_factor_bp,
    bars_bp,
    price_alerts_bp,
    options_bp,
    news_bp,
    sentiment_bp,
    analytics_bp,
    replay_bp,
    monthly_review_bp,
)


def _caller() -> str:
    """Whom the API rate limit counts: the bearer token or the session (hashed, so the
    limiter's storage never holds a secret), else the address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api:" + hashlib.sha256(header.encode()).hexdigest()[:24]
    if current_user.is_authenticated:
        return f"api:user:{current_user.id}"
    return "api-address:" + (request.remote_addr or "-")


limiter.limit(
    lambda: current_app.config["API_RATE_LIMIT"].replace("off", "1000000/second"),
    key_func=_caller,
    exempt_when=lambda: current_app.config["API_RATE_LIMIT"] == "off",
)(api_bp)

for child in RESOURCES:
    api_bp.register_blueprint(child)
    # CSRF is checked in _authenticate, for session calls only; flask-wtf looks up the
    # request's own (child) blueprint, so each child is exempted, not the parent.
    csrf.exempt(child)
