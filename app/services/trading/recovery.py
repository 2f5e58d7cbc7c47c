"""Alerts a crash left `received`, settled so that none stays undecided.

An alert is stored `received` before anything is sent and concluded once its orders are
answered (execution.py); a process killed in between leaves it `received` for good, and a
resend answers `duplicate`, so the alert would be silently swallowed. Settling one: each of
its orders still `pending` is looked up at the broker by our client order id — found, the
broker's state is recorded; not found, it never left DeskPilot and is marked failed — then
the alert is concluded from what its orders became (domain.settlement), with a reason that
says so, and audited. Nothing is sent again: an alert that late is not acted on anew.
"""

import logging
from datetime import datetime

from sqlalchemy import select

from app.brokers.errors import BrokerError
from app.domain.settlement import settled_status
from app.domain.vocabulary import AuditCategory, EventStatus, OrderStatus, Severity
from app.extensions import db
from app.models import Order, WebhookEvent
from app.models.base import utcnow
from app.services.ledger import reports
from app.services.records import audit, events
from app.services.setup.access import broker_for
from app.services.trading.locks import account_lock

logger = logging.getLogger(__name__)

STOPPED = "DeskPilot stopped while handling this alert; settled at restart: "
NEVER_SENT = "never reached the broker (DeskPilot stopped before sending it)"
NO_ORDER = "no order had been placed, and an alert this late is not acted on"


def settle_stranded_alerts(before: datetime) -> list[WebhookEvent]:
    """Settle every alert still `received` that arrived before `before`; returns them."""
    stranded = db.session.scalars(
        select(WebhookEvent)
        .where(
            WebhookEvent.status == EventStatus.RECEIVED.value,
            WebhookEvent.received_at < before,
        )
        .order_by(WebhookEvent.id)
    ).all()
    for event in stranded:
        _settle(event)
    return list(stranded)


def _settle(event: WebhookEvent) -> None:
    rows = db.session.scalars(
        select(Order).where(Order.webhook_event_id == event.id).order_by(Order.id)
    ).all()
    settled = [_reconcile(row) for row in rows]
    status = settled_status([state for state, _ in settled])
    event.status = status.value
    event.reason = (STOPPED + ("; ".join(note for _, note in settled) or NO_ORDER))[:2000]
    event.processed_at = utcnow()
    audit.record(
        AuditCategory.SIGNAL,
        f"alert {event.id} was left undecided by a stop; settled {status.value}",
        severity=Severity.WARNING,
        strategy_id=event.strategy_id,
        data={"event_id": event.id, "reason": event.reason},
        actor="system",
    )
    # Told in the settling commit (the outbox writes its rows inside it): published after
    # it, a second crash in between would settle the alert and never tell it.
    summary = {"id": event.id, "strategy_id": event.strategy_id, "status": event.status}
    events.publish_after_commit(db.session(), "signal", {**summary, "reason": event.reason})
    db.session.commit()
    logger.warning("alert %s settled %s: %s", event.id, status.value, event.reason)


def _reconcile(row: Order) -> tuple[OrderStatus | None, str]:
    """The order's state once the broker was asked about it (None: it could not be), and a
    note for the alert's reason."""
    label = f"order {row.id} ({row.role} {row.side} {row.quantity} {row.symbol})"
    if row.status != OrderStatus.PENDING.value:
        return OrderStatus(row.status), f"{label} {row.status}"
    with account_lock(row.account_id):
        try:
            found = broker_for(row.account).find_order(row.client_order_id)
        except BrokerError as exc:
            note = f"{label} could not be checked at the broker ({exc.message}); look there"
            return None, note
        if found is None:
            reports.mark_refused([row], OrderStatus.FAILED, NEVER_SENT)
            return OrderStatus.FAILED, f"{label} {NEVER_SENT}"
        reports.record_answers([row], [found])
    return OrderStatus(row.status), f"{label} {row.status} at the broker"
