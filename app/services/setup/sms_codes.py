"""One-time codes texted as the second factor (issue 14): made, rate limited, checked once.

A code is six digits, good for five minutes and one use. Only its HMAC (keyed with the
server's SECRET_KEY) is kept, so the users table alone cannot be tried against a million
candidates offline. At most one code per 30 seconds and five per hour: each text costs
TextBelt credit, and a flood of texts is itself an attack on the trader's phone. The
sending is notify's (services/notify/login_code.py); this module never talks to TextBelt.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app import redaction
from app.domain.vocabulary import AuditCategory
from app.errors import TooManyRequests
from app.extensions import db
from app.models import AuditEntry, User
from app.services.records import audit

logger = logging.getLogger(__name__)

CODE_SECONDS = 300
MIN_GAP_SECONDS = 30
PER_HOUR = 5
# The structured mark of a code sent, in its audit entry's data: the hourly cap counts
# these entries, so the count holds across processes and restarts with no table of its own.
SENT_MARK = {"sms_code": "sent"}


def issue(user: User, now: datetime) -> str:
    """A new code for `user`, replacing any earlier one once the caller commits (after
    `sent`); raises TooManyRequests inside the 30-second gap or past five an hour."""
    _check_rate(user, now)
    code = f"{secrets.randbelow(10**6):06d}"
    redaction.remember(code)
    user.sms_code_hash = _digest(user, code)
    user.sms_code_expires_at = now + timedelta(seconds=CODE_SECONDS)
    return code


def sent(user: User, phone: str, purpose: str) -> None:
    """Record and commit a code TextBelt took: it now counts towards the limits."""
    audit.record(
        AuditCategory.AUTH,
        f"SMS code texted to {masked(phone)} ({purpose})",
        data=dict(SENT_MARK),
        actor=user.username,
    )
    db.session.commit()


def check(user: User, code: str, now: datetime) -> bool:
    """Whether `code` is the unexpired code last sent; a right one is used up (the caller
    commits). Its expiry stays: it dates the last text for the 30-second gap."""
    digits = "".join(code.split())
    expires = user.sms_code_expires_at
    if not user.sms_code_hash or expires is None or expires <= now or len(digits) != 6:
        return False
    if not hmac.compare_digest(user.sms_code_hash, _digest(user, digits)):
        return False
    user.sms_code_hash = None
    return True


def forget(user: User) -> None:
    user.sms_code_hash = None
    user.sms_code_expires_at = None


def pending(user: User, now: datetime) -> bool:
    """Whether a sent code is still waiting to be typed."""
    expires = user.sms_code_expires_at
    return bool(user.sms_code_hash) and expires is not None and expires > now


def masked(phone: str) -> str:
    """A number as the trader recognises it without the log or a page showing it whole."""
    return f"••• {phone[-4:]}"


def _check_rate(user: User, now: datetime) -> None:
    expires = user.sms_code_expires_at
    if expires is not None:
        sent_at = expires - timedelta(seconds=CODE_SECONDS)
        wait = MIN_GAP_SECONDS - (now - sent_at).total_seconds()
        if wait > 0:
            raise TooManyRequests(
                f"A code was just sent; wait {int(wait) + 1} seconds before asking again.",
                code="sms_too_soon",
            )
    if _sent_in_last_hour(user, now) >= PER_HOUR:
        raise TooManyRequests(
            f"{PER_HOUR} codes were texted in the last hour; wait before asking again, "
            "or use a backup code.",
            code="sms_hourly_limit",
        )


def _sent_in_last_hour(user: User, now: datetime) -> int:
    query = select(func.count(AuditEntry.id)).where(
        AuditEntry.category == AuditCategory.AUTH,
        AuditEntry.actor == user.username,
        AuditEntry.created_at > now - timedelta(hours=1),
        AuditEntry.data["sms_code"].as_string() == SENT_MARK["sms_code"],
    )
    return db.session.scalar(query) or 0


def _digest(user: User, code: str) -> str:
    """HMAC-SHA256 of the code and the user it was sent to, keyed with SECRET_KEY."""
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"{user.id}:{code}".encode(), hashlib.sha256).hexdigest()
