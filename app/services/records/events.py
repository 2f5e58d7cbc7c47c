"""Domain events: services publish after commit; the pusher, notifier and others subscribe.

In-process for now. A subscriber's failure is logged and never reaches the publisher, so
a broken notification can never break a trade (STYLE habit 8).
"""

import logging
from collections import defaultdict
from collections.abc import Callable

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str, handler: Handler) -> None:
    """Call `handler(event, payload)` on every `event`; "*" receives every event."""
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def unsubscribe(event: str, handler: Handler) -> None:
    if handler in _subscribers[event]:
        _subscribers[event].remove(handler)


def publish(event: str, payload: dict) -> None:
    for handler in [*_subscribers[event], *_subscribers["*"]]:
        try:
            handler(event, payload)
        except Exception:
            logger.exception("subscriber %r failed on %s", handler, event)
