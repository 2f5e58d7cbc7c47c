"""Alembic environment: the app's metadata, on a connection the app gives or its engine."""

import logging
from logging.config import fileConfig

from alembic import context

from app import create_app
from app.brokers.paper import tables as paper_tables  # noqa: F401 - the paper venue's tables
from app.extensions import db
from app.models import Base
from app.models.base import UTCDateTime
from config import Config

config = context.config
if config.config_file_name and not config.attributes.get("connection"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def render_item(type_, obj, autogen_context):
    """Write our UTC type as the plain DateTime it stores, so revisions import nothing of ours."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )


class _CommandLineConfig(Config):
    """The app alembic's command line migrates: it neither migrates itself nor runs jobs."""

    AUTO_MIGRATE = False
    SCHEDULER_ENABLED = False


def run_migrations_online() -> None:
    """Migrate on the connection the app hands over (create_app), or, from the alembic
    command line, on the engine of an app built from the environment (DATABASE_URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    app = create_app(_CommandLineConfig)
    with app.app_context(), db.engine.connect() as connection:
        _migrate(connection)


def _migrate(connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
