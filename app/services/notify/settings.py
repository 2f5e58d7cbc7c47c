"""The owner's channel settings: addresses in plain columns, secrets Fernet-encrypted and
write-only (the API says only whether one is set), read back decrypted for a delivery
round as one NotifySettings."""

import logging
import secrets

from flask import current_app

from app.domain.vocabulary import AuditCategory
from app.extensions import db
from app.models import User
from app.services.notify.channels.base import NotifySettings
from app.services.records import audit
from app.services.setup.crypto import SecretUnreadable, decrypt_text, encrypt_text

logger = logging.getLogger(__name__)

PLAIN = (
    "daily_summary_time",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "smtp_username",
    "email_from",
    "email_to",
    "sms_to",
    "outgoing_webhook_url",
)
# API field -> encrypted column; null clears the secret.
SECRETS = {  # nosec B105 # the settings fields and their columns, no secret values
    "smtp_password": "smtp_password_encrypted",
    "textbelt_key": "textbelt_key_encrypted",
    "discord_bot_token": "discord_bot_token_encrypted",
}
LIST_FIELDS = ("email_to", "sms_to")


def channel_settings_of(user: User) -> dict:
    """What GET /api/settings shows of the channels: never a secret, only whether it is set."""
    shown = {field: getattr(user, field) for field in PLAIN}
    shown["daily_summary_time"] = (
        user.daily_summary_time.strftime("%H:%M") if user.daily_summary_time else None
    )
    for field, column in SECRETS.items():
        shown[f"{field}_set"] = getattr(user, column) is not None
    shown["discord_bot_token_set"] = shown["discord_bot_token_set"] or bool(
        current_app.config.get("DISCORD_BOT_TOKEN")
    )
    shown["outgoing_webhook_secret_set"] = user.outgoing_webhook_secret_encrypted is not None
    return shown


def update_channel_settings(user: User, changes: dict) -> None:
    """Apply the channel fields of a settings update (inside the caller's transaction);
    the audit names the fields changed, never a secret's value."""
    changed = []
    for field in PLAIN:
        if field in changes and getattr(user, field) != changes[field]:
            value = changes[field]
            if field in LIST_FIELDS and value is None:
                value = []
            setattr(user, field, value)
            changed.append(field)
    for field, column in SECRETS.items():
        if field in changes:
            value = changes[field]
            setattr(user, column, encrypt_text(value) if value else None)
            changed.append(field)
    if changed:
        audit.record(
            AuditCategory.SYSTEM, "notification channels changed", data={"fields": sorted(changed)}
        )


def rotate_outgoing_webhook_secret(user: User) -> str:
    """A new signing key for the outgoing webhook, returned this once (like an API token):
    the receiver keeps it; DeskPilot keeps it encrypted and never shows it again."""
    key = secrets.token_urlsafe(32)
    user.outgoing_webhook_secret_encrypted = encrypt_text(key)
    audit.record(AuditCategory.SYSTEM, "outgoing webhook secret rotated")
    db.session.commit()
    return key


def notify_settings(user: User) -> NotifySettings:
    config = current_app.config

    def secret(column: str) -> str | None:
        """A secret the ENCRYPTION_KEY can no longer read counts as unset (the channel then
        says what is missing and the owner enters it again) rather than failing every
        delivery round and every page that asks a channel's state."""
        token = getattr(user, column)
        if not token:
            return None
        try:
            return decrypt_text(token)
        except SecretUnreadable:
            logger.warning("notify: %s cannot be decrypted with this ENCRYPTION_KEY", column)
            return None

    return NotifySettings(
        discord_bot_token=secret("discord_bot_token_encrypted") or config.get("DISCORD_BOT_TOKEN"),
        discord_user_id=user.discord_user_id,
        discord_dm_enabled=user.discord_dm_enabled,
        discord_api_base=config["DISCORD_API_BASE"],
        smtp_host=user.smtp_host,
        smtp_port=user.smtp_port,
        smtp_security=user.smtp_security,
        smtp_username=user.smtp_username,
        smtp_password=secret("smtp_password_encrypted"),
        smtp_ca_file=config.get("SMTP_CA_FILE"),
        email_from=user.email_from,
        email_to=tuple(user.email_to or ()),
        textbelt_url=config.get("TEXTBELT_URL", "https://textbelt.com"),
        textbelt_key=secret("textbelt_key_encrypted"),
        sms_to=tuple(user.sms_to or ()),
        outgoing_webhook_url=user.outgoing_webhook_url,
        outgoing_webhook_secret=secret("outgoing_webhook_secret_encrypted"),
    )
