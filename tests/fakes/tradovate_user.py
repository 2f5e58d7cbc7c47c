"""The fake Tradovate's user-data WebSocket (`/v1/websocket` beside its REST API).

reference/tradovate.md §5, §5.1: the server opens with `o`, answers
`authorize\\n<id>\\n\\n<token>` with `a[{"i":id,"s":200}]` when the token is one the fake
REST server issued and has not expired or revoked (else `s:401`, `d:"Invalid access
token"`), answers `user/syncrequest` (`{"users": [userId], "entityTypes"?: [...]}`) with
the whole snapshot of the user's accounts, then pushes
`a[{"e":"props","d":{"entityType","eventType","entity"}}]` for every entity a REST call or
a test's move at the fake exchange created or changed (`Created` / `Updated`), only of
the requested types when `entityTypes` was given. `h` goes out every `heartbeat_interval`.

Tests drive it: `mute()` (nothing goes out: no heartbeat, no answer, no event — a
stale socket), `unmute()` (what changed meanwhile goes out then), `drop()`; and read
`received`, `sent(connection, endpoint)`, `syncs()`, `pushed` (every props event sent).
"""

import json
import threading
import time
from dataclasses import dataclass, field

import simple_websocket
from simple_websocket import ConnectionClosed

from tests.fakes.tradovate_md import Connection, Received

SNAPSHOT_KEYS = {
    "account": "accounts",
    "order": "orders",
    "orderVersion": "orderVersions",
    "fill": "fills",
    "command": "commands",
    "position": "positions",
    "cashBalance": "cashBalances",
}


@dataclass(eq=False)
class UserConnection(Connection):
    user: object | None = None  # the FakeUser its token belongs to
    synced: bool = False
    entity_types: tuple[str, ...] = tuple(SNAPSHOT_KEYS)
    shown: dict[tuple[str, int], str] = field(default_factory=dict)  # what it was told


class FakeUserSocket:
    """Served by a FakeTradovate, whose state (`entities_of(user)`) it streams."""

    def __init__(self, fake, *, heartbeat_interval: float = 2.5) -> None:
        self.fake = fake
        self.heartbeat_interval = heartbeat_interval
        self.muted = False
        self.received: list[Received] = []
        self.connections: list[UserConnection] = []
        self.pushed: list[dict] = []
        self._lock = threading.Lock()

    # Driving the client.

    def mute(self) -> None:
        self.muted = True

    def unmute(self) -> None:
        """Speak again; what changed meanwhile goes out now, late but not lost (TCP)."""
        self.muted = False
        with self.fake.lock:
            self.publish()

    def drop(self) -> None:
        """Cut every live connection at the TCP level, without a close frame."""
        for connection in self.live():
            with connection.lock:
                connection.dropped = True
                try:
                    connection.ws.sock.shutdown(2)
                except OSError:
                    pass

    # Reading what happened.

    def live(self) -> list[UserConnection]:
        with self._lock:
            return [c for c in self.connections if not c.dropped and c.ws.connected]

    def sent(self, connection: int | None = None, endpoint: str | None = None) -> list[Received]:
        with self._lock:
            found = list(self.received)
        return [
            r
            for r in found
            if (connection is None or r.connection == connection)
            and (endpoint is None or r.endpoint == endpoint)
        ]

    def syncs(self) -> list[Received]:
        return self.sent(endpoint="user/syncrequest")

    # Pushing changes (called by the fake with its lock held).

    def publish(self) -> None:
        """Tell every synced connection what changed since it was last told."""
        for connection in self.live():
            if not connection.synced or connection.user is None:
                continue
            for entity_type, entities in self.fake.entities_of(connection.user).items():
                if entity_type not in connection.entity_types:
                    continue
                for entity in entities:
                    self._push(connection, entity_type, entity)

    def _push(self, connection: UserConnection, entity_type: str, entity: dict) -> None:
        key = (entity_type, entity["id"])
        text = self.fake.to_json(entity)
        before = connection.shown.get(key)
        if before == text or self.muted:
            return
        connection.shown[key] = text
        event = {
            "entityType": entity_type,
            "eventType": "Created" if before is None else "Updated",
            "entity": json.loads(text),
        }
        self.pushed.append(event)
        connection.send("a" + json.dumps([{"e": "props", "d": event}]))

    # The server side.

    def serve(self, environ):
        ws = simple_websocket.Server.accept(environ)
        with self._lock:
            connection = UserConnection(len(self.connections) + 1, ws)
            self.connections.append(connection)
        try:
            self._serve(connection)
        finally:
            if ws.connected:
                try:
                    ws.close()
                except (ConnectionClosed, OSError):
                    pass
        # Werkzeug treats this as a dropped connection and writes no HTTP response.
        raise ConnectionError("websocket closed")

    def _serve(self, connection: UserConnection) -> None:
        connection.send("o")
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        while not connection.dropped and connection.ws.connected:
            if time.monotonic() >= next_heartbeat:
                if not self.muted:
                    connection.send("h")
                next_heartbeat = time.monotonic() + self.heartbeat_interval
            try:
                text = connection.ws.receive(timeout=0.01)
            except ConnectionClosed:
                return
            if text is None:
                continue
            if isinstance(text, bytes):
                text = text.decode()
            with self._lock:
                self.received.append(Received(connection.number, time.monotonic(), text))
            if text != "[]" and not self.muted:
                with self.fake.lock:
                    self._answer(connection, text)

    def _answer(self, connection: UserConnection, text: str) -> None:
        parts = text.split("\n", 3)
        if len(parts) != 4:
            connection.send('a[{"s":400,"i":null,"d":"Malformed request"}]')
            return
        endpoint, request_id, _query, body = parts
        status, detail = 200, None
        if endpoint == "authorize":
            connection.user = self.fake.user_of_token(body)
            connection.authorized = connection.user is not None
            if not connection.authorized:
                status, detail = 401, "Invalid access token"
        elif not connection.authorized:
            status, detail = 401, "Access is denied"
        elif endpoint == "user/syncrequest":
            status, detail = self._sync(connection, json.loads(body or "{}"))
        else:
            status, detail = 404, f"Unknown operation {endpoint}"
        answer: dict[str, object] = {"s": status, "i": int(request_id)}
        if detail is not None:
            answer["d"] = detail
        connection.send("a" + self.fake.to_json([answer]))

    def _sync(self, connection: UserConnection, body: dict) -> tuple[int, object]:
        user = connection.user
        if user.user_id not in body.get("users", []):
            return 403, "Access is denied"
        if body.get("entityTypes"):
            connection.entity_types = tuple(body["entityTypes"])
        snapshot: dict[str, object] = {"users": [{"id": user.user_id, "name": user.username}]}
        for entity_type, entities in self.fake.entities_of(user).items():
            snapshot[SNAPSHOT_KEYS[entity_type]] = entities
            for entity in entities:
                connection.shown[(entity_type, entity["id"])] = self.fake.to_json(entity)
        connection.synced = True
        return 200, json.loads(self.fake.to_json(snapshot))
