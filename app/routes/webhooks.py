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
from app.services.trading.execution import receive_alert

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__)

MAX_BODY_BYTES = 64 * 1024
TRADINGVIEW_ADDRESSES = frozenset({"52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"})


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
    if current_app.config["TRADINGVIEW_IP_ALLOWLIST"] and (
        request.remote_addr not in TRADINGVIEW_ADDRESSES
    ):
        return error_response(401, "unauthorized", "Source address is not TradingView's.")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return error_response(
            413, "payload_too_large", f"Alerts are limited to {MAX_BODY_BYTES} bytes."
        )
    raw = request.get_data(cache=False)
    if len(raw) > MAX_BODY_BYTES:
        return error_response(
            413, "payload_too_large", f"Alerts are limited to {MAX_BODY_BYTES} bytes."
        )
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError:
        return error_response(
            400,
            "invalid_payload",
            "The alert body is not UTF-8 text.",
            {"body": "is not UTF-8 text"},
        )
    try:
        result = receive_alert(token, body, request.content_type, request.remote_addr, now)
    except AppError as refusal:
        return error_response(status_for(refusal), refusal.code, refusal.message, refusal.fields)
    except Exception:
        # A bug after the alert was stored must not make TradingView resend it.
        logger.exception("alert processing failed")
        db.session.rollback()
        return jsonify(status="failed", orders=[], reason="internal error; see the log"), 200
    return jsonify(result.to_json()), 200
