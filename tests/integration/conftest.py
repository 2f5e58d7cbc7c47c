"""Fixtures for the integration suite: a real PostgreSQL server, and an owner whose
notifications have a channel that can send."""

import uuid

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import User
from app.services.setup.crypto import encrypt_text
from tests.fakes.webhook_receiver import WEBHOOK_SECRET

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def postgres_engine():
    """An engine on a private, empty schema of the local PostgreSQL (dropped afterwards);
    the test is skipped only when the server is unreachable."""
    schema = f"dp_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at 127.0.0.1:5432: {exc.orig}")
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def hooked(app, webhook_receiver):
    """The owner's outgoing webhook pointed at the receiver, with its secret: a channel
    that can send, so every notification is an outbox row."""
    with app.app_context():
        user = db.session.scalar(select(User))
        user.outgoing_webhook_url = webhook_receiver.url
        user.outgoing_webhook_secret_encrypted = encrypt_text(WEBHOOK_SECRET)
        db.session.commit()
    return webhook_receiver
