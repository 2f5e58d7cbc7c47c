"""The devices and addresses logins came from, so a login from a new one is told to the
owner (`login_new_device`): a stolen password used elsewhere shows up at once.

A device is the hash of its long-lived random cookie; an address is an HMAC of it keyed
by SECRET_KEY, so the table does not list the owner's addresses (a plain hash of an IPv4
address is undone by trying all four billion).
"""

import hashlib
import hmac
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import exists, select

from app.domain.vocabulary import AuditCategory, Severity
from app.extensions import db
from app.models import LoginSighting, User
from app.services.records import audit, events

logger = logging.getLogger(__name__)

DEVICE = "device"
ADDRESS = "address"


def _device_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _address_hash(address: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, address.encode(), hashlib.sha256).hexdigest()


def record_login(
    user: User, device_token: str, address: str | None, label: str, now: datetime
) -> None:
    """Note a completed login's device and address; when either is new (and this is not
    the very first login, which has nothing to compare with), publish `login_new_device`."""
    address = address or "unknown"
    first_ever = not db.session.scalar(select(exists().where(LoginSighting.user_id == user.id)))
    new = [
        kind
        for kind, value in ((DEVICE, _device_hash(device_token)), (ADDRESS, _address_hash(address)))
        if _sighted(user, kind, value, now)
    ]
    if new and not first_ever:
        what = " and ".join(new)
        audit.record(
            AuditCategory.AUTH,
            f"login from a new {what}: {label}, {address}",
            severity=Severity.WARNING,
            actor=user.username,
        )
        payload = {
            "username": user.username,
            "device": label,
            "address": address,
            "new_device": DEVICE in new,
            "new_address": ADDRESS in new,
            "at": now.isoformat(),
        }
        events.publish_after_commit(db.session(), "login_new_device", payload)
    db.session.commit()


def _sighted(user: User, kind: str, value: str, now: datetime) -> bool:
    """Mark one device or address as seen now; whether it was new."""
    row = db.session.scalar(
        select(LoginSighting).where(
            LoginSighting.user_id == user.id,
            LoginSighting.kind == kind,
            LoginSighting.value_hash == value,
        )
    )
    if row is not None:
        row.last_seen_at = now
        return False
    db.session.add(
        LoginSighting(
            user_id=user.id, kind=kind, value_hash=value, first_seen_at=now, last_seen_at=now
        )
    )
    return True
