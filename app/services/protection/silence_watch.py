"""The silence watchdog: what should be heard and is not becomes an event (`alert_silence`).

- **Alerts.** A strategy with `expect_alert_every_minutes` expects an alert at least that
  often while the market of the contract it trades is open (its CME session: not in the
  daily break, a weekend or a holiday). The silence is counted from the later of its last
  alert and the session's open, so a Monday morning is not a silence since Friday. It is
  told once per silence (`strategies.silence_reported_at`); the next alert or session
  starts a new one. A TradingView alert that expired or a chart that stopped is what this
  catches.
- **Market data.** A symbol DeskPilot holds a position in whose last quote is older than
  MARKET_DATA_QUIET_SECONDS while its session is open: the trailing stops and rules that
  live on prices are blind. Told once until a quote arrives again (kept per process: a
  restart tells a still-quiet feed again, which is what the trader wants after a restart).
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.domain.vocabulary import AuditCategory, Severity
from app.extensions import db
from app.models import Strategy, Trader, WebhookEvent
from app.services.market import sessions
from app.services.market.data_age import data_age
from app.services.records import audit, events

logger = logging.getLogger(__name__)

EVENT = "alert_silence"
_QUIET_FEEDS = "deskpilot.quiet_feeds"


def watch(now: datetime) -> list[str]:
    """Tell the silences begun since the last look; the failures, in words."""
    failures = []
    for check in (_watch_alerts, _watch_market_data):
        try:
            check(now)
        except Exception as exc:  # a watchdog must never stop the monitor
            db.session.rollback()
            logger.exception("silence watchdog: %s failed", check.__name__)
            failures.append(f"silence watchdog: {exc}")
    return failures


def _watch_alerts(now: datetime) -> None:
    last_alert = (
        select(WebhookEvent.strategy_id, func.max(WebhookEvent.received_at).label("at"))
        .group_by(WebhookEvent.strategy_id)
        .subquery()
    )
    trading = select(Trader.strategy_id).where(Trader.enabled.is_(True))
    rows = db.session.execute(
        select(Strategy, last_alert.c.at)
        .outerjoin(last_alert, last_alert.c.strategy_id == Strategy.id)
        .where(
            Strategy.enabled.is_(True),
            Strategy.expect_alert_every_minutes.is_not(None),
            Strategy.id.in_(trading),
        )
        .order_by(Strategy.id)
    ).all()
    for strategy, last_at in rows:
        symbol = strategy.trade_symbol or strategy.symbol or "ES1!"
        session = sessions.session_at(sessions.calendar_for(symbol, now.date()), now)
        if session is None:
            continue
        since = max(filter(None, (last_at, session.opens)))
        reported = strategy.silence_reported_at
        if reported is not None and reported >= since:
            continue  # this silence was told
        limit = timedelta(minutes=strategy.expect_alert_every_minutes)
        if now - since < limit:
            continue
        strategy.silence_reported_at = now
        minutes = int((now - since).total_seconds() // 60)
        heard = (
            f"the last alert was {minutes} min ago"
            if last_at and last_at >= session.opens
            else (f"none since the session opened {minutes} min ago")
        )
        message = (
            f"strategy {strategy.name!r} expects an alert every "
            f"{strategy.expect_alert_every_minutes} min; {heard}"
        )
        audit.record(
            AuditCategory.SIGNAL, message, severity=Severity.WARNING, strategy_id=strategy.id
        )
        db.session.commit()
        events.publish(
            EVENT,
            {
                "kind": "alerts",
                "strategy_id": strategy.id,
                "strategy": strategy.name,
                "last_alert_at": last_at.isoformat() if last_at else None,
                "silent_minutes": minutes,
                "message": message,
            },
        )


def _watch_market_data(now: datetime) -> None:
    quiet_after = timedelta(seconds=current_app.config["MARKET_DATA_QUIET_SECONDS"])
    told: set[str] = current_app.extensions.setdefault(_QUIET_FEEDS, set())
    market = data_age(now, quiet_after)
    told.intersection_update(market.quiet)  # heard again or closed: a later silence is new
    for symbol in market.quiet:
        if symbol in told:
            continue
        told.add(symbol)
        age = market.ages[symbol]
        message = (
            f"market data for {symbol} has been quiet for {age} s"
            if age is not None
            else f"no market data for {symbol} since DeskPilot started"
        ) + "; trailing stops and price rules on it are not moving"
        audit.record(AuditCategory.SYSTEM, message, severity=Severity.WARNING)
        db.session.commit()
        events.publish(
            EVENT,
            {"kind": "market_data", "symbol": symbol, "quiet_seconds": age, "message": message},
        )
