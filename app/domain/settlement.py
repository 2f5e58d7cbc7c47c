"""The final status of an alert whose handling a crash cut short, from what its orders became.

An alert is stored `received` before anything is sent and concluded after its orders; a
process killed in between leaves it undecided. Once its orders are reconciled with the
broker, each is in a final or broker-held state, or could not be checked (None), and that
alone decides the alert: nothing is sent again for an alert that old.
"""

import logging
from collections.abc import Sequence

from app.domain.vocabulary import EventStatus, OrderStatus

logger = logging.getLogger(__name__)

# States only an order the broker received can be in, once reconciled: held (a bracket's
# exit waiting for its entry), working, filled, or cancelled after it was working.
AT_BROKER = frozenset(
    {OrderStatus.PENDING, OrderStatus.WORKING, OrderStatus.FILLED, OrderStatus.CANCELLED}
)


def settled_status(orders: Sequence[OrderStatus | None]) -> EventStatus:
    """executed when the broker took every order, partially_executed when only some,
    failed when none (refused, never sent, or unknown), and expired when the alert had no
    order yet: it stopped before acting and is too old to act on now."""
    if not orders:
        return EventStatus.EXPIRED
    taken = sum(1 for state in orders if state in AT_BROKER)
    if taken == len(orders):
        return EventStatus.EXECUTED
    return EventStatus.PARTIALLY_EXECUTED if taken else EventStatus.FAILED
