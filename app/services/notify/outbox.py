"""Bus events → outbox rows (DESIGN §4 "Notifications"): each event that is news is
rendered once and written as one `notifications` row per channel that can send and that
the owner's preferences want, due now or when the quiet hours end.

The outbox is the bus's durable subscriber: an event held for a commit (the ledger's
fills, positions and trades; halts; the kill switch) is written inside the transaction
that made the news, just before its commit, so a crash keeps both or neither (DESIGN §1
"a notification is an outbox row before it is delivered"). An event published directly,
outside any transaction, is written in a session of its own. Either way a failure here
is logged and never reaches a trade: rendering is pure, and the rows are only reads and
inserts of our own table. Nothing is written while no channel can send: a desk without
notifications pays one read of the owner per event, not a write.
"""

import logging
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from flask import Flask, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.domain.vocabulary import NotificationChannel, NotificationStatus
from app.extensions import db
from app.models import BrokerAccount, Notification, NotificationPrefs, Strategy, User
from app.services.notify import preferences
from app.services.notify.channels.base import Channel
from app.services.notify.render import RENDERED_EVENTS, Names, Rendered, channel_test, render
from app.services.notify.settings import notify_settings
from app.services.records import events

logger = logging.getLogger(__name__)

_wired: dict[str, object] = {}


def wire(app: Flask, channels: Mapping[NotificationChannel, Channel]) -> None:
    """Subscribe to every bus event for `app` (the latest app built in this process)."""
    _wired["app"] = weakref.ref(app)
    _wired["channels"] = channels
    events.subscribe_durable(on_event)


def on_event(session: Session | None, name: str, payload: dict) -> None:
    """Write the event's rows in `session` (the committing transaction), or in a session
    of its own when the event was published outside one."""
    if name not in RENDERED_EVENTS:
        return
    if has_app_context():
        _write(session, name, payload, datetime.now(UTC))
        return
    app_ref = _wired.get("app")
    app = app_ref() if app_ref else None
    if app is None:
        return
    with app.app_context():
        _write(session, name, payload, datetime.now(UTC))


def _write(session: Session | None, name: str, payload: dict, now: datetime) -> None:
    channels = wired_channels()

    def make(names: Names) -> Rendered | None:
        return render(name, payload, names, now)

    if session is not None:
        enqueue(session, channels, make, now)
        return
    with Session(db.engine) as own:
        enqueue(own, channels, make, now)
        own.commit()


def enqueue(session: Session, channels: Mapping[NotificationChannel, Channel], make, now):
    """Write the rows for one notification (`make(names)` renders it) in `session`; the
    rows written. The owner's settings decide which channels can send, their preferences
    which of those want it. What they say is read once per transaction: a fill, its
    position and its trade are told from one commit, inside the ledger's write."""
    context = _context(session, channels)
    if context is None:
        return []
    ready, names, prefs = context
    rendered: Rendered | None = make(names)
    if rendered is None:
        return []
    due = prefs.held_until(rendered.event_type, now) or now
    message = rendered.message
    rows = [
        Notification(
            channel=channel,
            event_type=rendered.event_type.value,
            title=message.title[:256],
            text=message.text,
            fields=[list(pair) for pair in message.fields],
            tone=message.tone,
            occurred_at=message.occurred_at,
            account_id=rendered.account_id,
            strategy_id=rendered.strategy_id,
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=due,
            created_at=now,
        )
        for channel in ready
        if prefs.wants(rendered, channel)
    ]
    session.add_all(rows)
    return rows


_CONTEXT = "deskpilot.outbox_context"


def _context(session: Session, channels: Mapping[NotificationChannel, Channel]):
    """(channels ready, names, preferences) for this transaction, or None when no channel
    can send; kept on the session until its transaction ends."""
    if _CONTEXT in session.info:
        return session.info[_CONTEXT]
    context = None
    user = session.scalar(select(User).order_by(User.id).limit(1))
    if user is not None:
        settings = notify_settings(user)
        ready = [name for name, ch in channels.items() if ch.unready(settings) is None]
        if ready:
            prefs_row = session.scalar(
                select(NotificationPrefs).where(NotificationPrefs.user_id == user.id)
            )
            context = (ready, _names(session), preferences.prefs_of(user, prefs_row))
    session.info[_CONTEXT] = context
    return context


@sa_event.listens_for(Session, "after_commit")
@sa_event.listens_for(Session, "after_rollback")
def _forget_context(session: Session) -> None:
    session.info.pop(_CONTEXT, None)


def _names(session: Session) -> Names:
    accounts = dict(session.execute(select(BrokerAccount.id, BrokerAccount.name)).all())
    strategies = dict(session.execute(select(Strategy.id, Strategy.name)).all())
    return Names(accounts, strategies)


def wired_channels() -> Mapping[NotificationChannel, Channel]:
    return _wired.get("channels") or {}


def queue_test(now: datetime) -> tuple[list[Notification], dict[str, str]]:
    """A test on every channel that can send, whatever the preferences and the hour (the
    trader is checking the channel, now); the rows, and why each other channel cannot."""
    channels = wired_channels()
    user = db.session.scalar(select(User).order_by(User.id).limit(1))
    settings = notify_settings(user)
    unready = {
        name.value: why
        for name, channel in channels.items()
        if (why := channel.unready(settings)) is not None
    }
    message = channel_test(now).message
    rows = [
        Notification(
            channel=name,
            event_type=message.event_type,
            title=message.title,
            text=message.text,
            fields=[],
            tone=message.tone,
            occurred_at=now,
            status=NotificationStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for name in channels
        if name.value not in unready
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows, unready


FAILURES_SHOWN_FOR = timedelta(hours=24)


def backlog(now: datetime) -> dict:
    """What the status header shows of the outbox: rows still to send, rows that failed for
    good in the last day, and the newest failure's words."""
    pending = db.session.scalar(
        select(func.count()).where(Notification.status == NotificationStatus.PENDING)
    )
    failed = select(Notification).where(
        Notification.status == NotificationStatus.FAILED,
        Notification.created_at >= now - FAILURES_SHOWN_FOR,
    )
    count = db.session.scalar(select(func.count()).select_from(failed.subquery()))
    newest = db.session.scalar(failed.order_by(Notification.id.desc()).limit(1))
    return {
        "pending": pending or 0,
        "failed_today": count or 0,
        "last_error": f"{newest.channel}: {newest.last_error}" if newest else None,
    }
