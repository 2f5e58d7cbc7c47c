"""One lock per trading account: whoever reads a position and then orders on it holds it.

Alerts (position-sync reads the position, then orders the difference), manual orders and
the kill switch's sweep take `account_lock(account_id)`, so two of them never interleave
on one account — in one process, and on PostgreSQL across every process of a deployment
(DESIGN §4 "Processes": any web process may execute any alert).

How, in order:

1. A process lock (an RLock per account). Threads of one process queue here, cheaply;
   it is re-entrant, so code holding the lock may call code that takes it again.
2. On PostgreSQL, at the outermost level only, an advisory *transaction* lock,
   `pg_advisory_xact_lock(NAMESPACE, account_id)`, taken on a connection of its own
   whose transaction stays open for as long as the lock is held and is rolled back to
   release it. Why this shape:
   - its own connection: the caller commits its session inside the lock (the alert, the
     order row before the broker call, the fill); a lock taken in the caller's
     transaction would end at its first commit;
   - a transaction lock: it cannot outlive its holder. It ends with the transaction:
     on release, or when the holding process dies and the server drops its connection.
     A session lock would survive a pooled connection whose unlock was missed;
   - its own pool, without a size limit: a thread holding a connection of the main pool
     may be queued behind the lock, so a lock that waited for the main pool could wait
     for itself. There is at most one lock connection per account per process (the
     process lock comes first), so the pool stays as small as the accounts in use.
   With a `timeout`, `pg_try_advisory_xact_lock` is tried in a loop until it passes.
   The lock connection sits "idle in transaction" while held: a server setting
   `idle_in_transaction_session_timeout` shorter than an order takes would end it.
3. On SQLite, the process lock alone: SQLite lives on one host, serialises its writers
   itself, and is run as one process (several processes scale out on PostgreSQL).
"""

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from flask import current_app
from sqlalchemy import Connection, Engine, create_engine, text

from app.extensions import db

logger = logging.getLogger(__name__)

# The first key of every account lock ("DPAC"): keeps them apart from other advisory
# locks on the same database. Two-key and one-key advisory locks never collide.
NAMESPACE = 0x44504143
RETRY_SECONDS = 0.02
_ENGINE = "deskpilot.account_lock_engine"

_guard = threading.Lock()
_locks: dict[int, threading.RLock] = defaultdict(threading.RLock)
_held = threading.local()  # how deep this thread holds each account's lock

_TAKE = text("SELECT pg_advisory_xact_lock(CAST(:ns AS integer), CAST(:id AS integer))")
_TRY = text("SELECT pg_try_advisory_xact_lock(CAST(:ns AS integer), CAST(:id AS integer))")


class AccountBusy(Exception):
    """The account's lock was not free within the time the caller could wait."""


@contextmanager
def account_lock(account_id: int, timeout: float | None = None) -> Iterator[None]:
    """Hold the account's lock; with `timeout`, raise AccountBusy when it stays taken."""
    deadline = None if timeout is None else time.monotonic() + timeout
    lock = _lock_of(account_id)
    if not lock.acquire(timeout=-1 if timeout is None else timeout):
        raise AccountBusy(f"account {account_id} is busy")
    depths = _depths()
    try:
        outermost = depths[account_id] == 0
        with _database_lock(account_id, deadline) if outermost else nullcontext():
            depths[account_id] += 1
            try:
                yield
            finally:
                depths[account_id] -= 1
    finally:
        lock.release()


def _lock_of(account_id: int) -> threading.RLock:
    with _guard:
        return _locks[account_id]


def _depths() -> defaultdict[int, int]:
    if not hasattr(_held, "depths"):
        _held.depths = defaultdict(int)
    return _held.depths


@contextmanager
def _database_lock(account_id: int, deadline: float | None) -> Iterator[None]:
    """The advisory transaction lock on PostgreSQL, held on its own connection."""
    engine = _lock_engine()
    if engine is None:
        yield
        return
    with engine.connect() as connection:
        _take(connection, account_id, deadline)
        try:
            yield
        finally:
            _end(connection, account_id)


def _lock_engine() -> Engine | None:
    """The app's pool of lock connections on PostgreSQL (made on first use); None else."""
    if db.engine.dialect.name != "postgresql":
        return None
    extensions = current_app.extensions
    with _guard:
        if _ENGINE not in extensions:
            extensions[_ENGINE] = create_engine(db.engine.url, pool_pre_ping=True, max_overflow=-1)
        return extensions[_ENGINE]


def _take(connection: Connection, account_id: int, deadline: float | None) -> None:
    """Wait for the advisory lock, until `deadline` if there is one."""
    keys = {"ns": NAMESPACE, "id": account_id}
    if deadline is None:
        connection.execute(_TAKE, keys)
        return
    while not connection.execute(_TRY, keys).scalar():
        left = deadline - time.monotonic()
        if left <= 0:
            connection.rollback()
            raise AccountBusy(f"account {account_id} is busy in another process")
        time.sleep(min(RETRY_SECONDS, left))


def _end(connection: Connection, account_id: int) -> None:
    """End the lock's transaction, which releases it. A connection that died already
    released it at the server: closing it (the caller's `with`) is all that is left."""
    try:
        connection.rollback()
    except Exception:
        logger.warning("account %s: the lock's connection was lost", account_id, exc_info=True)
