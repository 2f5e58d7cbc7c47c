"""Alembic is the only way the schema is made: models and migrations must agree."""

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from app.models import Base
from app.schema import alembic_config, upgrade_to_head


def differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def downgrade_to_base(engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def test_sqlite_schema_matches_models(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_to_head(engine)
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)


def test_sqlite_downgrade_to_base_and_back(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade_to_head(engine)
    downgrade_to_base(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(engine)
    assert differences(engine) == []


@pytest.mark.postgres
def test_postgres_schema_matches_models(postgres_engine):
    upgrade_to_head(postgres_engine)
    assert differences(postgres_engine) == []
    columns = {c["name"]: c for c in inspect(postgres_engine).get_columns("trades")}
    assert str(columns["pnl"]["type"]) == "NUMERIC(18, 4)"
    assert str(columns["entry_price"]["type"]) == "NUMERIC(20, 9)"


@pytest.mark.postgres
def test_postgres_downgrade_and_upgrade(postgres_engine):
    upgrade_to_head(postgres_engine)
    downgrade_to_base(postgres_engine)
    upgrade_to_head(postgres_engine)
    assert differences(postgres_engine) == []


def test_constraints_keep_data_honest(app):
    from sqlalchemy.exc import IntegrityError

    from app.extensions import db

    with app.app_context():
        for statement in [
            "INSERT INTO broker_accounts (name, broker, environment, enabled, created_at,"
            " updated_at) VALUES ('x', 'ibkr', 'demo', 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO traders (strategy_id, account_id, quantity_multiplier, enabled,"
            " created_at, updated_at) VALUES (999, 999, 1, 1, '2026-01-01', '2026-01-01')",
            "INSERT INTO orders (account_id, client_order_id, symbol, side, quantity, order_type,"
            " role, status, filled_quantity, created_at, updated_at) VALUES (1, 'a', 'ES', 'hold',"
            " 1, 'market', 'entry', 'pending', 0, '2026-01-01', '2026-01-01')",
        ]:
            with pytest.raises(IntegrityError):
                db.session.execute(text(statement))
            db.session.rollback()
