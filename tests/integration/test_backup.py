"""`run.py backup` and `run.py restore` (DESIGN §5.6): the restore drill on SQLite and on
PostgreSQL — data made through the app, backed up (on SQLite while a real server takes
alerts), changed, restored, and found exactly as backed up — and the refusals: a restore
while a server runs on the database, and files that are not DeskPilot backups."""

import gc
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.errors import AppError, InvalidInput
from app.extensions import db
from app.models import Base
from app.schema import alembic_config, upgrade_to_head
from app.services.backup import serving
from app.services.backup.copies import backup_database, restore_database
from app.services.backup.database import CopyFailed, database_at
from app.services.setup.auth import issue_api_token, owner
from tests.conftest import Api, make_config
from tests.integration.conftest import POSTGRES_URL
from tests.integration.test_cli import Running, cli_environment
from tests.integration.test_crash_recovery import Server
from tests.integration.test_migrations import upgrade_to

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
BEFORE_HEAD = ScriptDirectory.from_config(alembic_config()).get_revision(HEAD).down_revision


def contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in an order that does not depend on how they were read."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: sorted(
                    (tuple(row) for row in connection.execute(text(f'SELECT * FROM "{table}"'))),
                    key=repr,
                )
                for table in sorted(inspect(connection).get_table_names())
            }
    finally:
        engine.dispose()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Alerts:
    """Alerts sent one after another to a running server until stopped; when each was answered."""

    def __init__(self, base: str, token: str) -> None:
        self.url = f"{base}/webhook/{token}"
        self.answered: list[float] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        session = requests.Session()
        count = 0
        while not self.stopped.is_set():
            action = "buy" if count % 2 == 0 else "sell"
            body = {"action": action, "quantity": 1, "price": "6000.25", "id": f"live-{count}"}
            response = session.post(self.url, data=json.dumps(body), timeout=30)
            assert response.status_code == 200, response.text
            self.answered.append(time.monotonic())
            count += 1

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def between(self, start: float, end: float) -> int:
        return len([at for at in self.answered if start <= at <= end])


def test_sqlite_restore_drill_around_a_live_server(tmp_path):
    """Backed up while `run.py serve` takes alerts; restore refused while it runs, allowed
    once it was killed -9; the database is then exactly the backup, and the safety copy
    is what the restore replaced."""
    server = Server(tmp_path)
    database = tmp_path / "deskpilot.db"
    backup_file = tmp_path / "backups" / "deskpilot-backup.db"
    backup_file.parent.mkdir()
    server.start()
    try:
        server.login()
        [account] = server.api("GET", "/api/accounts")["items"]
        strategy = server.api("POST", "/api/strategies", {"name": "drill", "symbol": "MES1!"})
        trader = {"strategy_id": strategy["id"], "account_id": account["id"]}
        server.api("POST", "/api/traders", trader)
        first = requests.post(
            f"{server.base}/webhook/{strategy['webhook_token']}",
            json={"action": "buy", "quantity": 1, "price": "6000.25", "id": "first"},
            timeout=30,
        ).json()
        assert first["orders"][0]["status"] == "filled", first

        alerts = Alerts(server.base, strategy["webhook_token"])
        time.sleep(0.5)  # some answered before the copy: they must all be in it
        started = time.monotonic()
        backed_up = cli(server.env, "backup", str(backup_file))
        ended = time.monotonic()
        time.sleep(0.5)  # a few alerts more after the copy: they must not come back
        alerts.stop()
        assert backed_up.returncode == 0, backed_up.stderr
        assert alerts.between(started, ended) > 0, "no alert was answered during the backup"
        assert f"Wrote {backup_file}" in backed_up.stdout
        assert f"sqlite backup of {database}, schema revision {HEAD}" in backed_up.stdout
        assert not [name for name in os.listdir(backup_file.parent) if "partial" in name]

        refused = cli(server.env, "restore", str(backup_file))
        assert refused.returncode == 1
        assert "is running on" in refused.stderr and "stop it" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert not list(tmp_path.glob("deskpilot.db.before-restore-*"))

        server.api("PATCH", f"/api/strategies/{strategy['id']}", {"name": "renamed"})
        server.kill()  # -9, master and worker at once: their shares die with them
    finally:
        server.stop()

    kept = contents(f"sqlite:///{backup_file}")
    # Consistent: every alert answered before the backup began is in it, with its order
    # (the last commits live in the -wal file, which a copy of the file alone misses).
    assert len(kept["webhook_events"]) >= 1 + alerts.between(0, started)
    with closing(sqlite3.connect(backup_file)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(kept["orders"]) < len(contents(f"sqlite:///{database}")["orders"])
    restored = cli(server.env, "restore", str(backup_file))
    assert restored.returncode == 0, restored.stderr
    [safety] = tmp_path.glob("deskpilot.db.before-restore-*")
    assert f"The database it replaced is kept at {safety}." in restored.stdout
    assert f"into {database}; migrated to {HEAD}" in restored.stdout
    assert contents(f"sqlite:///{database}") == kept
    assert [row[1] for row in kept["strategies"]] == ["drill"]
    assert [row[1] for row in contents(f"sqlite:///{safety}")["strategies"]] == ["renamed"]


def test_a_sqlite_backup_holds_the_commits_still_in_the_wal_file(tmp_path):
    """The live database's last commits sit in its -wal file until a checkpoint: a copy of
    the main file alone would miss them; the backup is one file without a -wal."""
    url = f"sqlite:///{tmp_path / 'deskpilot.db'}"
    engine = create_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    live = sqlite3.connect(tmp_path / "deskpilot.db")
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("PRAGMA wal_autocheckpoint=0")  # as between two checkpoints of a server
    live.execute("CREATE TABLE drill (n INTEGER)")
    live.executemany("INSERT INTO drill VALUES (?)", [(n,) for n in range(500)])
    live.commit()
    try:
        assert (tmp_path / "deskpilot.db-wal").stat().st_size > 0
        report = backup_database(url, tmp_path / "backup.db")
    finally:
        live.close()
    assert (report.kind, report.revision, report.database) == (
        "sqlite",
        HEAD,
        str(tmp_path / "deskpilot.db"),
    )
    assert len(contents(f"sqlite:///{tmp_path / 'backup.db'}")["drill"]) == 500
    with closing(sqlite3.connect(tmp_path / "backup.db")) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)


@pytest.fixture
def postgres_url():
    """A database of this test's own on the local PostgreSQL, dropped afterwards."""
    name = f"dp_backup_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def trading_desk(app) -> tuple[Api, dict]:
    """An owner's API, a paper account, a strategy traded on it, and one filled order."""
    with app.app_context():
        api = Api(app.test_client(), issue_api_token(owner(), datetime.now(UTC)))
    account = api.post("/api/accounts", {"name": "Paper", "broker": "paper"}).get_json()
    strategy = api.post("/api/strategies", {"name": "drill", "symbol": "MES1!"}).get_json()
    api.post("/api/traders", {"strategy_id": strategy["id"], "account_id": account["id"]})
    answer = api.client.post(
        f"/webhook/{strategy['webhook_token']}",
        json={"action": "buy", "quantity": 1, "price": "6000.25", "id": "pg-first"},
    ).get_json()
    assert answer["orders"][0]["status"] == "filled", answer
    return api, strategy


@pytest.mark.postgres
def test_postgres_restore_drill(tmp_path, postgres_url):
    """Refused while `run.py worker` runs on the database, allowed after its kill -9;
    the data is exactly as backed up, the replaced state kept beside the backup."""
    app = create_app(make_config(tmp_path, DATABASE_URL=postgres_url))
    api, strategy = trading_desk(app)
    before = contents(postgres_url)
    backup_file = tmp_path / "deskpilot.dump"
    report = backup_database(postgres_url, backup_file)
    assert (report.kind, report.revision) == ("postgresql", HEAD)
    assert report.size == backup_file.stat().st_size > 0

    renamed = api.call("PATCH", f"/api/strategies/{strategy['id']}", {"name": "renamed"})
    assert renamed.status_code == 200, renamed.get_json()
    assert api.post("/api/accounts", {"name": "After", "broker": "paper"}).status_code == 201
    with app.app_context():
        db.engine.dispose()  # a deployment restores with its servers stopped

    worker = Running(tmp_path, "worker", DATABASE_URL=postgres_url)
    try:
        worker.wait_for("worker running")
        environment = cli_environment(tmp_path, DATABASE_URL=postgres_url)
        refused = cli(environment, "restore", str(backup_file))
        assert refused.returncode == 1
        assert "is running on" in refused.stderr and "Traceback" not in refused.stderr
    finally:
        worker.process.kill()  # -9: its session, and its share of the lock, end with it
        worker.process.wait(timeout=10)
    changed = contents(postgres_url)
    assert changed != before

    restored = restore_database(postgres_url, backup_file, datetime(2026, 12, 4, 9, 30, tzinfo=UTC))
    assert (restored.backup_revision, restored.revision) == (HEAD, HEAD)
    assert (
        restored.safety_copy
        == tmp_path / f"{Path(postgres_url).name}.before-restore-20261204T093000Z.dump"
    )
    assert contents(postgres_url) == before
    # The safety copy puts back what the restore replaced.
    restore_database(postgres_url, restored.safety_copy, datetime.now(UTC))
    assert contents(postgres_url) == changed


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database of either kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'deskpilot.db'}"
    return request.getfixturevalue("postgres_url")


def test_a_server_share_refuses_a_restore_and_a_starting_server_waits_for_one(database_url):
    database = database_at(database_url)
    one = serving.hold_shared(database, on_wait=pytest.fail)
    two = serving.hold_shared(database, on_wait=pytest.fail)  # servers share it
    assert serving.take_exclusive(database) is None
    one.release()
    assert serving.take_exclusive(database) is None
    two.release()
    restore = serving.take_exclusive(database)
    assert restore is not None

    waiting, held = threading.Event(), []
    starting = threading.Thread(
        target=lambda: held.append(serving.hold_shared(database, on_wait=waiting.set))
    )
    starting.start()
    assert waiting.wait(10)
    time.sleep(0.2)
    assert not held, "a server started while a restore ran"
    restore.release()
    starting.join(10)
    assert held
    held[0].release()


def test_a_forked_child_leaves_its_parents_share_alone(database_url):
    """gunicorn forks its worker from `run.py serve`, which holds a share: the worker's
    exit (it drops what it inherited) must not give up its parent's share."""
    database = database_at(database_url)
    share = serving.hold_shared(database, on_wait=pytest.fail)
    pid = os.fork()
    if pid == 0:  # the child: drop and collect the inherited share, then leave at once
        del share
        gc.collect()
        os._exit(0)
    os.waitpid(pid, 0)
    try:
        assert serving.take_exclusive(database) is None
    finally:
        share.release()


def test_an_older_backup_is_restored_and_upgraded_to_head(tmp_path, database_url):
    """Over a database at head: the tables the newer revision made give way, and the
    migrations make them again from the backup's revision."""
    engine = create_engine(database_url)
    upgrade_to(engine, BEFORE_HEAD)
    engine.dispose()
    backup_file = tmp_path / "old-backup"
    assert backup_database(database_url, backup_file).revision == BEFORE_HEAD
    engine = create_engine(database_url)
    upgrade_to_head(engine)  # the tables the newest revision adds exist now
    engine.dispose()

    report = restore_database(database_url, backup_file, datetime.now(UTC))
    assert (report.backup_revision, report.revision) == (BEFORE_HEAD, HEAD)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert version == [(HEAD,)]
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def sqlite_file(path: Path, *statements: str) -> Path:
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: path.write_text("hello") and path, "is not a DeskPilot backup"),
        (lambda path: path.write_bytes(b"PGDMP\x01\x0e\x00") and path, "is a postgresql backup"),
        (lambda path: sqlite_file(path, "CREATE TABLE notes (x)"), "is not a DeskPilot database"),
        (
            lambda path: sqlite_file(
                path,
                "CREATE TABLE alembic_version (version_num VARCHAR(32))",
                "INSERT INTO alembic_version VALUES ('f00dfeedbeef')",
            ),
            "which this DeskPilot does not know",
        ),
        (lambda path: path, "No backup at"),
    ],
    ids=["text", "pg_dump", "other-sqlite", "unknown-revision", "missing"],
)
def test_restore_refuses_what_is_not_a_backup_of_this_database_and_touches_nothing(
    tmp_path, make, message
):
    url = f"sqlite:///{tmp_path / 'deskpilot.db'}"
    engine = create_engine(url)
    upgrade_to_head(engine)
    engine.dispose()
    before = contents(url)
    with pytest.raises(AppError) as refused:
        restore_database(url, make(tmp_path / "candidate"), datetime.now(UTC))
    assert message in str(refused.value)
    assert contents(url) == before
    assert not list(tmp_path.glob("deskpilot.db.before-restore-*"))


def test_a_sqlite_backup_is_refused_for_a_postgresql_database(tmp_path):
    """Told before any connection is tried: the URL's kind and the file's must agree."""
    backup_file = sqlite_file(tmp_path / "b.db", "CREATE TABLE alembic_version (v)")
    with pytest.raises(InvalidInput, match="is a sqlite backup; DATABASE_URL names a postgresql"):
        restore_database("postgresql://nobody@127.0.0.1:1/none", backup_file, datetime.now(UTC))


def test_a_failed_backup_leaves_the_previous_file_under_the_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'deskpilot.db'}"
    (tmp_path / "deskpilot.db").write_bytes(b"not a database at all, but long enough " * 200)
    target = tmp_path / "backup.db"
    target.write_text("yesterday's backup")
    with pytest.raises(CopyFailed, match="Copying .* failed"):
        backup_database(url, target)
    assert target.read_text() == "yesterday's backup"
    assert sorted(os.listdir(tmp_path)) == ["backup.db", "deskpilot.db"]


@pytest.mark.postgres
def test_pg_dump_failing_or_missing_is_a_plain_error_and_leaves_no_file(tmp_path, monkeypatch):
    target = tmp_path / "backup.dump"
    missing = POSTGRES_URL.rsplit("/", 1)[0] + f"/dp_backup_missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(CopyFailed, match=r"pg_dump failed \(exit status 1\).*dp_backup_missing"):
        backup_database(missing, target)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CopyFailed, match="pg_dump is not on PATH"):
        backup_database(missing, target)
    assert os.listdir(tmp_path) == []


def test_the_postgresql_password_travels_in_the_environment_only():
    database = database_at(
        "postgresql+psycopg://trader:pa55%20word@db.example:6543/desk?sslmode=require"
    )
    assert (
        database.conninfo() == "host=db.example port=6543 user=trader dbname=desk sslmode=require"
    )
    assert database.environment()["PGPASSWORD"] == "pa55 word"
    assert "pa55" not in database.name
