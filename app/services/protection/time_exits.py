"""Time exits, each monitor tick: a strategy's entry left unfilled past its timeout is
cancelled, and a position held past the strategy's `exit_after_minutes` is closed.

The entry's deadline is on its row (`orders.cancel_after`, set when it was placed), and
Tradovate holds it too as a good-till time, so the exchange cancels the order even while
DeskPilot is down; this pass is what cancels it at the paper venue, and the backstop at
Tradovate. A position's clock starts when it opened (`positions.opened_at`), whatever was
added to it since. A close the broker refused is not sent again for a minute, so a
market that refuses (closed, halted) is not hammered every tick.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from app.brokers.errors import BrokerError
from app.domain.vocabulary import (
    AuditCategory,
    ExitReason,
    OrderRole,
    OrderStatus,
    Severity,
)
from app.extensions import db
from app.models import Order, Position, Strategy
from app.services.records import audit
from app.services.setup.access import broker_for
from app.services.setup.accounts import get_account
from app.services.trading import orders
from app.services.trading.closing import close_at_market
from app.services.trading.locks import AccountBusy, account_lock
from app.services.trading.orders import Attribution

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=1)
LOCK_WAIT_SECONDS = 2  # an order in flight on the account: try again next tick


def act(now: datetime) -> list[str]:
    """Cancel overdue entries and close overdue positions; the failures, in words."""
    failures = [*_cancel_overdue_entries(now), *_close_overdue_positions(now)]
    for failure in failures:
        logger.warning("time exits: %s", failure)
    return failures


def _cancel_overdue_entries(now: datetime) -> list[str]:
    overdue = list(
        db.session.scalars(
            select(Order)
            .where(
                Order.cancel_after <= now,
                Order.status == OrderStatus.WORKING,
                Order.role == OrderRole.ENTRY,
            )
            .order_by(Order.account_id, Order.id)
        )
    )
    failures = []
    for row in overdue:
        waited = int((row.cancel_after - row.created_at).total_seconds())
        reason = f"not filled within {waited} s: cancelled (the strategy's entry timeout)"
        try:
            with account_lock(row.account_id, timeout=LOCK_WAIT_SECONDS):
                db.session.refresh(row)
                if row.status != OrderStatus.WORKING:
                    continue  # it filled or ended meanwhile
                orders.cancel(broker_for(get_account(row.account_id)), row, reason)
                if row.status == OrderStatus.CANCELLED:  # say why, over the venue's words
                    row.reason = reason
                    db.session.commit()
        except (AccountBusy, BrokerError) as exc:
            db.session.rollback()
            failures.append(f"order {row.id} ({row.symbol}) not cancelled yet: {exc}")
    return failures


def _close_overdue_positions(now: datetime) -> list[str]:
    rows = db.session.execute(
        select(Position, Strategy.exit_after_minutes)
        .join(Strategy, Strategy.id == Position.strategy_id)
        .where(
            Position.quantity != 0,
            Position.opened_at.is_not(None),
            Strategy.exit_after_minutes.is_not(None),
        )
        .order_by(Position.id)
    ).all()
    failures = []
    for position, minutes in rows:
        if position.opened_at + timedelta(minutes=minutes) > now:
            continue
        if _tried_lately(position, now):
            continue
        # read before closing: the close's fill flattens the row (opened_at goes)
        account_id, strategy_id = position.account_id, position.strategy_id
        symbol, opened_at = position.symbol, position.opened_at
        try:
            closed = close_at_market(
                get_account(account_id),
                symbol,
                OrderRole.EXIT,
                Attribution(strategy_id),
                now,
                ExitReason.TIME_EXIT,
                lock_timeout=LOCK_WAIT_SECONDS,
            )
        except (AccountBusy, BrokerError) as exc:
            db.session.rollback()
            failures.append(f"{symbol} not closed after {minutes} min yet: {exc}")
            continue
        if closed.order is None:
            continue  # flat at the broker already; the poller will say so
        refused = closed.order.status in (OrderStatus.REJECTED, OrderStatus.FAILED)
        audit.record(
            AuditCategory.ORDER,
            f"{symbol} {closed.held:+d} held {minutes} min: closing at the market "
            f"(the strategy's time exit): order {closed.order.status}"
            + (f": {closed.order.reason}" if refused else ""),
            severity=Severity.WARNING if refused else Severity.INFO,
            account_id=account_id,
            strategy_id=strategy_id,
            data={"order_id": closed.order.id, "opened_at": opened_at.isoformat()},
        )
        db.session.commit()
        if refused:
            failures.append(f"{symbol} time exit refused: {closed.order.reason}")
    return failures


def _tried_lately(position: Position, now: datetime) -> bool:
    """A time exit of this position is working, or was refused less than a minute ago."""
    latest = db.session.scalar(
        select(Order)
        .where(
            Order.account_id == position.account_id,
            Order.symbol == position.symbol,
            Order.exit_reason == ExitReason.TIME_EXIT,
            Order.created_at >= position.opened_at,
        )
        .order_by(Order.id.desc())
        .limit(1)
    )
    if latest is None:
        return False
    if latest.status in orders.OPEN_STATUSES:
        return True
    refused = latest.status in (OrderStatus.REJECTED, OrderStatus.FAILED)
    return refused and latest.created_at > now - RETRY_AFTER
