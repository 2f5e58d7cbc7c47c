"""The paper venue's books on PostgreSQL, where several processes open and use them."""

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.brokers.paper import store
from app.brokers.paper.broker import PaperBroker
from app.extensions import db
from app.models import BrokerAccount
from app.services.market import prices
from tests.conftest import make_config
from tests.integration.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(tmp_path):
    """An app on a private schema of the local PostgreSQL (dropped afterwards)."""
    schema = f"dp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
    made = create_app(make_config(tmp_path, DATABASE_URL=url))
    yield made
    with made.app_context():
        db.engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def test_a_book_another_process_is_opening_is_found_not_a_failure(app):
    """The worker's poller and a web process's first alert may reach a new paper account at
    the same moment: the one that opens its book second must find it, not fail the alert."""
    with app.app_context():
        now = datetime.now(UTC)
        account_id = db.session.execute(
            insert(BrokerAccount).returning(BrokerAccount.id),
            {"name": "New", "broker": "paper", "environment": "demo", "enabled": True,
             "created_at": now, "updated_at": now},
        ).scalar()  # fmt: skip
        db.session.commit()
    opening, opened = threading.Event(), threading.Event()

    def other_process() -> None:
        """Opens the book and holds its transaction open until the broker below waits."""
        with app.app_context():
            store.open_account(account_id, Decimal(50_000))
            opening.set()
            opened.wait(timeout=10)
            db.session.commit()
            db.session.remove()

    first = threading.Thread(target=other_process)
    first.start()
    assert opening.wait(timeout=10)
    timer = threading.Timer(0.5, opened.set)  # commits while the broker's insert waits on it
    timer.start()
    try:
        with app.app_context():
            assert PaperBroker(account_id, Decimal(50_000)).positions() == []
            assert store.version_of(account_id) == 0
            db.session.remove()
    finally:
        opened.set()
        timer.cancel()
        first.join(timeout=10)


def test_a_first_price_another_process_is_quoting_leaves_the_alert_session_usable(app):
    """Two web processes' first alerts for a symbol publish its first print at once: the
    second process's quote must update the first's row, not fail its alert's session."""
    at = datetime.now(UTC)
    quoting, quoted = threading.Event(), threading.Event()

    def other_process() -> None:
        with app.app_context():
            store.write_quote("MESZ6", Decimal("6000.25"), at)
            db.session.flush()  # the row is written, its transaction still open
            quoting.set()
            quoted.wait(timeout=10)
            db.session.commit()
            db.session.remove()

    first = threading.Thread(target=other_process)
    first.start()
    assert quoting.wait(timeout=10)
    timer = threading.Timer(0.5, quoted.set)  # commits while the print below waits on it
    timer.start()
    try:
        with app.app_context():
            prices.update("MESZ6", Decimal("6000.50"), at, "alert")  # subscribers: the venue
            assert db.session.execute(text("SELECT 1")).scalar() == 1  # no failed flush
            assert store.quotes(["MESZ6"])["MESZ6"][0] == Decimal("6000.50")
            db.session.remove()
    finally:
        quoted.set()
        timer.cancel()
        first.join(timeout=10)
