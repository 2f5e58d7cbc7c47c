"""The monthly review notification (DESIGN §5.4 `monthly_review`): on the first of the
month, in the owner's time zone, at their `daily_summary_time` (09:00 when they set
none: the review is told even to an owner who wants no daily summary), the month just
ended goes to the outbox once.

Once: as for the daily summary, the outbox itself remembers — a `monthly_review` row
written since this month's due time means it was sent — so a restart sends nothing more,
and the scheduler's leader lock keeps a second process from running the job at all.
The month is CME trading days (domain/monthly_review), so where the owner's first of the
month begins before the last trading day has closed (east of UTC+7 at an early hour)
the review waits for that close, then goes.
"""

import logging
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.monthly_review import Month
from app.domain.vocabulary import NotificationEvent
from app.extensions import db
from app.models import Notification, User
from app.services.insight.monthly_review import monthly_review
from app.services.notify import outbox
from app.services.notify.render import Names, Rendered
from app.services.notify.render import monthly_review as rendered_review

logger = logging.getLogger(__name__)

DEFAULT_TIME = time(9)
LATE_LIMIT = timedelta(days=2)  # a server down on the 1st sends it late, not never


def due_at(now: datetime, user: User) -> tuple[Month, datetime]:
    """The month under review at `now` (the one before the owner's current month) and
    when its review is due."""
    zone = ZoneInfo(user.timezone)
    local = now.astimezone(zone)
    month = Month.of(local.date()).previous()
    first = local.date().replace(day=1)
    at = datetime.combine(first, user.daily_summary_time or DEFAULT_TIME, tzinfo=zone)
    return month, max(at, month.closes())


def send_if_due(now: datetime) -> list[Notification]:
    """Queue the last month's review when its time has come and it was not queued yet."""
    user = db.session.scalar(select(User).order_by(User.id).limit(1))
    if user is None:
        return []
    month, due = due_at(now, user)
    if not due <= now < due + LATE_LIMIT:
        return []
    already = select(Notification.id).where(
        Notification.event_type == NotificationEvent.MONTHLY_REVIEW.value,
        Notification.created_at >= due,
    )
    if db.session.scalar(already.limit(1)) is not None:
        return []
    db.session.rollback()  # the outbox writes in a session of its own

    def make(_names: Names) -> Rendered:
        """Built only when a channel can send: a desk without one reads no trades."""
        told = rendered_review(month, monthly_review(month), now)
        db.session.rollback()  # the review's reads end before the outbox's write
        return told

    with Session(db.engine, expire_on_commit=False) as session:
        rows = outbox.enqueue(session, outbox.wired_channels(), make, now)
        session.commit()
        return rows
