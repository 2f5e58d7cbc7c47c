"""The writers' queue of one SQLite file: writes wait for each other, reads never do, and
every way a transaction ends lets the next writer in."""

import sqlite3
import threading

import pytest

from app.sqlite_writer import QueuedWriterConnection


def connect(path, timeout: float = 5.0) -> QueuedWriterConnection:
    connection = sqlite3.connect(
        path, timeout=timeout, factory=QueuedWriterConnection, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "queue.db"
    with connect(path) as setup:
        setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT UNIQUE)")
    return path


def write_in_thread(path, text: str) -> tuple[threading.Thread, list]:
    """A second writer of this process; what it met lands in the returned list."""
    outcome: list = []

    def write() -> None:
        other = connect(path)
        try:
            other.execute("INSERT INTO notes (text) VALUES (?)", (text,))
            other.commit()
            outcome.append("written")
        except sqlite3.Error as exc:
            outcome.append(exc)
        finally:
            other.close()

    thread = threading.Thread(target=write)
    thread.start()
    return thread, outcome


def test_a_second_writer_waits_for_the_first_commit_then_writes(database):
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('first')")
    thread, outcome = write_in_thread(database, "second")
    thread.join(0.3)
    assert thread.is_alive() and outcome == []  # queued behind the open transaction
    first.commit()
    thread.join(5)
    assert outcome == ["written"]
    texts = [text for (text,) in first.execute("SELECT text FROM notes ORDER BY id")]
    assert texts == ["first", "second"]


@pytest.mark.parametrize("ending", ["rollback", "close"])
def test_rollback_and_close_let_the_next_writer_in(database, ending):
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('dropped')")
    thread, outcome = write_in_thread(database, "kept")
    getattr(first, ending)()
    thread.join(5)
    assert outcome == ["written"]


def test_a_failed_write_outside_a_transaction_leaves_the_queue(database):
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('same')")
    first.commit()
    with pytest.raises(sqlite3.OperationalError):
        first.execute("INSERT INTO missing_table VALUES (1)")  # fails before any BEGIN
    assert not first.in_transaction
    thread, outcome = write_in_thread(database, "next")
    thread.join(5)
    assert outcome == ["written"]


def test_reads_never_wait_for_a_writer(database):
    writer = connect(database)
    writer.execute("INSERT INTO notes (text) VALUES ('uncommitted')")
    reader = connect(database, timeout=0)
    assert reader.execute("SELECT count(*) FROM notes").fetchone() == (0,)
    writer.commit()
    assert reader.execute("SELECT count(*) FROM notes").fetchone() == (1,)


def test_each_database_file_has_its_own_queue(database, tmp_path):
    other_path = tmp_path / "other.db"
    with connect(other_path) as setup:
        setup.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT UNIQUE)")
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('held')")
    thread, outcome = write_in_thread(other_path, "elsewhere")
    thread.join(5)
    assert outcome == ["written"]
    first.rollback()


def test_a_writer_that_cannot_join_the_queue_meets_sqlites_own_lock(database):
    first = connect(database)
    first.execute("INSERT INTO notes (text) VALUES ('held')")
    impatient = connect(database, timeout=0.1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        impatient.execute("INSERT INTO notes (text) VALUES ('refused')")
    first.commit()
    impatient.execute("INSERT INTO notes (text) VALUES ('later')")
    impatient.commit()
