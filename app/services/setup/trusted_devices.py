"""Browsers trusted to skip the second step for 30 days ("remember this device").

The browser keeps a random token in a cookie; only its SHA-256 is stored, so the table
alone lets nobody in. A device is named from its User-Agent for the owner to recognise it
in the list, where it can be revoked.
"""

import hashlib
import logging
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from app.domain.vocabulary import AuditCategory
from app.errors import NotFound
from app.extensions import db
from app.models import TrustedDevice, User
from app.services.records import audit

logger = logging.getLogger(__name__)

TRUST_DAYS = 30
MAX_TOKEN_LENGTH = 128  # ours are 43 characters; anything far longer is not ours

# First match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str | None) -> str:
    """ "Firefox on Windows", or the start of an unknown User-Agent."""
    agent = user_agent or ""
    browser = next((name for mark, name in BROWSERS if mark in agent), None)
    system = next((name for mark, name in SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or system
    return re.sub(r"\s+", " ", agent)[:60].strip() or "unknown browser"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def remember(user: User, user_agent: str | None, now: datetime) -> str:
    """Trust this browser for TRUST_DAYS; the token for its cookie (kept nowhere else)."""
    token = secrets.token_urlsafe(32)
    label = device_label(user_agent)
    db.session.add(
        TrustedDevice(
            user_id=user.id,
            token_hash=_digest(token),
            label=label[:200],
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=TRUST_DAYS),
        )
    )
    audit.record(
        AuditCategory.AUTH, f"device trusted for {TRUST_DAYS} days: {label}", actor=user.username
    )
    db.session.commit()
    return token


def recognise(user: User, token: str | None, now: datetime) -> bool:
    """Whether the browser's token is a trust of this owner still running; seen now."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return False
    row = db.session.scalar(
        select(TrustedDevice).where(
            TrustedDevice.user_id == user.id, TrustedDevice.token_hash == _digest(token)
        )
    )
    if row is None or row.expires_at <= now:
        return False
    row.last_seen_at = now
    db.session.commit()
    return True


def listed(user: User, now: datetime) -> list[TrustedDevice]:
    """The trusts still running, newest first."""
    return list(
        db.session.scalars(
            select(TrustedDevice)
            .where(TrustedDevice.user_id == user.id, TrustedDevice.expires_at > now)
            .order_by(TrustedDevice.created_at.desc(), TrustedDevice.id.desc())
        )
    )


def revoke(user: User, device_id: int) -> None:
    """Stop trusting one device: its next login asks the second step again."""
    row = db.session.get(TrustedDevice, device_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"No trusted device {device_id}.")
    db.session.delete(row)
    audit.record(AuditCategory.AUTH, f"trusted device revoked: {row.label}", actor=user.username)
    db.session.commit()


def forget_all(user: User) -> int:
    """Remove every trust of the owner (in the caller's transaction); how many there were."""
    result = db.session.execute(delete(TrustedDevice).where(TrustedDevice.user_id == user.id))
    return result.rowcount or 0
