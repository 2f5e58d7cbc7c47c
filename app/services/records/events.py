"""Domain events: services publish after commit; the pusher, notifier and others subscribe.

In-process: the live pusher carries them to every process's browsers. A subscriber's
failure is logged and never reaches the publisher, so a broken notification can never
break a trade (STYLE habit 8).

`publish_after_commit` holds an event until the transaction that wrote its rows commits
(and drops it on a rollback), so nobody hears of a change that was not kept, and hears of
every one that was exactly once — whoever commits.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_PENDING = "deskpilot.pending_events"


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


def publish_after_commit(session: Session, name: str, payload: dict | Callable[[], dict]) -> None:
    """Publish `payload` as `name` after the session's next commit; a callable payload is
    built then, once the rows it describes have their ids."""
    session.info.setdefault(_PENDING, []).append((name, payload))


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    for name, payload in session.info.pop(_PENDING, []):
        publish(name, payload() if callable(payload) else payload)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
