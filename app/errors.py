"""Errors that services raise for the caller to show; app/api/errors.py maps them to HTTP."""


class AppError(Exception):
    """A refusal the trader should read: a stable `code`, a sentence, and the fields at fault."""

    code = "error"

    def __init__(self, message: str, fields: dict[str, str] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code:
            self.code = code


class InvalidInput(AppError):
    code = "validation_error"


class NotFound(AppError):
    code = "not_found"


class Conflict(AppError):
    code = "conflict"


class Unauthorized(AppError):
    code = "unauthorized"


class Locked(AppError):
    code = "locked"


class TooManyRequests(AppError):
    """Asked again too soon (a texted code): the message says how long to wait."""

    code = "rate_limited"


class Unprocessable(AppError):
    """Well-formed but cannot be acted on (unknown symbol, every trader refused by risk)."""

    code = "unprocessable"
