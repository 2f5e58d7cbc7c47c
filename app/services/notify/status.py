"""Each channel as the Settings page shows it: whether it can send (and, if not, why, in the
channel's own words), when it last delivered and the last error it met, read from the
outbox; SMS adds the remaining TextBelt credit last reported to this process."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.domain.vocabulary import NotificationChannel, NotificationStatus
from app.extensions import db
from app.models import Notification, User
from app.services.notify.channels import sms
from app.services.notify.channels.base import Channel, NotifySettings
from app.services.notify.settings import notify_settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelStatus:
    why_not: str | None  # None: the channel can send
    last_sent_at: datetime | None
    last_error: str | None  # the newest notification's error that has one
    last_error_at: datetime | None  # when that notification was made
    retry_at: datetime | None  # when it is tried again; None once it failed for good
    quota_remaining: int | None = None  # SMS only: TextBelt's last figure, if any seen
    quota_seen_at: datetime | None = None


def channel_statuses(
    user: User, channels: Mapping[NotificationChannel, Channel]
) -> dict[NotificationChannel, ChannelStatus]:
    settings = notify_settings(user)
    return {name: _status_of(name, channel, settings) for name, channel in channels.items()}


def _status_of(
    name: NotificationChannel, channel: Channel, settings: NotifySettings
) -> ChannelStatus:
    last_sent_at = db.session.scalar(
        select(func.max(Notification.sent_at)).where(
            Notification.channel == name, Notification.status == NotificationStatus.SENT
        )
    )
    # A delivered row has its error cleared, so any error left is on a pending or failed one.
    erred = db.session.scalar(
        select(Notification)
        .where(Notification.channel == name, Notification.last_error.is_not(None))
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(1)
    )
    quota = sms.last_quota(settings) if name is NotificationChannel.SMS else None
    return ChannelStatus(
        why_not=channel.unready(settings),
        last_sent_at=last_sent_at,
        last_error=erred.last_error if erred else None,
        last_error_at=erred.created_at if erred else None,
        retry_at=(
            erred.next_attempt_at if erred and erred.status == NotificationStatus.PENDING else None
        ),
        quota_remaining=quota.remaining if quota else None,
        quota_seen_at=quota.seen_at if quota else None,
    )
