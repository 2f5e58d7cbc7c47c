"""Every delivery channel of this process, by name: one instance each, since the Discord
channel keeps its login and event loop between messages."""

from app.domain.vocabulary import NotificationChannel
from app.services.notify.channels.base import Channel
from app.services.notify.channels.discord_dm import DiscordChannel
from app.services.notify.channels.email import EmailChannel
from app.services.notify.channels.sms import SmsChannel
from app.services.notify.channels.webhook import WebhookChannel

_channels: dict[NotificationChannel, Channel] = {}


def all_channels() -> dict[NotificationChannel, Channel]:
    if not _channels:
        for channel in (DiscordChannel(), EmailChannel(), SmsChannel(), WebhookChannel()):
            _channels[channel.name] = channel
    return _channels
