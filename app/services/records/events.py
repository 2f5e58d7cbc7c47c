"""Domain events: services publish after commit; the pusher, notifier and others subscribe.

In-process: the live pusher carries them to every process's browsers. A subscriber's
failure is logged and never reaches the publisher, so a broken notification can never
break a trade (STYLE habit 8).

`publish_after_commit` holds an event until the transaction that wrote its rows commits
(and drops it on a rollback), so nobody hears of a change that was not kept, and hears of
every one that was exactly once — whoever commits.

A durable subscriber (the notification outbox) must not lose an event to a crash between
the commit and the publication, so it is called inside the transaction instead, just
before its commit, with the session: what it writes there is kept with the rows the
event describes, or not at all. An event published directly (no transaction) reaches it
with no session, and it keeps its own rows.
"""

import logging
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

Handler = Callable[[str, dict], None]
DurableHandler = Callable[[Session | None, str, dict], None]

_subscribers: dict[str, list[Handler]] = defaultdict(list)
_durable: list[DurableHandler] = []
_PENDING = "deskpilot.pending_events"
_RECORDED = "deskpilot.events_recorded"


def subscribe(event: str, handler: Handler) -> None:
    """Call `handler(event, payload)` on every `event`; "*" receives every event."""
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def unsubscribe(event: str, handler: Handler) -> None:
    if handler in _subscribers[event]:
        _subscribers[event].remove(handler)


def subscribe_durable(handler: DurableHandler) -> None:
    """Call `handler(session, event, payload)` on every event: inside the transaction that
    wrote it (before its commit), or with no session for an event published directly."""
    if handler not in _durable:
        _durable.append(handler)


def unsubscribe_durable(handler: DurableHandler) -> None:
    if handler in _durable:
        _durable.remove(handler)


def publish(event: str, payload: dict) -> None:
    _call_subscribers(event, payload)
    _call_durable(None, event, payload)


def _call_subscribers(event: str, payload: dict) -> None:
    for handler in [*_subscribers[event], *_subscribers["*"]]:
        try:
            handler(event, payload)
        except Exception:
            logger.exception("subscriber %r failed on %s", handler, event)


def _call_durable(session: Session | None, event: str, payload: dict) -> None:
    for handler in list(_durable):
        try:
            handler(session, event, payload)
        except Exception:
            logger.exception("durable subscriber %r failed on %s", handler, event)


def publish_after_commit(session: Session, name: str, payload: dict | Callable[[], dict]) -> None:
    """Publish `payload` as `name` after the session's next commit; a callable payload is
    built then, once the rows it describes have their ids."""
    session.info.setdefault(_PENDING, []).append((name, payload))


@event.listens_for(Session, "before_commit")
def _record_durably(session: Session) -> None:
    """Hand the held events to the durable subscribers inside the transaction. The flush
    first gives new rows their ids, so a callable payload is built now, once, and the
    same payload is published after the commit."""
    pending = session.info.get(_PENDING)
    recorded = session.info.get(_RECORDED, 0)  # a savepoint's commit handed some over
    if not pending or len(pending) == recorded or not _durable:
        return
    session.flush()
    built = [(name, _built(name, payload)) for name, payload in pending]
    session.info[_PENDING] = built
    session.info[_RECORDED] = len(built)
    for name, payload in built[recorded:]:
        if payload is not None:
            _call_durable(session, name, payload)


def _built(name: str, payload: dict | Callable[[], dict]) -> dict | None:
    """The payload, built if it is a callable. A builder that fails is logged and its event
    dropped: news must never undo, or fail, the commit of what it describes."""
    if not callable(payload):
        return payload
    try:
        return payload()
    except Exception:
        logger.exception("building the %s event failed; it is not published", name)
        return None


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    recorded = session.info.pop(_RECORDED, 0)
    for index, (name, payload) in enumerate(session.info.pop(_PENDING, [])):
        payload = _built(name, payload)
        if payload is None:
            continue
        _call_subscribers(name, payload)
        if index >= recorded:
            _call_durable(None, name, payload)


@event.listens_for(Session, "after_rollback")
def _drop_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_RECORDED, None)
