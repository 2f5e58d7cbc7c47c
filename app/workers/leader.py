"""Leader leases across hosts: which process of a deployment runs the scheduled jobs.

Chosen by configuration (`lease_for`), strongest shared service first:

- `REDIS_URL` set → `RedisLease`: a key set with `SET key token NX PX ttl`, renewed by
  a heartbeat (only by its holder: a Lua compare-and-expire) and deleted on release the
  same way. A holder that stops renewing (crashed, frozen, cut off) loses it after the
  ttl and a standby takes over.
- `DATABASE_URL` on PostgreSQL → `PostgresAdvisoryLease`: `pg_try_advisory_lock` on a
  dedicated connection. The lock lasts as long as that session: the heartbeat checks the
  connection, and a holder whose connection dies has lost it (the server released it).
- otherwise the file lock of scheduler.py (processes on one host).

The key is derived from the database URL, so the processes sharing a database — one
deployment — share one lease. `Elector` runs the heartbeat thread: the holder renews, a
standby keeps trying, and each change is reported (the scheduler pauses or resumes).
"""

import hashlib
import logging
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

KEY_PREFIX = "deskpilot:scheduler-leader:"

# Renew only our own lease; delete only our own lease.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"  # noqa: E501
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"  # noqa: E501


class Lease(ABC):
    """A lease one process at a time holds."""

    name = "lease"

    def __init__(self) -> None:
        self.held = False

    @abstractmethod
    def acquire(self) -> bool:
        """Take the lease if free (or already ours); never waits."""

    @abstractmethod
    def renew(self) -> bool:
        """Keep holding it; False once it is lost."""

    @abstractmethod
    def release(self) -> None:
        """Give it up (only if still ours)."""


def deployment_key(database_url: str) -> str:
    """A stable name for the deployment: processes on one database share it."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


class RedisLease(Lease):
    """`SET NX PX` with a random token, renewed and released only by its holder."""

    name = "redis"

    def __init__(self, url: str, key: str, ttl_seconds: float, *, client=None) -> None:
        super().__init__()
        if client is None:
            import redis  # only a deployment with REDIS_URL needs the package

            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.client = client
        self.key = key
        self.ttl_ms = max(int(ttl_seconds * 1000), 100)
        self.token = uuid.uuid4().hex
        self._renewed_at = 0.0

    def acquire(self) -> bool:
        try:
            taken = self.client.set(self.key, self.token, nx=True, px=self.ttl_ms)
            if not taken:
                taken = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
        except Exception as exc:  # redis.RedisError and socket errors alike
            logger.warning("leader lease: Redis not reachable (%s)", exc)
            taken = False
        if taken:
            self._renewed_at = time.monotonic()
        self.held = bool(taken)
        return self.held

    def renew(self) -> bool:
        try:
            kept = bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))
        except Exception as exc:
            # Unsure: it is ours until the ttl since the last renewal has passed.
            kept = time.monotonic() - self._renewed_at < self.ttl_ms / 1000 * 0.8
            logger.warning("leader lease: renewal failed (%s); %s", exc, "kept" if kept else "lost")
        else:
            if kept:
                self._renewed_at = time.monotonic()
        self.held = kept
        return kept

    def release(self) -> None:
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except Exception as exc:
            logger.warning("leader lease: release failed (%s); it expires by itself", exc)
        self.held = False


def postgres_lock_id(name: str) -> int:
    """A signed 64-bit advisory lock id for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLease(Lease):
    """A session-level advisory lock held on a connection of its own."""

    name = "postgresql"

    def __init__(self, url: str, lock_id: int) -> None:
        super().__init__()
        address = make_url(url)
        if address.drivername == "postgresql":
            address = address.set(drivername="postgresql+psycopg")  # the driver we ship
        self.engine = create_engine(address, poolclass=NullPool)
        self.lock_id = lock_id
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        try:
            if self.connection is None:
                self.connection = self.engine.connect()
            taken = self.connection.execute(
                text("SELECT pg_try_advisory_lock(:id)"), {"id": self.lock_id}
            ).scalar()
            self.connection.commit()  # a session lock outlives the transaction
        except Exception as exc:
            logger.warning("leader lease: PostgreSQL not reachable (%s)", exc)
            self._drop()
            taken = False
        self.held = bool(taken)
        return self.held

    def renew(self) -> bool:
        if self.connection is None:
            self.held = False
            return False
        try:
            self.connection.execute(text("SELECT 1")).scalar()
            self.connection.commit()
        except Exception as exc:
            logger.error("leader lease: the lock's connection died (%s); lease lost", exc)
            self._drop()
            self.held = False
            return False
        return True

    def release(self) -> None:
        if self.connection is not None and self.held:
            try:
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": self.lock_id}
                )
                self.connection.commit()
            except Exception as exc:
                logger.warning("leader lease: unlock failed (%s); closing ends it", exc)
        self._drop()
        self.held = False
        self.engine.dispose()

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:
                logger.debug("leader lease: closing a dead connection failed", exc_info=True)
        self.connection = None


def lease_for(config: Mapping) -> Lease | None:
    """The shared lease the configuration allows, or None for the single-host file lock."""
    ttl = float(config.get("LEADER_LEASE_SECONDS", 15))
    database_url = config["DATABASE_URL"]
    if config.get("REDIS_URL"):
        key = KEY_PREFIX + deployment_key(database_url)
        return RedisLease(config["REDIS_URL"], key, ttl)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresAdvisoryLease(database_url, postgres_lock_id("deskpilot:scheduler-leader"))
    return None


class Elector:
    """The heartbeat: renew the lease while held, try to take it while not."""

    def __init__(
        self,
        lease: Lease,
        interval: float,
        on_gain: Callable[[], None],
        on_loss: Callable[[], None],
    ) -> None:
        self.lease = lease
        self.interval = interval
        self.on_gain = on_gain
        self.on_loss = on_loss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def beat(self) -> None:
        """One heartbeat (the thread calls it every `interval`)."""
        if self.lease.held:
            if not self.lease.renew():
                logger.error("lost the %s leader lease: pausing scheduled jobs", self.lease.name)
                self.on_loss()
        elif self.lease.acquire():
            logger.info("took the %s leader lease: running scheduled jobs", self.lease.name)
            self.on_gain()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)
        self.lease.release()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except Exception:
                logger.exception("leader heartbeat failed")
