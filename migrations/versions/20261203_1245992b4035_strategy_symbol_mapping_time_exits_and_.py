"""strategy symbol mapping, time exits and silence watchdog; broker_locked halts; news flatten and stop-modify budget state

Every new column is null for existing rows, which keeps today's behaviour: the alert's
own contract and quantity, no timeout, no time exit, no watchdog, no news flatten done.
`halted_by` may now say `broker_locked` (the broker refused because the account is locked
or liquidation-only); going back, such a halt becomes the trader's own (`manual`), which
the trader lifts the same way. An order's `reject_code` may say `broker_locked` too (going
back: `broker_rejected`, which it also was), and an exit reason `time_exit` (the strategy's
exit_after_minutes closed the position).

Revision ID: 1245992b4035
Revises: 720a68876d16
Create Date: 2026-12-03 13:25:11.931192
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1245992b4035"
down_revision: str | None = "720a68876d16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("kill_switch", "daily_loss", "manual", "rule", "done_for_day", "session_end")
AFTER = (*BEFORE, "broker_locked")
CODES_BEFORE = (
    "risk",
    "halted",
    "kill_switch",
    "no_price",
    "invalid_exits",
    "broker_rejected",
    "broker_error",
)
CODES_AFTER = (*CODES_BEFORE, "broker_locked")
EXITS_BEFORE = (
    "take_profit",
    "stop_loss",
    "trailing_stop",
    "break_even",
    "signal",
    "manual",
    "kill_switch",
)
EXITS_AFTER = (*EXITS_BEFORE, "time_exit")
EXIT_TABLES = ("orders", "trades", "trade_exits")


def _allowed(table: str, column: str, values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{value}'" for value in values)
    with op.batch_alter_table(table, schema=None) as batch_op:
        name = batch_op.f(f"ck_{table}_{column}_allowed")
        batch_op.drop_constraint(name, type_="check")
        batch_op.create_check_constraint(name, sa.text(f"{column} IN ({allowed})"))


def upgrade() -> None:
    with op.batch_alter_table("advanced_orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("stop_modified_at", sa.DateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_after", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_orders_cancel_after"), ["cancel_after"], unique=False)

    with op.batch_alter_table("risk_limits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("news_flattened_event_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_risk_limits_news_flattened_event_id_calendar_events"),
            "calendar_events",
            ["news_flattened_event_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trade_symbol", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("quantity_ratio", sa.Numeric(precision=10, scale=4), nullable=True)
        )
        batch_op.add_column(sa.Column("entry_timeout_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("exit_after_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("expect_alert_every_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("silence_reported_at", sa.DateTime(timezone=True), nullable=True)
        )

    _allowed("risk_limits", "halted_by", AFTER)
    _allowed("orders", "reject_code", CODES_AFTER)
    for table in EXIT_TABLES:
        _allowed(table, "exit_reason", EXITS_AFTER)


def downgrade() -> None:
    op.execute("UPDATE risk_limits SET halted_by = 'manual' WHERE halted_by = 'broker_locked'")
    op.execute(
        "UPDATE orders SET reject_code = 'broker_rejected' WHERE reject_code = 'broker_locked'"
    )
    _allowed("risk_limits", "halted_by", BEFORE)
    _allowed("orders", "reject_code", CODES_BEFORE)
    for table in EXIT_TABLES:  # a time exit was the strategy's own doing: a signal's
        op.execute(f"UPDATE {table} SET exit_reason = 'signal' WHERE exit_reason = 'time_exit'")
        _allowed(table, "exit_reason", EXITS_BEFORE)
    with op.batch_alter_table("strategies", schema=None) as batch_op:
        batch_op.drop_column("silence_reported_at")
        batch_op.drop_column("expect_alert_every_minutes")
        batch_op.drop_column("exit_after_minutes")
        batch_op.drop_column("entry_timeout_seconds")
        batch_op.drop_column("quantity_ratio")
        batch_op.drop_column("trade_symbol")

    with op.batch_alter_table("risk_limits", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_risk_limits_news_flattened_event_id_calendar_events"), type_="foreignkey"
        )
        batch_op.drop_column("news_flattened_event_id")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_cancel_after"))
        batch_op.drop_column("cancel_after")

    with op.batch_alter_table("advanced_orders", schema=None) as batch_op:
        batch_op.drop_column("stop_modified_at")
