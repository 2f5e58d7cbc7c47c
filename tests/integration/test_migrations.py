"""Alembic is the only way the schema is made: models and migrations must agree."""

import json
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from app.brokers.paper import tables as paper_tables  # noqa: F401 - the venue's tables
from app.models import Base
from app.schema import alembic_config, upgrade_to_head


def differences(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def upgrade_to(engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


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


BEFORE_PAPER_TABLES = "461b242405df"
NOW = "'2026-11-30 15:00:00'"


def test_an_open_paper_bracket_survives_the_move_to_the_venue_tables(tmp_path):
    """A paper position with its working take profit and stop, as the old venue kept them in
    our tables, is the venue's book after the upgrade: the stop still fills and closes it."""
    from datetime import UTC, datetime
    from decimal import Decimal as D

    from app import create_app
    from app.extensions import db
    from app.models import Trade
    from app.services.market import prices
    from app.services.setup.access import broker_for
    from tests.conftest import make_config

    database = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{database}")
    upgrade_to(engine, BEFORE_PAPER_TABLES)
    with engine.begin() as connection:
        for statement in [
            "INSERT INTO broker_accounts (id, name, broker, environment, enabled, "
            "starting_balance, cash_balance, created_at, updated_at) VALUES "
            f"(1, 'Paper', 'paper', 'demo', 1, 10000, 9997.5, {NOW}, {NOW})",
            *[
                "INSERT INTO orders (account_id, client_order_id, broker_order_id, symbol, side, "
                "quantity, order_type, limit_price, stop_price, role, group_id, status, "
                f"filled_quantity, avg_fill_price, created_at, updated_at) VALUES {values}"
                for values in [
                    f"(1, 'e1', 'paper-e1', 'ESZ6', 'buy', 2, 'market', NULL, NULL, 'entry', "
                    f"'g1', 'filled', 2, 6000, {NOW}, {NOW})",
                    f"(1, 'tp1', 'paper-tp1', 'ESZ6', 'sell', 2, 'limit', 6010, NULL, "
                    f"'take_profit', 'g1', 'working', 0, NULL, {NOW}, {NOW})",
                    f"(1, 'sl1', 'paper-sl1', 'ESZ6', 'sell', 2, 'stop', NULL, 5995, "
                    f"'stop_loss', 'g1', 'working', 0, NULL, {NOW}, {NOW})",
                ]
            ],
            "INSERT INTO fills (account_id, order_id, broker_fill_id, symbol, side, quantity, "
            "price, commission, filled_at) VALUES "
            f"(1, 1, 'e1-1', 'ESZ6', 'buy', 2, 6000, 2.5, {NOW})",
            "INSERT INTO positions (account_id, symbol, quantity, avg_price, realized_pnl, "
            f"manual, opened_at, updated_at) VALUES (1, 'ESZ6', 2, 6000, 0, 0, {NOW}, {NOW})",
        ]:
            connection.execute(text(statement))
    upgrade_to_head(engine)
    assert differences(engine) == []

    app = create_app(make_config(tmp_path, DATABASE_URL=f"sqlite:///{database}"))
    with app.app_context():
        from app.models import BrokerAccount

        venue = broker_for(db.session.get(BrokerAccount, 1))
        assert [(p.symbol, p.qty, p.avg_price) for p in venue.positions()] == [("ESZ6", 2, D(6000))]
        assert {o.client_order_id for o in venue.working_orders()} == {"tp1", "sl1"}
        assert venue.account_state().cash == D("9997.5")
        prices.update("ESZ6", D("5994"), datetime.now(UTC), "test")
        (trade,) = db.session.scalars(select(Trade)).all()
        assert (trade.exit_reason, trade.quantity, trade.exit_price) == ("stop_loss", 2, D(5994))
        assert venue.positions() == [] and venue.working_orders() == []
        db.engine.dispose()


# --- the data carried into typed columns ------------------------------------------------------

BEFORE_TYPED_HALTS = "461b242405df"  # the revision before reject_code and halted_by
SEEDED_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)

# Halted reasons as the code before wrote them, and the kind each must become.
OLD_HALTS = [
    (True, "kill switch: engaged by admin (session)", "kill_switch"),
    (
        True,
        "daily loss limit 500 reached: today's P&L -512.5 (realized -500, open -12.5)",
        "daily_loss",
    ),
    (True, "lunch", "manual"),
    (True, None, "manual"),
    (False, None, None),
]
# Refused orders as the code before recorded them, and the code each must become.
OLD_ORDERS = [
    ("rejected", "risk: account is halted: lunch", "halted"),
    ("rejected", "risk: 2 contracts exceed the limit of 1 per order", "risk"),
    ("rejected", "kill switch engaged: no new exposure", "kill_switch"),
    ("rejected", "price: no price known for MESZ6 to set the exits from", "no_price"),
    ("rejected", "take_profit: would be at -3.25, not a price", "invalid_exits"),
    ("rejected", "Tradovate: Access is denied (UnknownReason)", "broker_rejected"),
    ("failed", "Tradovate did not answer: timed out", "broker_error"),
    ("filled", None, None),
    ("cancelled", "cancelled by the kill switch", None),
]


def migrate(engine, direction: str, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, revision)


def insert_account(connection, account_id: int) -> None:
    """A paper account row as any revision since the first one holds it."""
    connection.execute(
        text(
            "INSERT INTO broker_accounts (id, name, broker, environment, enabled,"
            " created_at, updated_at) VALUES (:id, :name, 'paper', 'demo', :on, :at, :at)"
        ),
        {"id": account_id, "name": f"Paper {account_id}", "on": True, "at": SEEDED_AT},
    )


def seed_old_rows(engine) -> None:
    """Accounts with halts and orders with refusals, written at the previous revision."""
    at = {"at": SEEDED_AT}
    with engine.begin() as connection:
        for n, (halted, reason, _) in enumerate(OLD_HALTS, start=1):
            insert_account(connection, n)
            connection.execute(
                text(
                    "INSERT INTO risk_limits (account_id, risk_mode, halted, halted_reason,"
                    " updated_at) VALUES (:id, 'moderate', :halted, :reason, :at)"
                ),
                {"id": n, "halted": halted, "reason": reason, **at},
            )
        for n, (status, reason, _) in enumerate(OLD_ORDERS, start=1):
            connection.execute(
                text(
                    "INSERT INTO orders (account_id, client_order_id, symbol, side, quantity,"
                    " order_type, role, status, filled_quantity, reason, created_at, updated_at)"
                    " VALUES (1, :cid, 'MESZ6', 'buy', 1, 'market', 'entry', :status, 0, :reason,"
                    " :at, :at)"
                ),
                {"cid": f"dp-{n}", "status": status, "reason": reason, **at},
            )


def carry_over_round_trip(engine) -> None:
    migrate(engine, "upgrade", BEFORE_TYPED_HALTS)
    seed_old_rows(engine)
    upgrade_to_head(engine)
    with engine.connect() as connection:
        kinds = connection.execute(
            text("SELECT halted_by FROM risk_limits ORDER BY account_id")
        ).scalars()
        codes = connection.execute(text("SELECT reject_code FROM orders ORDER BY id")).scalars()
        assert list(kinds) == [kind for _, _, kind in OLD_HALTS]
        assert list(codes) == [code for _, _, code in OLD_ORDERS]
        # Every account said 'moderate' and nothing read it: no mode now, so no resizing.
        modes = connection.execute(text("SELECT DISTINCT risk_mode FROM risk_limits")).scalars()
        assert list(modes) == [None]
    with engine.begin() as connection:  # a trader's own halt, worded like the kill switch's
        connection.execute(
            text(
                "UPDATE risk_limits SET halted_reason = 'kill switch: my words'"
                " WHERE account_id = 3"
            )
        )

    migrate(engine, "downgrade", BEFORE_TYPED_HALTS)

    with engine.connect() as connection:
        reasons = connection.execute(
            text("SELECT halted_reason FROM risk_limits ORDER BY account_id")
        ).scalars()
        assert list(reasons)[:3] == [
            OLD_HALTS[0][1],  # the kill switch's, still read as its own
            OLD_HALTS[1][1],
            "halted: kill switch: my words",  # no longer mistaken for the kill switch's
        ]
        modes = connection.execute(text("SELECT DISTINCT risk_mode FROM risk_limits")).scalars()
        assert list(modes) == ["moderate"]  # the column is required again below
    columns = {c["name"] for c in inspect(engine).get_columns("risk_limits")}
    assert "halted_by" not in columns
    assert "reject_code" not in {c["name"] for c in inspect(engine).get_columns("orders")}


def test_sqlite_carries_halts_and_refusals_into_typed_columns_and_back(tmp_path):
    carry_over_round_trip(create_engine(f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_postgres_carries_halts_and_refusals_into_typed_columns_and_back(postgres_engine):
    carry_over_round_trip(postgres_engine)


BEFORE_EXIT_REASONS = "7d2c4b0ffa9f"  # the revision before orders.exit_reason


def exit_reasons_round_trip(engine) -> None:
    """A trailing stop's order (told apart by its group id until then) carries its exit
    reason into the typed column; a break-even trade reads as a stop loss after a
    downgrade, which knows no break-even."""
    migrate(engine, "upgrade", BEFORE_EXIT_REASONS)
    at = {"at": SEEDED_AT}
    with engine.begin() as connection:
        insert_account(connection, 1)
        for n, group in enumerate(("trail-3", "g-1", None), start=1):
            connection.execute(
                text(
                    "INSERT INTO orders (account_id, client_order_id, symbol, side, quantity,"
                    " order_type, role, group_id, status, filled_quantity, created_at,"
                    " updated_at) VALUES (1, :cid, 'MESZ6', 'sell', 1, 'stop', 'stop_loss',"
                    " :group, 'working', 0, :at, :at)"
                ),
                {"cid": f"dp-{n}", "group": group, **at},
            )
    upgrade_to_head(engine)
    with engine.begin() as connection:
        reasons = connection.execute(text("SELECT exit_reason FROM orders ORDER BY id"))
        assert list(reasons.scalars()) == ["trailing_stop", None, None]
        connection.execute(
            text(
                "INSERT INTO trades (account_id, symbol, side, quantity, entry_price, exit_price,"
                " entry_time, exit_time, gross_pnl, commission, pnl, exit_reason) VALUES (1,"
                " 'MESZ6', 'long', 1, 5000, 5000.25, :at, :at, 1.25, 0, 1.25, 'break_even')"
            ),
            at,
        )
    migrate(engine, "downgrade", BEFORE_EXIT_REASONS)
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT exit_reason FROM trades")).scalars()
        assert list(kept) == ["stop_loss"]
    assert "exit_reason" not in {c["name"] for c in inspect(engine).get_columns("orders")}


def test_sqlite_carries_trailing_stop_exits_into_a_typed_column_and_back(tmp_path):
    exit_reasons_round_trip(create_engine(f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_postgres_carries_trailing_stop_exits_into_a_typed_column_and_back(postgres_engine):
    exit_reasons_round_trip(postgres_engine)


BEFORE_NOTIFICATIONS = "ab22bb1c53f5"  # the revision before the owner's channel settings


def owner_gets_channel_defaults(engine) -> None:
    """The owner made before notifications existed keeps their row and reads STARTTLS and
    no addresses: the new not-null columns need a server default for existing rows."""
    migrate(engine, "upgrade", BEFORE_NOTIFICATIONS)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, password_hash, session_nonce, failed_logins,"
                " discord_dm_enabled, timezone, created_at) VALUES ('owner', 'x', 'n', 0,"
                " false, 'UTC', :at)"
            ),
            {"at": SEEDED_AT},
        )
    upgrade_to_head(engine)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT smtp_security, email_to, sms_to FROM users")).one()
    assert row[0] == "starttls"
    assert [json.loads(v) if isinstance(v, str) else v for v in row[1:]] == [[], []]


def test_sqlite_owner_gets_channel_defaults(tmp_path):
    owner_gets_channel_defaults(create_engine(f"sqlite:///{tmp_path / 'm.db'}"))


@pytest.mark.postgres
def test_postgres_owner_gets_channel_defaults(postgres_engine):
    owner_gets_channel_defaults(postgres_engine)
