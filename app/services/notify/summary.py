"""The daily summary (DESIGN §5.4 `daily_summary`): at the owner's `daily_summary_time`,
in their time zone, the trading day so far — trades, win rate, net P&L, and the same per
strategy — goes to the outbox once per day. Once: the outbox itself remembers, so a
restart or a second look within the day sends nothing more."""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.domain.trading_day import trading_day_start
from app.domain.vocabulary import NotificationEvent
from app.extensions import db
from app.models import Notification, Trade, User
from app.services.notify import outbox
from app.services.notify.render import daily_summary

logger = logging.getLogger(__name__)

LATE_LIMIT = timedelta(hours=6)  # a server down at the time sends it late, not the next day


def send_if_due(now: datetime) -> list[Notification]:
    """Queue today's summary when its time has come and it was not queued yet today."""
    user = db.session.scalar(select(User).order_by(User.id).limit(1))
    if user is None or user.daily_summary_time is None:
        return []
    zone = ZoneInfo(user.timezone)
    local = now.astimezone(zone)
    due_at = datetime.combine(local.date(), user.daily_summary_time, tzinfo=zone)
    if not due_at <= local < due_at + LATE_LIMIT:
        return []
    already = select(Notification.id).where(
        Notification.event_type == NotificationEvent.DAILY_SUMMARY.value,
        Notification.created_at >= due_at,
    )
    if db.session.scalar(already.limit(1)) is not None:
        return []
    day_start = trading_day_start(now)
    trades = db.session.execute(
        select(Trade.strategy_id, Trade.pnl).where(Trade.exit_time >= day_start)
    ).all()
    db.session.rollback()  # the outbox writes in a session of its own
    with Session(db.engine, expire_on_commit=False) as session:
        rows = outbox.enqueue(
            session,
            outbox.wired_channels(),
            lambda names: daily_summary(list(trades), names, now),
            now,
        )
        session.commit()
        return rows
