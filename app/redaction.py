"""Keep secrets out of the log: the webhook token is part of the URL a request line shows."""

import logging
import re

_WEBHOOK_PATH = re.compile(r"(/webhook/)[^\s/?\"]+")


def redact(text: str) -> str:
    return _WEBHOOK_PATH.sub(r"\1<token>", text)


class RedactWebhookTokens(logging.Filter):
    """Rewrites a record's message so `/webhook/<secret>` shows as `/webhook/<token>`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/webhook/" in message:
            record.msg = redact(message)
            record.args = ()
        return True


def install() -> None:
    """Attach the filter to the loggers that print request lines (idempotent)."""
    for name in (
        "gunicorn.access",
        "gunicorn.error",
        "werkzeug",
        "engineio.server",
        "socketio.server",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactWebhookTokens) for f in logger.filters):
            logger.addFilter(RedactWebhookTokens())
