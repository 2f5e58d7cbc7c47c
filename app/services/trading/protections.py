"""The protections an entry can carry once placed: a trailing stop today.

Trading places the entry; the advanced order that then guards it belongs to
services.protection, which sits above trading (it places and moves orders through
trading). So protection registers its attacher here when the app is built, and trading
calls it without importing the layer above.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from app.brokers.base import Broker
from app.domain.exits import TrailingSpec
from app.models import Order

logger = logging.getLogger(__name__)

TrailAttacher = Callable[[Broker, Order, TrailingSpec, datetime], list[Order]]

_attach_trail: TrailAttacher | None = None


def register_trail_attacher(attacher: TrailAttacher) -> None:
    """Called once by create_app; the same function for every app in the process."""
    global _attach_trail
    _attach_trail = attacher


def trail_entry(broker: Broker, entry: Order, spec: TrailingSpec, now: datetime) -> list[Order]:
    """A trailing stop for the contracts `entry` filled; the stop's order rows."""
    if _attach_trail is None:
        raise RuntimeError("no trailing-stop attacher registered (create_app registers one)")
    return _attach_trail(broker, entry, spec, now)
