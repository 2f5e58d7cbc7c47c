"""The owner's login: password checks with lockout, password changes, API tokens."""

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import bcrypt
from flask import current_app
from sqlalchemy import func, select

from app import redaction
from app.domain.vocabulary import AuditCategory, Severity
from app.errors import InvalidInput, Locked, Unauthorized
from app.extensions import db
from app.models import User
from app.models.user import new_session_nonce
from app.services.records import audit

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72  # bcrypt refuses longer input

# Compared against when the username is unknown, so both paths cost one bcrypt check.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds=4))


def hash_password(password: str) -> str:
    rounds = current_app.config["BCRYPT_ROUNDS"]
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def password_matches(password: str, password_hash: str) -> bool:
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(encoded, password_hash.encode())


def check_password_policy(password: str, field: str = "new_password") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            "Password too short.", {field: f"use at least {MIN_PASSWORD_LENGTH} characters"}
        )
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise InvalidInput("Password too long.", {field: f"use at most {MAX_PASSWORD_BYTES} bytes"})


def authenticate(username: str, password: str, now: datetime) -> User:
    """Return the owner for good credentials; count failures and lock after too many.

    Raises Locked while the lock holds (even for the right password) and Unauthorized
    otherwise, with the same message for an unknown user and a wrong password. The login
    itself is recorded by `login_completed`, once any second step is passed too.
    """
    config = current_app.config
    user = db.session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        password_matches(password, _DUMMY_HASH.decode())
        _record_failure(username, "unknown username")
        db.session.commit()
        raise Unauthorized("Wrong username or password.")
    if user.locked_until and user.locked_until > now:
        _record_failure(username, "account locked", severity=Severity.WARNING)
        db.session.commit()
        raise Locked(_lock_message(user.locked_until))
    if not password_matches(password, user.password_hash):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= config["LOGIN_MAX_FAILURES"]:
            user.locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
            user.failed_logins = 0
            audit.record(
                AuditCategory.AUTH,
                f"login locked for {config['LOGIN_LOCK_MINUTES']} minutes after "
                f"{config['LOGIN_MAX_FAILURES']} failed attempts",
                severity=Severity.WARNING,
                actor=user.username,
            )
            db.session.commit()
            raise Locked(_lock_message(user.locked_until))
        _record_failure(username, "wrong password")
        db.session.commit()
        raise Unauthorized("Wrong username or password.")
    user.failed_logins = 0
    user.locked_until = None
    db.session.commit()
    return user


def login_completed(user: User, now: datetime, second_step: str | None) -> None:
    """Record a login that passed every step: the password, and the second step when
    two-factor login is on (`second_step` says how: a code, a backup code, a trusted
    device). The password alone is not a login while a second step is owed."""
    user.last_login_at = now
    message = f"login ok ({second_step})" if second_step else "login ok"
    audit.record(AuditCategory.AUTH, message, actor=user.username)
    db.session.commit()


def _lock_message(until: datetime) -> str:
    return (
        f"Too many failed logins: this account is locked for 15 minutes, until {until:%H:%M} UTC."
    )


def _record_failure(username: str, why: str, severity: Severity = Severity.INFO) -> None:
    audit.record(
        AuditCategory.AUTH,
        f"login failed: {why}",
        severity=severity,
        data={"username": username[:64]},
        actor=username[:64],
    )


def change_password(user: User, current: str, new: str, now: datetime) -> None:
    """Change the owner's password; every other session is logged out."""
    if not password_matches(current, user.password_hash):
        raise InvalidInput(
            "Current password is wrong.",
            {"current_password": "is wrong"},  # nosec B105 # words, not a password
        )
    check_password_policy(new)
    user.password_hash = hash_password(new)
    user.session_nonce = new_session_nonce()
    user.password_changed_at = now
    audit.record(AuditCategory.AUTH, "password changed", actor=user.username)
    db.session.commit()


def log_out(user: User) -> None:
    """End every session of the owner. The session lives in a signed cookie, so clearing
    it in this browser is not enough: a response already in flight (a status poll, a
    socket long-poll) or a copied cookie would carry the old one back. Rotating the
    nonce makes every cookie issued before now worthless."""
    user.session_nonce = new_session_nonce()
    audit.record(AuditCategory.AUTH, "logout", actor=user.username)
    db.session.commit()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(user: User, now: datetime) -> str:
    """Create a new API token, revoking the previous one; only its hash is stored."""
    token = "dp_" + secrets.token_urlsafe(32)
    redaction.remember(token)
    user.api_token_hash = _token_digest(token)
    user.api_token_created_at = now
    audit.record(
        AuditCategory.AUTH, "API token issued (previous token revoked)", actor=user.username
    )
    db.session.commit()
    return token


def user_for_api_token(token: str) -> User | None:
    digest = _token_digest(token)
    user = db.session.scalar(select(User).where(User.api_token_hash == digest))
    if user is None or not hmac.compare_digest(user.api_token_hash or "", digest):
        return None
    redaction.remember(token)
    return user


def load_session_user(session_id: str) -> User | None:
    """Resolve Flask-Login's "id:nonce"; a stale nonce (password changed) gives None."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not hmac.compare_digest(user.session_nonce, nonce):
        return None
    return user


def owner() -> User | None:
    return db.session.scalar(select(User).order_by(User.id).limit(1))


@dataclass(frozen=True)
class OwnerSetup:
    user: User
    generated_password: str | None  # shown once on the console, never logged


def ensure_owner(now: datetime, reset_password: bool = False) -> OwnerSetup | None:
    """Create the owner on first start from ADMIN_USERNAME/ADMIN_PASSWORD (or a generated
    password); with reset_password, set the existing owner's password the same way."""
    config = current_app.config
    existing = owner()
    if existing is not None and not reset_password:
        return None
    password = config.get("ADMIN_PASSWORD")
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    check_password_policy(password, field="ADMIN_PASSWORD")
    if existing is None:
        user = User(username=config["ADMIN_USERNAME"], password_hash=hash_password(password))
        db.session.add(user)
        message = "owner created"
    else:
        user = existing
        user.password_hash = hash_password(password)
        user.session_nonce = new_session_nonce()
        user.failed_logins = 0
        user.locked_until = None
        user.password_changed_at = now
        message = "owner password reset from the command line"
    audit.record(AuditCategory.AUTH, message, actor="system", data={"username": user.username})
    db.session.commit()
    return OwnerSetup(user, generated)
