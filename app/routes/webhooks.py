"""POST /webhook/<token>: TradingView's door (DESIGN §5.2). Never answers 5xx, because
TradingView resends on 500-599 and one alert could then act four times."""

import hashlib
import logging
from datetime import UTC, datetime

from flask import Blueprint, current_app, jsonify, request

from app.api.errors import error_response, status_for
from app.errors import AppError
from app.extensions import csrf, db, limiter
from app.services.records import audit
from app.services.trading import webhook_auth
from app.services.trading.execution import receive_alert

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_BODY_BYTES = 64 * 1024


def _rate_limit() -> str:
    return current_app.config["WEBHOOK_RATE_LIMIT"].replace("off", "1000000/second")


def _limit_key() -> str:
    """Per token, hashed so the limiter's storage never holds the secret."""
    token = (request.view_args or {}).get("token", "")
    return "webhook:" + hashlib.sha256(token.encode()).hexdigest()[:24]


@bp.post("/webhook/<token>")
@csrf.exempt
@limiter.limit(
    _rate_limit,
    key_func=_limit_key,
    exempt_when=lambda: current_app.config["WEBHOOK_RATE_LIMIT"] == "off",
)
def receive(token: str):
    now = datetime.now(UTC)
    audit.set_actor("webhook")
    try:
        # First, before the body is read: an address outside the allowlist learns nothing.
        webhook_auth.check_source(request.remote_addr)
    except AppError as refusal:
        return error_response(status_for(refusal), refusal.code, refusal.message, refusal.fields)
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _too_large()
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return _too_large()
    try:
        result = receive_alert(
            token,
            raw,
            request.content_type,
            request.remote_addr,
            now,
            signature=request.headers.get("X-Signature"),
        )
    except AppError as refusal:
        return error_response(status_for(refusal), refusal.code, refusal.message, refusal.fields)
    except Exception:
        # A bug after the alert was stored must not make TradingView resend it.
        logger.exception("alert processing failed")
        db.session.rollback()
        return jsonify(status="failed", orders=[], reason="internal error; see the log"), 200
    return jsonify(result.to_json()), 200


def _too_large():
    return error_response(
        413, "payload_too_large", f"Alerts are limited to {MAX_BODY_BYTES} bytes."
    )
