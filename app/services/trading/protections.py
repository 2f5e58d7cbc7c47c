"""The protections an entry can carry once placed: a trailing stop, break-even.

Trading places the entry; the advanced orders that then guard it belong to
services.protection, which sits above trading (it places and moves orders through
trading). So protection registers its attachers here when the app is built, and trading
calls them without importing the layer above.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from app.brokers.base import Broker
from app.domain.break_even import BreakEvenSpec
from app.domain.exits import TrailingSpec
from app.models import Order

logger = logging.getLogger(__name__)

TrailAttacher = Callable[[Broker, Order, TrailingSpec, datetime, BreakEvenSpec | None], list[Order]]
BreakEvenAttacher = Callable[[Broker, Sequence[Order], BreakEvenSpec, datetime], None]

_attach_trail: TrailAttacher | None = None
_attach_break_even: BreakEvenAttacher | None = None


def register_attachers(trail: TrailAttacher, break_even: BreakEvenAttacher) -> None:
    """Called once by create_app; the same functions for every app in the process."""
    global _attach_trail, _attach_break_even
    _attach_trail, _attach_break_even = trail, break_even


def trail_entry(
    broker: Broker,
    entry: Order,
    spec: TrailingSpec,
    now: datetime,
    break_even: BreakEvenSpec | None = None,
) -> list[Order]:
    """A trailing stop for the contracts `entry` filled (moved to break-even too, when
    asked); the stop's order rows."""
    if _attach_trail is None:
        raise RuntimeError("no trailing-stop attacher registered (create_app registers one)")
    return _attach_trail(broker, entry, spec, now, break_even)


def break_even_for_bracket(
    broker: Broker, rows: Sequence[Order], spec: BreakEvenSpec, now: datetime
) -> None:
    """Watch a filled bracket (entry, take profit, stop loss) to move its stop to break-even."""
    if _attach_break_even is None:
        raise RuntimeError("no break-even attacher registered (create_app registers one)")
    _attach_break_even(broker, rows, spec, now)
