"""One lock per trading account: whoever reads a position and then orders on it holds it.

Alerts (position-sync reads the position, then orders the difference), manual orders, the
kill switch's sweep and the monitor all take `account_lock(account_id)`, so two of them
never interleave on one account. This is a process lock; DESIGN §4 "Processes" asks for a
PostgreSQL advisory lock when several processes share a database.
"""

import logging
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

_guard = threading.Lock()
_locks: dict[int, threading.RLock] = defaultdict(threading.RLock)


class AccountBusy(Exception):
    """The account's lock was not free within the time the caller could wait."""


def _lock_of(account_id: int) -> threading.RLock:
    with _guard:
        return _locks[account_id]


@contextmanager
def account_lock(account_id: int, timeout: float | None = None) -> Iterator[None]:
    """Hold the account's lock; with `timeout`, raise AccountBusy when it stays taken."""
    lock = _lock_of(account_id)
    if not lock.acquire(timeout=-1 if timeout is None else timeout):
        raise AccountBusy(f"account {account_id} is busy")
    try:
        yield
    finally:
        lock.release()
