"""The alert log as pages read it: recent webhook events with their orders."""

from dataclasses import dataclass

from sqlalchemy import delete, select

from app.extensions import db
from app.models import Order, Strategy, WebhookEvent

EVENTS_KEPT_PER_STRATEGY = 1000  # DESIGN §3


def prune_events(strategy_id: int, keep: int = EVENTS_KEPT_PER_STRATEGY) -> int:
    """Delete a strategy's alerts beyond the newest `keep`; their orders stay (unlinked)."""
    cutoff = db.session.scalar(
        select(WebhookEvent.id)
        .where(WebhookEvent.strategy_id == strategy_id)
        .order_by(WebhookEvent.id.desc())
        .offset(keep)
        .limit(1)
    )
    if cutoff is None:
        return 0
    result = db.session.execute(
        delete(WebhookEvent).where(
            WebhookEvent.strategy_id == strategy_id, WebhookEvent.id <= cutoff
        )
    )
    db.session.commit()
    return result.rowcount


@dataclass(frozen=True)
class LoggedAlert:
    event: WebhookEvent
    strategy_name: str
    orders: list[Order]


def recent_alerts(
    strategy_id: int | None = None, status: str | None = None, limit: int = 100
) -> list[LoggedAlert]:
    query = (
        select(WebhookEvent, Strategy.name)
        .join(Strategy, WebhookEvent.strategy_id == Strategy.id)
        .order_by(WebhookEvent.id.desc())
        .limit(limit)
    )
    if strategy_id is not None:
        query = query.where(WebhookEvent.strategy_id == strategy_id)
    if status:
        query = query.where(WebhookEvent.status == status)
    rows = db.session.execute(query).all()
    ids = [event.id for event, _ in rows]
    orders: dict[int, list[Order]] = {event_id: [] for event_id in ids}
    if ids:
        for order in db.session.scalars(
            select(Order).where(Order.webhook_event_id.in_(ids)).order_by(Order.id)
        ):
            orders[order.webhook_event_id].append(order)
    return [LoggedAlert(event, name, orders[event.id]) for event, name in rows]
