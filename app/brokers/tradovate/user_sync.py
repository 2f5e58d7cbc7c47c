"""Tradovate's user-data socket: what changed on a login's accounts, told as it happens.

Protocol (reference/tradovate.md §5, §5.1; the framing is stream.py's). The socket lives
beside the REST base (`https://demo.tradovateapi.com/v1` → `wss://…/v1/websocket`, §1)
and authorizes with the REST access token. After authorizing it sends
`user/syncrequest` with `{"users": [userId]}` (and `entityTypes`, which newer docs
require: §5.1 [U]); the answer is the full snapshot, and `props` events
`{"entityType", "eventType", "entity"}` follow for every change.

Why only marks and not a mirror of the entities: the position poller's reconcile stays
the one path from the broker's truth to our rows (REST reads → ledger), and an echo that
lags behind a REST answer can never make it take an order we just placed for a cancelled
one. The socket only says *when* reading is worth it: `mark(account_id)` is a value that
moves with every relevant event of that account (and with every new sync, since events
may have been missed while the socket was down), and is None while the socket is down,
not yet synced, or stale (no frame — data or heartbeat — for `stale_after` seconds). The
poller skips its REST reads while the mark stands still.

Relevant are orders, fills, positions and cash balances: what reconcile mirrors. An order
version (a modification) alone is not: the modifier already handed its answer to the
ledger, and the periodic full read catches one made on Tradovate's own site. A fill or
an order event whose account cannot be told (its order not seen yet) moves every
account's mark.

One client per login (server and credentials), process-wide (`client_for`), started by
the first account that asks; the token is asked for anew on every connection, so a
renewed token is the one that re-authorizes after a drop, and one Tradovate refuses on
authorize is dropped from the REST session (`on_refused_token`), so the next connection
logs in again.
"""

import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, has_app_context

from app.brokers.tradovate.stream import (
    Lost,
    Outgoing,
    SocketClient,
    TokenProvider,
)

logger = logging.getLogger(__name__)

STALE_SECONDS = 7.5  # three heartbeats missed (the server sends one about every 2.5 s)
ENTITY_TYPES = ("order", "fill", "position", "cashBalance")
SYNC = "user/syncrequest"

UserIdProvider = Callable[[], int | None]
TokenRefused = Callable[[str], None]


def user_url(api_url: str) -> str:
    """The user-data socket beside a REST base (reference §1): same host, `/websocket`."""
    parts = urlsplit(api_url.rstrip("/"))
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, parts.path + "/websocket", "", ""))


class UserSyncClient(SocketClient):
    """One login's user-data socket, kept alive in a daemon thread, counting changes."""

    label = "user sync"
    thread_name = "tradovate-user"

    def __init__(
        self,
        url: str,
        token_provider: TokenProvider,
        user_id_provider: UserIdProvider,
        *,
        on_refused_token: TokenRefused | None = None,
        stale_after: float = STALE_SECONDS,
        **session: Any,
    ) -> None:
        super().__init__(url, token_provider, **session)  # SocketClient's timing
        self.stale_after = stale_after
        self._user_id_provider = user_id_provider
        self._refused = on_refused_token
        self._sync_sent = False
        self._synced = False  # this session's syncrequest was answered
        self._syncs = 0
        self._events = 0
        self._changes: Counter[int] = Counter()  # by Tradovate account id
        self._unplaced = 0  # changes no account could be named for: every mark moves
        self._order_accounts: dict[int, int] = {}

    # Public API.

    def mark(self, account_id: int) -> tuple[int, int, int] | None:
        """Moves whenever the account may have changed; None while the socket cannot vouch."""
        with self._lock:
            if not self._fresh():
                return None
            return (self._syncs, self._unplaced, self._changes[int(account_id)])

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                **self.connection_status(),
                "synced": self._synced,
                "fresh": self._fresh(),
                "syncs": self._syncs,
                "events": self._events,
            }

    # The socket's hooks.

    def _requests(self) -> list[Outgoing]:
        with self._lock:
            if self._sync_sent:
                return []
            self._sync_sent = True
        try:
            user_id = self._user_id_provider()
        except Exception as exc:  # the REST login's own failure: try again after a backoff
            raise Lost(f"no userId to sync ({type(exc).__name__}: {exc})") from exc
        if user_id is None:
            raise Lost("Tradovate's login answer named no userId to sync")
        return [(SYNC, {"users": [int(user_id)], "entityTypes": list(ENTITY_TYPES)}, None)]

    def _on_answer(self, endpoint: str, tag: object, status: int, detail: object) -> None:
        if endpoint != SYNC:
            return
        if not 200 <= status < 300 or not isinstance(detail, dict):
            words = detail if isinstance(detail, str) else "no snapshot"
            raise Lost(f"{SYNC} refused: {status} {words}")
        orders = detail.get("orders")
        with self._lock:
            for order in orders if isinstance(orders, list) else []:
                self._note_order(order)
            self._synced = True
            self._syncs += 1
        logger.info("user sync: synced (%d orders in the snapshot)", len(self._order_accounts))

    def _on_event(self, name: object, data: object) -> None:
        if name != "props":
            return
        for change in data if isinstance(data, list) else [data]:
            if isinstance(change, dict) and change.get("entityType") in ENTITY_TYPES:
                entities = change.get("entity")
                for entity in entities if isinstance(entities, list) else [entities]:
                    if isinstance(entity, dict):
                        self._count(str(change["entityType"]), entity)

    def _on_refused_token(self, token: str) -> None:
        if self._refused is not None:
            self._refused(token)

    def _on_disconnect(self) -> None:
        self._sync_sent = self._synced = False

    # Helpers (the lock is held where state is touched).

    def _count(self, entity_type: str, entity: dict) -> None:
        with self._lock:
            self._events += 1
            if entity_type == "order":
                self._note_order(entity)
            account_id = entity.get("accountId")
            if account_id is None:  # a fill names its order only
                account_id = self._order_accounts.get(_int(entity.get("orderId")) or -1)
            if isinstance(account_id, int):
                self._changes[account_id] += 1
            else:
                self._unplaced += 1

    def _note_order(self, order: object) -> None:
        if isinstance(order, dict):
            order_id, account_id = _int(order.get("id")), _int(order.get("accountId"))
            if order_id is not None and account_id is not None:
                self._order_accounts[order_id] = account_id

    def _fresh(self) -> bool:
        return (
            self._authorized
            and self._synced
            and self._last_frame is not None
            and self._clock() - self._last_frame < self.stale_after
        )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# The process-wide clients, one per login.

_registry_lock = threading.Lock()
_clients: dict[str, UserSyncClient] = {}


def enabled() -> bool:
    """TRADOVATE_USER_SYNC: stream account changes (on by default); off polls every tick."""
    return bool(current_app.config.get("TRADOVATE_USER_SYNC", True)) if has_app_context() else False


def client_for(
    key: str,
    url: str,
    *,
    token_provider: TokenProvider,
    user_id_provider: UserIdProvider,
    on_refused_token: TokenRefused | None = None,
) -> UserSyncClient:
    """The running client of the login `key` (started on first ask)."""
    with _registry_lock:
        client = _clients.get(key)
        if client is None:
            config = current_app.config if has_app_context() else {}
            client = _clients[key] = UserSyncClient(
                url,
                token_provider,
                user_id_provider,
                on_refused_token=on_refused_token,
                stale_after=float(config.get("TRADOVATE_SYNC_STALE_SECONDS", STALE_SECONDS)),
            )
            client.start()
        return client


def clients() -> list[UserSyncClient]:
    with _registry_lock:
        return list(_clients.values())


def shutdown() -> None:
    """Stop every client (app teardown, tests)."""
    with _registry_lock:
        running = list(_clients.values())
        _clients.clear()
    for client in running:
        client.stop()
