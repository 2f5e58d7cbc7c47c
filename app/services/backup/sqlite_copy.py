"""Copies of a SQLite database through SQLite's online backup API.

The live database runs in WAL mode: recent commits sit in the -wal file, so a copy of the
main file alone is not consistent. The backup API reads one snapshot of both (in one step:
a server's commits meanwhile neither block it nor leak into it) and writes a single
self-contained file.
"""

import logging
import sqlite3
from pathlib import Path

from app.errors import InvalidInput
from app.services.backup.database import CopyFailed

logger = logging.getLogger(__name__)

HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_SECONDS = 15  # as long as the app's own connections wait for the writer


def copy(source: Path, target: Path) -> None:
    """Write a consistent copy of the database at `source` to `target` (replaced)."""
    reader = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
            # A rollback-journal file needs no -wal beside it to be whole.
            writer.execute("PRAGMA journal_mode=DELETE")
        finally:
            writer.close()
    except sqlite3.Error as exc:
        raise CopyFailed(f"Copying {source} failed: {exc}.") from exc
    finally:
        reader.close()


def restore(source: Path, target: Path) -> None:
    """Replace the database at `target` with the one at `source`, in one write transaction.

    In rollback-journal mode while it is written (WAL refuses a page size that differs
    from the backup's), back in WAL after, as the app runs it.
    """
    reader = sqlite3.connect(source)
    try:
        writer = sqlite3.connect(target, timeout=BUSY_TIMEOUT_SECONDS)
        try:
            writer.execute("PRAGMA journal_mode=DELETE")
            reader.backup(writer)
            writer.execute("PRAGMA journal_mode=WAL")
        finally:
            writer.close()
    except sqlite3.Error as exc:
        raise CopyFailed(f"Restoring {source} into {target} failed: {exc}.") from exc
    finally:
        reader.close()


def revision(path: Path) -> str:
    """The Alembic revision of the SQLite database at `path`; refused when it has none."""
    connection = sqlite3.connect(path)  # the caller made sure it exists
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:  # no such table, or not a database at all
        raise InvalidInput(f"{path} is not a DeskPilot database ({exc}).") from exc
    finally:
        connection.close()
    if row is None:
        raise InvalidInput(f"{path} is not a DeskPilot database (no schema revision).")
    return row[0]
