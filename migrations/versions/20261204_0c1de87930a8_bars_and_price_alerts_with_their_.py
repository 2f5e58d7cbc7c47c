"""bars and price alerts with their triggers

New tables only: nothing existing changes.

Revision ID: 0c1de87930a8
Revises: 829621307cdc
Create Date: 2026-12-04 16:52:45.519658
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0c1de87930a8"
down_revision: str | None = "829621307cdc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column(
            "timeframe",
            sa.Enum("1m", "5m", "15m", "1h", "1d", name="timeframe", native_enum=False, length=4),
            nullable=False,
        ),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("high", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("low", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("close", sa.Numeric(precision=20, scale=9), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("prices", "import", "broker", name="barsource", native_enum=False, length=8),
            nullable=False,
        ),
        sa.CheckConstraint(
            "source IN ('prices', 'import', 'broker')", name=op.f("ck_bars_source_allowed")
        ),
        sa.CheckConstraint(
            "timeframe IN ('1m', '5m', '15m', '1h', '1d')", name=op.f("ck_bars_timeframe_allowed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bars")),
        sa.UniqueConstraint(
            "symbol", "timeframe", "start", name=op.f("uq_bars_symbol_timeframe_start")
        ),
    )
    op.create_table(
        "price_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("symbol", sa.String(length=40), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column(
            "joined_by",
            sa.Enum("and", "or", name="conditionjoin", native_enum=False),
            nullable=False,
        ),
        sa.Column(
            "timeframe",
            sa.Enum("1m", "5m", "15m", "1h", "1d", name="timeframe", native_enum=False, length=4),
            nullable=False,
        ),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("max_triggers_per_day", sa.Integer(), nullable=True),
        sa.Column("one_shot", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("last_triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "joined_by IN ('and', 'or')", name=op.f("ck_price_alerts_joined_by_allowed")
        ),
        sa.CheckConstraint(
            "timeframe IN ('1m', '5m', '15m', '1h', '1d')",
            name=op.f("ck_price_alerts_timeframe_allowed"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_alerts")),
    )
    op.create_table(
        "price_alert_triggers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("price_alert_id", sa.Integer(), nullable=False),
        sa.Column("triggered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_alert_id"],
            ["price_alerts.id"],
            name=op.f("fk_price_alert_triggers_price_alert_id_price_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_alert_triggers")),
    )
    with op.batch_alter_table("price_alert_triggers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_price_alert_triggers_price_alert_id"), ["price_alert_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("price_alert_triggers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_price_alert_triggers_price_alert_id"))

    op.drop_table("price_alert_triggers")
    op.drop_table("price_alerts")
    op.drop_table("bars")
