"""The serving lock: no restore while a server runs on the database.

Every `run.py serve` and `run.py worker` holds it shared for its whole life; `run.py
restore` takes it exclusive without waiting, and a server that starts meanwhile waits
for the restore to end. Both kinds are locks the operating system or the database server
keep for a live process, so a crashed server (even `kill -9`) gives its share up with its
life and never blocks a restore:

- SQLite: `fcntl.flock` on `<database>.serving.lock` beside the file (as the scheduler's
  leader lock on instance/scheduler.lock). flock belongs to the open file, which
  gunicorn's worker inherits from `run.py serve` across its fork.
- PostgreSQL: a session advisory lock on a connection of its own, on a fixed key.
  Advisory locks live per database, so processes on one database share it; the server
  ends the session, and with it the lock, when the process's connection dies.
"""

import fcntl
import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import IO

import psycopg

from app.errors import InvalidInput
from app.services.backup.database import SQLITE, Database, database_at

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".serving.lock"
ADVISORY_KEY = int.from_bytes(hashlib.sha256(b"deskpilot:serving").digest()[:8], "big", signed=True)


class ServingLock(ABC):
    """A held share (a server's) or the whole lock (a restore's)."""

    @abstractmethod
    def release(self) -> None:
        """Give it up; ending the process does the same."""


class _FileLock(ServingLock):
    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle

    def release(self) -> None:
        fcntl.flock(self.handle.fileno(), fcntl.LOCK_UN)
        self.handle.close()


class _AdvisoryLock(ServingLock):
    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    def release(self) -> None:
        self.connection.close()  # the session's end releases its advisory locks


def lock_path(database: Database) -> Path:
    return database.path.with_name(database.path.name + LOCK_SUFFIX)


def hold_while_serving(url: str, on_wait: Callable[[], None]) -> ServingLock | None:
    """A server's share of the lock on the database at `url` (see `hold_shared`); None for
    a database no backup copies (an in-memory one), which nothing can restore over."""
    try:
        database = database_at(url)
    except InvalidInput:
        return None
    return hold_shared(database, on_wait)


def hold_shared(database: Database, on_wait: Callable[[], None]) -> ServingLock:
    """Hold a share of the lock for as long as the result lives (keep it referenced);
    while a restore holds it, call `on_wait` and wait for the restore to end."""
    if database.kind == SQLITE:
        return _flock(database, fcntl.LOCK_SH, on_wait)
    return _advisory(database, "_shared", on_wait)


def take_exclusive(database: Database) -> ServingLock | None:
    """The whole lock, without waiting; None while any server holds a share."""
    if database.kind == SQLITE:
        return _flock(database, fcntl.LOCK_EX, None)
    return _advisory(database, "", None)


def _flock(database: Database, mode: int, on_wait: Callable[[], None] | None) -> _FileLock | None:
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a")  # held open as long as the lock is
    try:
        fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait is None:
            handle.close()
            return None
        on_wait()
        fcntl.flock(handle.fileno(), mode)
    return _FileLock(handle)


def _advisory(
    database: Database, mode: str, on_wait: Callable[[], None] | None
) -> _AdvisoryLock | None:
    """`mode` is "_shared" or "" (exclusive), as PostgreSQL's function names spell it."""
    connection = database.session()
    key = (ADVISORY_KEY,)
    [taken] = connection.execute(f"SELECT pg_try_advisory_lock{mode}(%s)", key).fetchone()
    if not taken and on_wait is not None:
        on_wait()
        connection.execute(f"SELECT pg_advisory_lock{mode}(%s)", key)
        taken = True
    if not taken:
        connection.close()
        return None
    return _AdvisoryLock(connection)
