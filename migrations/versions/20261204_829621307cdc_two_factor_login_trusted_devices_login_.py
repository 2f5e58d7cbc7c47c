"""two-factor login, trusted devices, login sightings, webhook signing and allowlist

The owner's existing row takes the defaults: two-factor off, no SMS factor, any sender.

Revision ID: 829621307cdc
Revises: 425aee1e5655
Create Date: 2026-12-04 16:24:14.642411
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "829621307cdc"
down_revision: str | None = "425aee1e5655"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value_hash", sa.String(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sightings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sightings")),
        sa.UniqueConstraint(
            "user_id", "kind", "value_hash", name=op.f("uq_login_sightings_user_id_kind_value_hash")
        ),
    )
    op.create_table(
        "trusted_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_trusted_devices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_devices")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_trusted_devices_token_hash")),
    )
    with op.batch_alter_table("trusted_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trusted_devices_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signing_secret_encrypted", sa.Text(), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("second_factor_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("second_factor_locked_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sms_second_factor", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("sms_code_hash", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("sms_code_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "webhook_allowlist", sa.JSON(), nullable=False, server_default=sa.text("'[]'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("webhook_allowlist")
        batch_op.drop_column("sms_code_expires_at")
        batch_op.drop_column("sms_code_hash")
        batch_op.drop_column("sms_second_factor")
        batch_op.drop_column("second_factor_locked_until")
        batch_op.drop_column("second_factor_failures")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")

    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.drop_column("signing_secret_encrypted")

    with op.batch_alter_table("trusted_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trusted_devices_user_id"))

    op.drop_table("trusted_devices")
    op.drop_table("login_sightings")
