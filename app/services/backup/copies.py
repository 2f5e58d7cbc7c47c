"""`run.py backup` and `run.py restore`: the steps, whichever the database, and their reports.

A backup is written under a temporary name beside the target and renamed at the end, so
a failed one never leaves a half file under the name. A restore is refused while a
server runs on the database (serving.py), checks the file is a DeskPilot backup of the
same kind of database at a revision this code knows, keeps a safety copy of what it
replaces, and migrates what it put back to head (an older backup is upgraded).
"""

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.errors import Conflict, InvalidInput, NotFound
from app.schema import alembic_config, upgrade_to_head
from app.services.backup import postgres_copy, serving, sqlite_copy
from app.services.backup.database import POSTGRESQL, SQLITE, CopyFailed, Database, database_at

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    kind: str
    database: str
    revision: str | None


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    database: str
    kind: str
    backup_revision: str
    revision: str
    safety_copy: Path | None


def backup_database(url: str, target: Path) -> BackupReport:
    """Write a consistent copy of the database at `url` to `target`, safe while it serves."""
    database = database_at(url)
    target = target.resolve()
    if not target.parent.is_dir():
        raise NotFound(f"No folder {target.parent} to write the backup in.")
    if database.kind == SQLITE and not database.path.is_file():
        raise NotFound(f"No database at {database.path}.")
    if database.kind == SQLITE and target == database.path:
        raise InvalidInput("The backup cannot be written over the database itself.")
    revision = _write_then_rename(database, target)
    return BackupReport(target, target.stat().st_size, database.kind, database.name, revision)


def restore_database(url: str, source: Path, now: datetime) -> RestoreReport:
    """Replace the database at `url` with the backup at `source` and migrate it to head."""
    database = database_at(url)
    source = source.resolve()
    backup_revision = _check_backup(database, source)
    lock = serving.take_exclusive(database)
    if lock is None:
        raise Conflict(
            f"A DeskPilot server (run.py serve or run.py worker) is running on {database.name}: "
            "stop it, then restore."
        )
    try:
        safety = _safety_copy(database, source, now)
        try:
            if database.kind == SQLITE:
                sqlite_copy.restore(source, database.path)
            else:
                postgres_copy.restore(database, source)
        except CopyFailed as failure:
            kept = f" What it was before is kept at {safety}." if safety else ""
            raise CopyFailed(failure.message + kept) from failure
        revision = _migrate(database)
    finally:
        lock.release()
    logger.info(
        "restored %s into %s (revision %s, now %s)",
        source,
        database.name,
        backup_revision,
        revision,
    )
    return RestoreReport(source, database.name, database.kind, backup_revision, revision, safety)


def _write_then_rename(database: Database, target: Path) -> str | None:
    """Write to a temporary name beside `target`, then rename; the copy's revision (None
    for a database never migrated)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        if database.kind == SQLITE:
            sqlite_copy.copy(database.path, partial)
        else:
            postgres_copy.dump(database, partial)
        try:
            revision = _tool(database.kind).revision(partial)
        except InvalidInput:
            revision = None
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return revision


def _safety_copy(database: Database, source: Path, now: datetime) -> Path | None:
    """A copy of what the restore replaces: beside a SQLite file (none when there is no
    file yet), beside the backup for PostgreSQL."""
    stamp = f"before-restore-{now:%Y%m%dT%H%M%SZ}"
    if database.kind == SQLITE:
        if not database.path.is_file():
            return None
        target = database.path.with_name(f"{database.path.name}.{stamp}")
    else:
        target = source.with_name(f"{database.url.database}.{stamp}.dump")
    _write_then_rename(database, target)
    return target


def _migrate(database: Database) -> str:
    """Bring the restored database to head; its revision after."""
    engine = database.engine()
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def _check_backup(database: Database, source: Path) -> str:
    """The backup's revision, once it is known to be a DeskPilot backup of this kind."""
    if not source.is_file():
        raise NotFound(f"No backup at {source}.")
    with open(source, "rb") as file:
        header = file.read(16)
    if header == sqlite_copy.HEADER:
        kind = SQLITE
    elif header.startswith(postgres_copy.HEADER):
        kind = POSTGRESQL
    else:
        raise InvalidInput(f"{source} is not a DeskPilot backup (neither SQLite nor pg_dump).")
    if kind != database.kind:
        raise InvalidInput(
            f"{source} is a {kind} backup; DATABASE_URL names a {database.kind} database."
        )
    if database.kind == SQLITE and source == database.path:
        raise InvalidInput(f"{source} is the database itself, not a backup of it.")
    revision = _tool(kind).revision(source)
    known = ScriptDirectory.from_config(alembic_config()).walk_revisions()
    if revision not in {script.revision for script in known}:
        raise InvalidInput(
            f"{source} is at schema revision {revision}, which this DeskPilot does not know "
            "(a backup of a newer version, or not DeskPilot's)."
        )
    return revision


def _tool(kind: str):
    """The module that copies databases of `kind`."""
    return sqlite_copy if kind == SQLITE else postgres_copy
