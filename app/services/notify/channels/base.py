"""What every channel is given and how it answers: a rendered Message and the decrypted
settings in; nothing back on success, a DeliveryError saying whether and when to try
again otherwise. Channels never read our tables: the delivery job hands them all they
need, and records what they answer."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from app.domain.vocabulary import NotificationChannel, Tone


@dataclass(frozen=True)
class Message:
    """One notification as the trader reads it. `text` is complete on its own (an SMS or
    the plain part of an e-mail); `fields` are the facts a rich channel lays out (a Discord
    embed's fields, an e-mail's table), e.g. ("Symbol", "MESZ6"), ("P&L", "+27.50")."""

    event_type: str
    title: str
    text: str
    occurred_at: datetime
    tone: Tone = Tone.INFO
    fields: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NotifySettings:
    """Every channel's settings, secrets decrypted, read once per delivery round."""

    discord_bot_token: str | None = None
    discord_user_id: str | None = None
    discord_dm_enabled: bool = False
    discord_api_base: str = "https://discord.com/api/v10"
    smtp_host: str | None = None
    smtp_port: int | None = None
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_username: str | None = None
    smtp_password: str | None = None
    email_from: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_ca_file: str | None = None  # SMTP_CA_FILE: a private CA trusted besides the system's
    textbelt_url: str = "https://textbelt.com"
    textbelt_key: str | None = None
    sms_to: tuple[str, ...] = ()
    outgoing_webhook_url: str | None = None
    outgoing_webhook_secret: str | None = None
    timeout_seconds: float = 10.0


class DeliveryError(Exception):
    """The channel did not deliver. `retry_after`: the server said when to try again (a
    429's retry_after); `permanent`: trying again cannot help (DMs closed, a bad address,
    an unknown user) — the row fails at once with this message, which the trader sees."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class Channel(Protocol):
    name: NotificationChannel

    def unready(self, settings: NotifySettings) -> str | None:
        """Why this channel cannot send with these settings (not linked, no address), in
        the trader's words; None when it can."""

    def send(self, message: Message, settings: NotifySettings) -> None:
        """Deliver `message` or raise DeliveryError. Blocks at most settings.timeout_seconds
        (a channel with its own event loop waits on it here, off the trading threads)."""
