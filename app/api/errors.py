"""The one JSON error shape, and the one table from exceptions to status codes."""

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from app.brokers.errors import BrokerError, RateLimited
from app.domain.errors import DomainValidationError
from app.errors import (
    AppError,
    Conflict,
    InvalidInput,
    Locked,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[AppError], int] = {
    InvalidInput: 400,
    Unauthorized: 401,
    NotFound: 404,
    Conflict: 409,
    Unprocessable: 422,
    Locked: 423,
    TooManyRequests: 429,
}

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """DESIGN §5.4's error body; `fields` is always there ({} when no field is at fault)."""
    return jsonify({"error": {"code": code, "message": message, "fields": fields or {}}}), status


def status_for(error: AppError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


# Pydantic's wording, in words a trader reads; other messages pass through.
PLAIN_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_pattern_mismatch": "contains characters that are not allowed",
    "string_type": "must be text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "dict_type": "must be an object",
    "model_type": "must be an object",
}


def validation_fields(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"dotted.field": "message"}; the body itself is "body"."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        # A union reports each branch ("cid.int", "cid.str"); the field is what matters.
        parts = [
            str(p) for p in item["loc"] if not str(p).startswith(("function-", "constrained-"))
        ]
        parts = [p for p in parts if p not in ("int", "str", "float", "bool", "is-instance[str]")]
        location = ".".join(parts) or "body"
        message = PLAIN_MESSAGES.get(item["type"], item["msg"])
        fields.setdefault(location, message.removeprefix("Value error, "))
    return fields


HEALTH_PATHS = ("/healthz", "/readyz", "/metrics")  # probes and scrapers read JSON


def _wants_json() -> bool:
    return request.path.startswith(("/api", "/webhook")) or request.path in HEALTH_PATHS


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(error: AppError):
        return error_response(status_for(error), error.code, error.message, error.fields)

    @app.errorhandler(ValidationError)
    def _validation_error(error: ValidationError):
        fields = validation_fields(error)
        first = next(iter(fields.items()), ("body", "is invalid"))
        return error_response(400, "validation_error", f"{first[0]}: {first[1]}", fields)

    @app.errorhandler(DomainValidationError)
    def _domain_error(error: DomainValidationError):
        return error_response(400, "validation_error", str(error), {error.field: error.message})

    @app.errorhandler(BrokerError)
    def _broker_error(error: BrokerError):
        """A broker failure the service did not turn into a recorded refusal: still 4xx,
        with the broker's words, since nothing about the request was wrong to retry blindly."""
        if isinstance(error, RateLimited):
            response = error_response(429, "rate_limited", error.message)
            response[0].headers["Retry-After"] = str(int(error.wait_seconds))
            return response
        return error_response(409, "broker_error", error.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        message = "CSRF token missing or invalid; reload the page and try again."
        if _wants_json():
            return error_response(400, "csrf_failed", message)
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        status = error.code or 500
        if _wants_json():
            code = HTTP_CODES.get(status, "http_error")
            return error_response(status, code, error.description or error.name)
        return render_template("error.html", status=status, message=error.description), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        logger.exception("unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return error_response(500, "internal_error", "Unexpected server error; see the log.")
        return render_template("error.html", status=500, message="Unexpected server error."), 500
