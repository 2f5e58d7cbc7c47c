"""notifications outbox, preferences and the owner's channel settings

The owner's existing row takes the defaults: STARTTLS and no addresses.

Revision ID: 425aee1e5655
Revises: ab22bb1c53f5
Create Date: 2026-12-03 17:26:44.946719
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "425aee1e5655"
down_revision: str | None = "ab22bb1c53f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "discord",
                "email",
                "sms",
                "webhook",
                name="notificationchannel",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column(
            "tone",
            sa.Enum("good", "bad", "warning", "info", name="tone", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("strategy_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "sent", "failed", name="notificationstatus", native_enum=False, length=8
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "channel IN ('discord', 'email', 'sms', 'webhook')",
            name=op.f("ck_notifications_channel_allowed"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name=op.f("ck_notifications_status_allowed")
        ),
        sa.CheckConstraint(
            "tone IN ('good', 'bad', 'warning', 'info')", name=op.f("ck_notifications_tone_allowed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_channel_created", ["channel", "created_at"], unique=False
        )
        batch_op.create_index("ix_notifications_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "notification_prefs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("strategy_ids", sa.JSON(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("quiet_start", sa.Time(), nullable=True),
        sa.Column("quiet_end", sa.Time(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_prefs_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_prefs")),
        sa.UniqueConstraint("user_id", name=op.f("uq_notification_prefs_user_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_summary_time", sa.Time(), nullable=True))
        batch_op.add_column(sa.Column("discord_bot_token_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("smtp_host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("smtp_port", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "smtp_security", sa.String(length=8), nullable=False, server_default="starttls"
            )
        )
        batch_op.add_column(sa.Column("smtp_username", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("smtp_password_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("email_from", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("email_to", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("sms_to", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(sa.Column("textbelt_key_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("outgoing_webhook_url", sa.String(length=2000), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outgoing_webhook_secret_encrypted", sa.Text(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("outgoing_webhook_secret_encrypted")
        batch_op.drop_column("outgoing_webhook_url")
        batch_op.drop_column("textbelt_key_encrypted")
        batch_op.drop_column("sms_to")
        batch_op.drop_column("email_to")
        batch_op.drop_column("email_from")
        batch_op.drop_column("smtp_password_encrypted")
        batch_op.drop_column("smtp_username")
        batch_op.drop_column("smtp_security")
        batch_op.drop_column("smtp_port")
        batch_op.drop_column("smtp_host")
        batch_op.drop_column("discord_bot_token_encrypted")
        batch_op.drop_column("daily_summary_time")

    op.drop_table("notification_prefs")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_due")
        batch_op.drop_index("ix_notifications_channel_created")

    op.drop_table("notifications")
