"""equity_snapshots: the account's money at each closed trade and each day's end

Empty to begin with: the curve starts at the first trade closed or day ended after this
revision (the trades before it are in `trades` for the analytics to replay).

Revision ID: ab22bb1c53f5
Revises: 47a10d18b68a
Create Date: 2026-12-03 14:03:26.728742
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ab22bb1c53f5"
down_revision: str | None = "47a10d18b68a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "equity_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("trade", "day", name="snapshotkind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("balance", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("realized", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("unrealized", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("equity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.CheckConstraint(
            "kind IN ('trade', 'day')", name=op.f("ck_equity_snapshots_kind_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["broker_accounts.id"],
            name=op.f("fk_equity_snapshots_account_id_broker_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name=op.f("fk_equity_snapshots_trade_id_trades"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_snapshots")),
    )
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_equity_snapshots_account_taken", ["account_id", "taken_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("equity_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_equity_snapshots_account_taken")

    op.drop_table("equity_snapshots")
