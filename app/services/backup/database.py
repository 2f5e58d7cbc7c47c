"""Which database a DATABASE_URL names, in the terms the copying tools need."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from app.errors import AppError, InvalidInput

logger = logging.getLogger(__name__)

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


class CopyFailed(AppError):
    """Copying failed (SQLite's error, or pg_dump's or pg_restore's own words say why);
    nothing was written under the name asked for."""

    code = "copy_failed"


@dataclass(frozen=True)
class Database:
    """A SQLite file or a PostgreSQL database, from its URL."""

    url: URL

    @property
    def kind(self) -> str:
        return self.url.get_backend_name()

    @property
    def path(self) -> Path:
        """The SQLite file, resolved as SQLite resolves it (from the working directory)."""
        return Path(os.path.realpath(self.url.database))

    @property
    def name(self) -> str:
        """For people: the file, or the URL without its password."""
        if self.kind == SQLITE:
            return str(self.path)
        return self.url.render_as_string(hide_password=True)

    def engine(self) -> Engine:
        """An engine of its own, without a pool: a command's few connections end with it."""
        address = self.url
        if address.drivername == POSTGRESQL:
            address = address.set(drivername="postgresql+psycopg")  # the driver we ship
        return create_engine(address, poolclass=NullPool)

    def session(self) -> psycopg.Connection:
        """A bare psycopg connection in autocommit, for a lock held as long as it is open.

        Not through SQLAlchemy: gunicorn's worker is forked from the process holding it,
        and SQLAlchemy closes a collected connection (telling the server to end the
        parent's session) where psycopg leaves one opened by another process alone.
        """
        return psycopg.connect(self.conninfo(), password=self.url.password, autocommit=True)

    def conninfo(self) -> str:
        """The libpq connection string for pg_dump and pg_restore, without the password
        (a command line is visible to every user of the host: see `environment`)."""
        parts = {
            "host": self.url.host,
            "port": self.url.port,
            "user": self.url.username,
            "dbname": self.url.database,
        }
        for key, value in self.url.query.items():  # options, sslmode, ... are libpq's own
            parts[key] = value if isinstance(value, str) else value[-1]
        return make_conninfo(**{key: value for key, value in parts.items() if value is not None})

    def environment(self) -> dict[str, str]:
        """The environment for pg_dump and pg_restore: the password in PGPASSWORD."""
        environment = dict(os.environ)
        if self.url.password is not None:
            environment["PGPASSWORD"] = str(self.url.password)
        return environment


def database_at(url: str) -> Database:
    """The database of `url`, if it is one a backup can copy: a SQLite file or PostgreSQL."""
    address = make_url(url)
    kind = address.get_backend_name()
    if kind == SQLITE and address.database not in (None, "", ":memory:"):
        return Database(address)
    if kind == POSTGRESQL:
        return Database(address)
    raise InvalidInput(
        f"Backups copy a SQLite file or a PostgreSQL database; DATABASE_URL names neither "
        f"({address.render_as_string(hide_password=True)})."
    )
