"""The Socket.IO entry point: only the logged-in owner's session connects, and a client
hears a snapshot (`status`, then one `pnl` per enabled account) before the deltas."""

import logging
from datetime import UTC, datetime

from flask import current_app
from flask_login import current_user
from flask_socketio import SocketIO, emit, join_room

from app.services.live import OWNER_ROOM, pusher
from app.workers.live_status import status_of
from app.workers.scheduler import is_leader

logger = logging.getLogger(__name__)


def register(socketio: SocketIO) -> None:
    """Bind the handlers to the server `socketio.init_app` just made (one per app)."""
    socketio.on_event("connect", connect)


def connect(_auth=None) -> None:
    """Refuse anyone but the owner's session; the snapshot goes to this client alone, and
    only then does it join the room the deltas go to."""
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("unauthorized")
    app = current_app._get_current_object()
    emit("status", status_of(app, leader=is_leader(app)))
    for payload in pusher.snapshot(datetime.now(UTC)):
        emit("pnl", payload)
    join_room(OWNER_ROOM)
