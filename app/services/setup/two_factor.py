"""Two-factor login by TOTP (RFC 6238) or by a texted code: the setup, turning it on and
off, backup codes, and checking a second factor — at a login or as a step-up before a
sensitive action — under the second step's own lockout (DESIGN §5.3).

The secret is Fernet-encrypted at rest and backup codes are bcrypt-hashed, each usable
once. A TOTP code is accepted for the current 30-second step or one either side (a phone's
clock drifts and typing takes time), but never for a step at or before the last one
accepted, so a code seen over a shoulder cannot be replayed. A texted code (sms_codes)
is used up by its first acceptance. SMS is the weaker factor (a SIM swap or a number
ported away hands it to someone else); it is for a trader without an authenticator app.
"""

import hmac
import io
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import bcrypt
import pyotp
import segno
from flask import current_app

from app import redaction
from app.domain.vocabulary import AuditCategory, Severity
from app.errors import Conflict, InvalidInput, Locked
from app.extensions import db
from app.models import User
from app.services.records import audit
from app.services.setup import sms_codes, trusted_devices
from app.services.setup.auth import password_matches
from app.services.setup.crypto import SecretUnreadable, decrypt_text, encrypt_text

logger = logging.getLogger(__name__)

ISSUER = "DeskPilot"
STEP_SECONDS = 30
VALID_WINDOW = 1  # steps accepted either side of now, as pyotp's valid_window=1
BACKUP_CODE_COUNT = 10
# No 0/o, 1/l/i: a code copied from paper must not be misread.
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
BACKUP_CODE_LENGTH = 10  # ~49 bits each
TOTP_CODE = re.compile(r"\d{6}")

BY_APP = "authenticator code"
BY_SMS = "SMS code"
BY_BACKUP = "backup code"
APP = "app"
SMS = "sms"


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def is_on(user: User) -> bool:
    return method(user) is not None


def method(user: User) -> str | None:
    """Which second factor a login asks for: "app" (TOTP), "sms", or None when it is off."""
    if user.totp_enabled_at is not None:
        return APP
    if user.sms_second_factor:
        return SMS
    return None


def require_off(user: User) -> None:
    """Refuse a setup while a second factor is on: moving it needs the current one first."""
    if is_on(user):
        raise Conflict(
            "Two-factor login is already on; turn it off first to change how it asks.",
            code="already_enabled",
        )


def backup_codes_left(user: User) -> int:
    return len(user.backup_code_hashes or [])


def begin_setup(user: User) -> Setup:
    """A new secret for the owner's app; the second step is asked only once `enable` has
    seen a code made from it. Refused while two-factor login is on: replacing the secret
    then would move the second factor without proving the current one."""
    require_off(user)
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = encrypt_text(secret)
    user.totp_last_step = None
    audit.record(AuditCategory.AUTH, "two-factor setup started", actor=user.username)
    db.session.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return Setup(secret, uri, _qr_svg(uri))


def _qr_svg(uri: str) -> str:
    """The otpauth URI as a standalone SVG (white background, so it scans on a dark page)."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(
        buffer, kind="svg", scale=4, light="#fff", xmldecl=False, title="DeskPilot QR code"
    )
    return buffer.getvalue().decode()


def enable(user: User, code: str, now: datetime) -> list[str]:
    """Turn the second step on with a code proving the app holds the secret; the new
    backup codes, shown this once."""
    if is_on(user):
        raise Conflict("Two-factor login is already on.", code="already_enabled")
    if not user.totp_secret_encrypted:
        raise Conflict("Start the setup first: no secret was made yet.", code="not_set_up")
    _check_lock(user, now)
    if _accept_app_code(user, code, now) is None:
        _fail(user, now, "two-factor not turned on: wrong code", _wrong_code())
    user.totp_enabled_at = now
    _clear_failures(user)
    codes = _new_backup_codes(user)
    audit.record(AuditCategory.AUTH, "two-factor login turned on", actor=user.username)
    db.session.commit()
    return codes


def enable_sms(user: User, code: str, now: datetime) -> list[str]:
    """Turn the second step on by SMS with the code just texted to the phone (proving the
    number reaches the trader); the new backup codes, shown this once."""
    require_off(user)
    if not sms_codes.pending(user, now):
        raise Conflict("Ask for a code first: none is waiting.", code="not_set_up")
    _check_lock(user, now)
    if not sms_codes.check(user, code, now):
        _fail(user, now, "two-factor by SMS not turned on: wrong code", _wrong_code())
    user.sms_second_factor = True
    user.totp_secret_encrypted = None  # an app setup left unfinished
    _clear_failures(user)
    codes = _new_backup_codes(user)
    audit.record(AuditCategory.AUTH, "two-factor login turned on (SMS)", actor=user.username)
    db.session.commit()
    return codes


def disable(user: User, password: str, code: str, now: datetime) -> None:
    """Turn the second step off (password and a second factor); trusted devices go too, so
    turning it on again asks every browser once more."""
    _require_on(user)
    _prove(user, password, code, now, "turning two-factor login off")
    forgotten = _switch_off(user)
    audit.record(
        AuditCategory.AUTH,
        f"two-factor login turned off ({forgotten} trusted devices removed)",
        severity=Severity.WARNING,
        actor=user.username,
    )
    db.session.commit()


def reset_from_shell(user: User, actor: str) -> int:
    """Turn two-factor login off without a code, for a lost phone and lost backup codes:
    only `run.py init --reset-two-factor` calls this, and shell access to the server is
    the proof. The lock goes too; the trusted devices removed are counted."""
    was = method(user)
    forgotten = _switch_off(user)
    _clear_failures(user)
    audit.record(
        AuditCategory.AUTH,
        f"two-factor login reset from the server's shell (was {was or 'off'}; "
        f"{forgotten} trusted devices removed)",
        severity=Severity.WARNING,
        actor=actor,
    )
    db.session.commit()
    return forgotten


def _switch_off(user: User) -> int:
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    user.sms_second_factor = False
    sms_codes.forget(user)
    user.backup_code_hashes = None
    return trusted_devices.forget_all(user)


def regenerate_backup_codes(user: User, password: str, code: str, now: datetime) -> list[str]:
    """Ten new backup codes (the old ones stop working), shown this once."""
    _require_on(user)
    _prove(user, password, code, now, "new backup codes")
    codes = _new_backup_codes(user)
    audit.record(
        AuditCategory.AUTH, "new backup codes made (the old ones revoked)", actor=user.username
    )
    db.session.commit()
    return codes


def verify_login(user: User, code: str, now: datetime) -> str:
    """Check the second step of a login; how it was passed (an app code or a backup code).
    Raises Locked while the second step's lock holds, InvalidInput for a wrong code."""
    _check_lock(user, now)
    how = _accept(user, code, now)
    if how is None:
        _fail(user, now, "second step failed: wrong code", _wrong_code())
    _clear_failures(user)
    db.session.commit()
    return how


def verify_step_up(user: User, code: str, now: datetime, action: str) -> str:
    """Check a fresh second factor before a sensitive action (`action` names it for the
    audit): the login's rules exactly — the same lock, a code never taken twice."""
    _require_on(user)
    _check_lock(user, now)
    how = _accept(user, code, now)
    if how is None:
        _fail(user, now, f"step-up refused for {action}: wrong code", _wrong_code())
    _clear_failures(user)
    audit.record(AuditCategory.AUTH, f"step-up passed for {action} ({how})", actor=user.username)
    db.session.commit()
    return how


def step_up_asked(user: User, action: str) -> None:
    """Record a sensitive action refused for want of a fresh second factor."""
    audit.record(AuditCategory.AUTH, f"step-up asked for {action}", actor=user.username)
    db.session.commit()


def second_step_asked(user: User) -> None:
    audit.record(AuditCategory.AUTH, "password ok, second step asked", actor=user.username)
    db.session.commit()


def _require_on(user: User) -> None:
    if not is_on(user):
        raise Conflict("Two-factor login is off.", code="not_enabled")


def _prove(user: User, password: str, code: str, now: datetime, action: str) -> None:
    """The password and a second factor, both counted by the second step's lockout: a
    session left open must not become a way to guess either."""
    _check_lock(user, now)
    if not password_matches(password, user.password_hash):
        wrong = InvalidInput(
            "Password is wrong.",
            {"password": "is wrong"},  # nosec B105 # words, not a password
            code="invalid_password",
        )
        _fail(user, now, f"{action} refused: wrong password", wrong)
    if _accept(user, code, now) is None:
        _fail(user, now, f"{action} refused: wrong code", _wrong_code())


def _wrong_code() -> InvalidInput:
    return InvalidInput(
        "That code is wrong or was already used.",
        {"code": "is wrong or was already used"},
        code="invalid_code",
    )


def _check_lock(user: User, now: datetime) -> None:
    if user.second_factor_locked_until and user.second_factor_locked_until > now:
        audit.record(
            AuditCategory.AUTH,
            "second step refused: locked",
            severity=Severity.WARNING,
            actor=user.username,
        )
        db.session.commit()
        raise Locked(_lock_message(user.second_factor_locked_until))


def _fail(user: User, now: datetime, why: str, error: InvalidInput) -> NoReturn:
    """Count a failed second factor, locking the second step after too many; raises."""
    config = current_app.config
    user.second_factor_failures = (user.second_factor_failures or 0) + 1
    if user.second_factor_failures >= config["LOGIN_MAX_FAILURES"]:
        user.second_factor_locked_until = now + timedelta(minutes=config["LOGIN_LOCK_MINUTES"])
        user.second_factor_failures = 0
        audit.record(
            AuditCategory.AUTH,
            f"{why}; second step locked for {config['LOGIN_LOCK_MINUTES']} minutes after "
            f"{config['LOGIN_MAX_FAILURES']} failures",
            severity=Severity.WARNING,
            actor=user.username,
        )
        db.session.commit()
        raise Locked(_lock_message(user.second_factor_locked_until))
    audit.record(AuditCategory.AUTH, why, severity=Severity.WARNING, actor=user.username)
    db.session.commit()
    raise error


def _lock_message(until: datetime) -> str:
    minutes = current_app.config["LOGIN_LOCK_MINUTES"]
    return (
        f"Too many wrong codes: the second step is locked for {minutes} minutes, "
        f"until {until:%H:%M} UTC."
    )


def _clear_failures(user: User) -> None:
    user.second_factor_failures = 0
    user.second_factor_locked_until = None


def _accept(user: User, code: str, now: datetime) -> str | None:
    """How `code` passes (the factor that is on, or a backup code; a texted or backup code
    is used up), or None."""
    if user.totp_enabled_at is not None and _accept_app_code(user, code, now) is not None:
        return BY_APP
    if user.sms_second_factor and sms_codes.check(user, code, now):
        return BY_SMS
    if _use_backup_code(user, code):
        return BY_BACKUP
    return None


def _accept_app_code(user: User, code: str, now: datetime) -> int | None:
    """The time step `code` belongs to, recorded as used; None when it matches no step in
    the window after the last one accepted."""
    digits = re.sub(r"\s", "", code)
    if not TOTP_CODE.fullmatch(digits):
        return None
    try:
        totp = pyotp.TOTP(decrypt_text(user.totp_secret_encrypted or ""))
    except SecretUnreadable:
        # Backup codes still open the door; the owner reads why in the log.
        logger.error("the TOTP secret cannot be decrypted: ENCRYPTION_KEY changed?")
        return None
    current = int(now.timestamp()) // STEP_SECONDS
    last = user.totp_last_step if user.totp_last_step is not None else -1
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if step > last and hmac.compare_digest(totp.generate_otp(step), digits):
            user.totp_last_step = step
            return step
    return None


def _normalised_backup(code: str) -> str:
    return re.sub(r"[^a-z0-9]", "", code.lower())


def _use_backup_code(user: User, code: str) -> bool:
    """Consume the backup code `code` matches; False when it matches none."""
    text = _normalised_backup(code)
    hashes = list(user.backup_code_hashes or [])
    if len(text) != BACKUP_CODE_LENGTH:
        return False  # not a backup code's shape: no bcrypt work to refuse it
    for index, hashed in enumerate(hashes):
        if bcrypt.checkpw(text.encode(), hashed.encode()):
            del hashes[index]
            user.backup_code_hashes = hashes  # a new list, so the JSON column is written
            audit.record(
                AuditCategory.AUTH,
                f"backup code used ({len(hashes)} left)",
                severity=Severity.WARNING if len(hashes) < 3 else Severity.INFO,
                actor=user.username,
            )
            return True
    return False


def _new_backup_codes(user: User) -> list[str]:
    """Ten fresh codes, as shown ("abcde-fghjk"); only their bcrypt hashes are kept."""
    rounds = current_app.config["BCRYPT_ROUNDS"]
    plain = [
        "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
        for _ in range(BACKUP_CODE_COUNT)
    ]
    user.backup_code_hashes = [
        bcrypt.hashpw(text.encode(), bcrypt.gensalt(rounds=rounds)).decode() for text in plain
    ]
    half = BACKUP_CODE_LENGTH // 2
    shown = [f"{text[:half]}-{text[half:]}" for text in plain]
    redaction.remember(*plain, *shown)
    return shown
