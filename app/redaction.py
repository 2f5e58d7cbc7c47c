"""Keep secrets out of the log, whoever logs them: our code, a library's debug line, a
traceback's message.

Every record is redacted as it is made (a log-record factory, so no logger or handler can
be missed): a webhook token in a request line shows as `/webhook/<token>`, and any secret
this process knows shows as `***`. A secret is known once it is read or made: every value
decrypted from the database (webhook tokens, passphrases, signing secrets, broker and bot
credentials, channel keys), every broker access token received, and the server's own keys
from the environment. Values shorter than `MIN_SECRET_LENGTH` are not matched: a one-digit
passphrase would otherwise blank every digit of the log.
"""

import logging
import re
import threading
import traceback

MIN_SECRET_LENGTH = 6
MASK = "***"

_WEBHOOK_PATH = re.compile(r"(/webhook/)[^\s/?\"']+")
_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None
_base_factory = logging.getLogRecordFactory()


def remember(*values: str | None) -> None:
    """Redact these values from every later log record."""
    fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH} - _known
    if not fresh:
        return
    global _pattern
    with _lock:
        _known.update(fresh)
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(v) for v in ordered))


def redact(text: str) -> str:
    if "/webhook/" in text:
        text = _WEBHOOK_PATH.sub(r"\1<token>", text)
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None else text


def _redacted_record(*args, **kwargs) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the logging module reports it as it would
        return record
    shown = redact(message)
    if shown != message:
        record.msg, record.args = shown, ()
    if record.exc_info and record.exc_info[0] is not None:
        # Formatted now, so a handler prints this text instead of the raw traceback.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Redact every log record made in this process from now on (idempotent)."""
    if logging.getLogRecordFactory() is not _redacted_record:
        logging.setLogRecordFactory(_redacted_record)
