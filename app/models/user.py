"""The owner login: the single trader who runs this server."""

import secrets
from datetime import datetime, time

from flask_login import UserMixin
from sqlalchemy import JSON, Boolean, Integer, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


def new_session_nonce() -> str:
    return secrets.token_hex(8)


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(128))
    # Rotated on password change so every other session is logged out.
    session_nonce: Mapped[str] = mapped_column(String(32), default=new_session_nonce)
    # Two-factor login (DESIGN §5.3): the secret exists from setup, but the second step
    # is asked only once `totp_enabled_at` is set by a code that proved the app has it.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last TOTP time step accepted, so one code is never accepted twice.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    backup_code_hashes: Mapped[list | None] = mapped_column(JSON)
    # The second step's own lockout, apart from the password's.
    second_factor_failures: Mapped[int] = mapped_column(Integer, default=0)
    second_factor_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A second factor by SMS through the TextBelt channel, for a trader without an app.
    sms_second_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    sms_code_hash: Mapped[str | None] = mapped_column(String(128))
    sms_code_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # CIDR ranges allowed to send alerts besides TradingView's addresses; empty: any.
    webhook_allowlist: Mapped[list] = mapped_column(JSON, default=list)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    api_token_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    discord_user_id: Mapped[str | None] = mapped_column(String(32))
    discord_dm_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # An economic calendar (iCalendar or CSV) a job fetches and imports; null: none.
    calendar_url: Mapped[str | None] = mapped_column(String(2000))
    # Notification channels (services/notify); secrets Fernet-encrypted, never returned.
    # The daily summary's time of day in `timezone`; null: no daily summary.
    daily_summary_time: Mapped[time | None] = mapped_column(Time)
    discord_bot_token_encrypted: Mapped[str | None] = mapped_column(Text)
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(8), default="starttls")
    smtp_username: Mapped[str | None] = mapped_column(String(255))
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    email_from: Mapped[str | None] = mapped_column(String(255))
    email_to: Mapped[list] = mapped_column(JSON, default=list)
    sms_to: Mapped[list] = mapped_column(JSON, default=list)
    textbelt_key_encrypted: Mapped[str | None] = mapped_column(Text)
    outgoing_webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # The HMAC key an outgoing-webhook receiver verifies signatures with.
    outgoing_webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"
