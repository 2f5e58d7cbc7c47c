"""Health for orchestrators and Prometheus (DESIGN §5.7): /healthz, /readyz and /metrics.

No login, no CSRF, no rate limit: a probe every few seconds must never be redirected to
the login page, refused or throttled. /healthz and /readyz reveal no secret; /metrics is
served to the loopback address, or elsewhere to the owner's bearer API token.

A request a reverse proxy relayed (it carries X-Forwarded-For or Forwarded) never counts
as local: without TRUSTED_PROXIES its remote address is the proxy's own loopback address,
which would open /metrics to the internet.
"""

import ipaddress
import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client.exposition import choose_encoder

from app.errors import Unauthorized
from app.extensions import csrf, limiter
from app.services.records.metrics import metrics_of
from app.services.setup.auth import user_for_api_token
from app.workers.readiness import readiness

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
csrf.exempt(bp)
limiter.exempt(bp)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    body, ready = readiness(current_app, datetime.now(UTC))
    return jsonify(body), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    _allow_scrape()
    # The format the scraper asks for: OpenMetrics or the classic text format (the default).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(metrics_of(current_app).registry), content_type=content_type)


def _allow_scrape() -> None:
    """Loopback callers pass; anyone else shows the owner's API token (401 otherwise)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        if user_for_api_token(header.removeprefix("Bearer ").strip()) is None:
            raise Unauthorized("API token is invalid or was revoked.")
        return
    if not _from_loopback():
        raise Unauthorized(
            "Metrics are served to the loopback address, or to an API token "
            "(Authorization: Bearer <token>)."
        )


def _from_loopback() -> bool:
    if "X-Forwarded-For" in request.headers or "Forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False
