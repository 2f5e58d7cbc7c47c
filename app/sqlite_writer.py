"""SQLite's one writer, queued in this process instead of in SQLite's busy handler.

SQLite lets one connection write at a time. A connection that finds the database locked
sleeps in SQLite's busy handler — 1, 2, 5, 10, 15, 20, 25 … ms between tries — so under
concurrent alerts a writer that misses the lock by a microsecond loses 18 ms or more,
and eight senders to one account went slower than one. Python's sqlite3 opens the write
transaction (BEGIN) just before a transaction's first INSERT, UPDATE, DELETE or REPLACE
and ends it at commit or rollback; these connections take a per-database lock of this
process at that point and give it back at the end, so the writers of one process wait
in a queue that wakes the next one the moment the lock is free.

Other processes still meet SQLite's own lock and its busy timeout. A writer that cannot
join the queue within the connection's timeout (a thread writing on two connections at
once would wait for itself) goes on to SQLite unqueued, which answers as it always has.
"""

from __future__ import annotations

import os
import sqlite3
import threading

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_queues: dict[str, threading.Lock] = {}
_queues_guard = threading.Lock()


def _queue_for(database: str) -> threading.Lock | None:
    """The writers' lock of one database file; None for a private in-memory database."""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    key = os.path.realpath(database)
    with _queues_guard:
        return _queues.setdefault(key, threading.Lock())


def _writes(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_WRITES)


class QueuedWriterConnection(sqlite3.Connection):
    """A sqlite3 connection whose write transactions queue on their database's lock."""

    def __init__(self, database, timeout: float = 5.0, *args, **kwargs) -> None:
        super().__init__(database, timeout, *args, **kwargs)
        self._queue = _queue_for(os.fsdecode(database))
        self._wait = timeout
        self._holding = False

    def cursor(self, factory=None):
        return super().cursor(factory or QueuedWriterCursor)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()

    def join(self, statement: str) -> None:
        """Before a statement that opens a write transaction: wait for this database's
        other writers of this process."""
        if self._queue is None or self._holding or self.in_transaction or not _writes(statement):
            return
        self._holding = self._queue.acquire(timeout=self._wait)

    def settle(self) -> None:
        """After a statement: a write that opened no transaction (it failed before
        BEGIN, or ran in autocommit) leaves the queue."""
        if not self.in_transaction:
            self._leave()

    def _leave(self) -> None:
        if self._holding:
            self._holding = False
            self._queue.release()


class QueuedWriterCursor(sqlite3.Cursor):
    """Statements run through their connection's queue."""

    def execute(self, statement, parameters=()):
        self.connection.join(statement)
        try:
            return super().execute(statement, parameters)
        finally:
            self.connection.settle()

    def executemany(self, statement, seq_of_parameters):
        self.connection.join(statement)
        try:
            return super().executemany(statement, seq_of_parameters)
        finally:
            self.connection.settle()
