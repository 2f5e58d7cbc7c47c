"""The outbox's delivery round (the notify job, every few seconds on the jobs' process):
due rows are sent per channel — a burst as one message, so ten fills in a second buzz
the phone once — and each row ends sent, or waits out a backoff, or fails with the
channel's words once retrying cannot help. A channel is called outside any transaction,
so a slow server never holds the database; the rows are read again by id to be marked.
"""

import logging
import random
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.domain.vocabulary import NotificationChannel, NotificationStatus, Tone
from app.extensions import db
from app.models import Notification, User
from app.services.notify.channels.base import Channel, DeliveryError, Message
from app.services.notify.settings import notify_settings

logger = logging.getLogger(__name__)

BATCH_LIMIT = 200  # rows looked at per round; the rest wait for the next
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_MAX = timedelta(minutes=30)
COALESCED_LINES = 20  # a burst's message lists this many and counts the rest
TONE_WEIGHT = {Tone.BAD: 3, Tone.WARNING: 2, Tone.GOOD: 1, Tone.INFO: 0}


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # channel -> its last error


def backoff(attempts: int, retry_after: float | None, rng: random.Random) -> timedelta:
    """Exponential with full jitter between half and the whole step, capped; the server's
    own retry_after (a 429) when it gave one."""
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 1.0))
    step = min(BACKOFF_BASE * (2 ** (attempts - 1)), BACKOFF_MAX)
    return step * rng.uniform(0.5, 1.0)


def coalesce(rows: list[Notification]) -> Message:
    """One row's message as it is; several as one summary, most serious tone first."""
    if len(rows) == 1:
        row = rows[0]
        return Message(
            row.event_type,
            row.title,
            row.text,
            row.occurred_at,
            row.tone,
            tuple(tuple(pair) for pair in row.fields or ()),
        )
    tone = max((row.tone for row in rows), key=lambda t: TONE_WEIGHT[t])
    lines = [f"• {row.title}" for row in rows[:COALESCED_LINES]]
    if len(rows) > COALESCED_LINES:
        lines.append(f"… and {len(rows) - COALESCED_LINES} more")
    return Message(
        "digest",
        f"{len(rows)} updates",
        "\n".join(lines),
        max(row.occurred_at for row in rows),
        tone,
    )


def deliver_due(
    now: datetime,
    channels: Mapping[NotificationChannel, Channel],
    rng: random.Random | None = None,
) -> DeliveryReport:
    rng = rng or random.Random()  # nosec B311 # retry jitter, not a secret
    report = DeliveryReport()
    due = list(
        db.session.scalars(
            select(Notification)
            .where(
                Notification.status == NotificationStatus.PENDING,
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.id)
            .limit(BATCH_LIMIT)
        )
    )
    user = db.session.scalar(select(User).order_by(User.id).limit(1))
    if not due or user is None:
        db.session.rollback()
        return report
    settings = notify_settings(user)
    by_channel: dict[NotificationChannel, list[Notification]] = defaultdict(list)
    for row in due:
        by_channel[NotificationChannel(row.channel)].append(row)
    work = [
        (channel, [row.id for row in rows], max(row.attempts for row in rows), coalesce(rows))
        for channel, rows in by_channel.items()
    ]
    db.session.rollback()  # end the read: nothing is held while channels talk

    for channel_name, ids, attempts, message in work:
        channel = channels.get(channel_name)
        try:
            if channel is None:
                raise DeliveryError(f"the {channel_name} channel is not available", permanent=True)
            why_not = channel.unready(settings)
            if why_not:
                raise DeliveryError(why_not, permanent=True)
            channel.send(message, settings)
        except DeliveryError as exc:
            _record_failure(channel_name, ids, attempts + 1, exc, now, rng, report)
        except Exception as exc:  # a channel's bug must not stop the others
            logger.exception("notify: %s channel failed", channel_name)
            _record_failure(
                channel_name, ids, attempts + 1, DeliveryError(str(exc)), now, rng, report
            )
        else:
            db.session.execute(
                update(Notification)
                .where(Notification.id.in_(ids))
                .values(
                    status=NotificationStatus.SENT,
                    sent_at=now,
                    attempts=Notification.attempts + 1,
                    last_error=None,
                )
            )
            report.sent += len(ids)
        db.session.commit()
    return report


def _record_failure(channel, ids, attempts, exc, now, rng, report) -> None:
    error = str(exc)[:1000]
    report.errors[channel.value] = error
    if exc.permanent or attempts >= MAX_ATTEMPTS:
        values = {"status": NotificationStatus.FAILED, "last_error": error}
        report.failed += len(ids)
        logger.warning("notify: %s gave up on %d notification(s): %s", channel, len(ids), error)
    else:
        values = {
            "next_attempt_at": now + backoff(attempts, exc.retry_after, rng),
            "last_error": error,
        }
        report.retrying += len(ids)
    db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(attempts=Notification.attempts + 1, **values)
    )
