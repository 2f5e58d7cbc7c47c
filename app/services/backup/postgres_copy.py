"""Copies of a PostgreSQL database through pg_dump and pg_restore (custom format).

The tools come from PATH (the PostgreSQL client of the server's major version or newer);
the password travels in PGPASSWORD, never on a command line other users can read.
"""

import logging
import re
import shutil
import subprocess  # nosec B404 # pg_dump/pg_restore, argument lists only, never a shell
from pathlib import Path

from sqlalchemy import text

from app.errors import InvalidInput
from app.services.backup.database import CopyFailed, Database

logger = logging.getLogger(__name__)

HEADER = b"PGDMP"
_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (\S+) (\S+) ", re.MULTILINE)


def dump(database: Database, target: Path) -> None:
    """Write the whole database to `target` in pg_dump's custom format."""
    _run(
        "pg_dump",
        "--format=custom",
        f"--file={target}",
        f"--dbname={database.conninfo()}",
        environment=database.environment(),
    )


def restore(database: Database, source: Path) -> None:
    """Put the dump at `source` back, all or nothing (one transaction).

    Tables the dump does not hold (made by a later migration) are dropped first: the
    migrations that follow make them again, from the backup's revision.
    """
    _drop_tables_not_in(database, tables(source))
    _run(
        "pg_restore",
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",  # grants name roles the restoring server may not have
        "--single-transaction",
        f"--dbname={database.conninfo()}",
        str(source),
        environment=database.environment(),
    )


def tables(source: Path) -> set[tuple[str, str]]:
    """(schema, table) of every table in the dump at `source`."""
    listing = _run("pg_restore", "--list", str(source))
    return set(_TABLE.findall(listing))


def revision(source: Path) -> str:
    """The Alembic revision stored in the dump at `source`; refused when it has none."""
    data = _run("pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(source))
    lines = data.splitlines()
    for number, line in enumerate(lines[:-1]):
        if line.startswith("COPY ") and "alembic_version" in line and lines[number + 1] != "\\.":
            return lines[number + 1].strip()
    raise InvalidInput(f"{source} is not a DeskPilot backup (no schema revision in it).")


def _drop_tables_not_in(database: Database, kept: set[tuple[str, str]]) -> None:
    engine = database.engine()
    try:
        with engine.begin() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar()
            names = connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": schema},
            ).scalars()
            for name in sorted(set(names) - {table for owner, table in kept if owner == schema}):
                logger.info("restore: dropping table %s, which the backup does not hold", name)
                connection.execute(text(f'DROP TABLE IF EXISTS "{schema}"."{name}" CASCADE'))
    finally:
        engine.dispose()


def _run(tool: str, *arguments: str, environment: dict[str, str] | None = None) -> str:
    """Run a PostgreSQL client tool; its standard output, or CopyFailed with its message."""
    executable = shutil.which(tool)
    if executable is None:
        raise CopyFailed(
            f"{tool} is not on PATH: install the PostgreSQL client tools "
            "(Debian: apt install postgresql-client) of the server's version or newer."
        )
    result = subprocess.run(  # nosec B603 # the tool found on PATH, our own arguments
        [executable, *arguments], env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise CopyFailed(
            f"{tool} failed (exit status {result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout
