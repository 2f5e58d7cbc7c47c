"""Logging out reaches the open pages: a signed-cookie session cannot be recalled, and a
Socket.IO connection outlives the cookie it was opened with."""

from app.extensions import socketio
from app.services.live import OWNER_ROOM


def end_owner_sessions() -> None:
    """Tell every open page of the owner that its session ended (they go to the login page),
    then drop every connection from the owner's room, so a page that does not leave hears
    no more. With REDIS_URL both reach every process."""
    socketio.emit("session_ended", {}, to=OWNER_ROOM)
    socketio.close_room(OWNER_ROOM)
