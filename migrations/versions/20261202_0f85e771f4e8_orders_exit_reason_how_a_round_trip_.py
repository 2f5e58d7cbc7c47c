"""orders.exit_reason: how a round trip closed by this order ended, when its role does not say

A trailing stop's stop order used to be told apart by its group id ("trail-<id>"): the
ledger read that prefix to write `trailing_stop` on the trade. The reason is now a typed
column set by whoever drives the order — `trailing_stop` on a trail's stops and market
exits, `break_even` on a stop moved to break-even — and trades may end `break_even`.
Existing trailing stops' orders are carried over by their group id one last time.

Revision ID: 0f85e771f4e8
Revises: 7d2c4b0ffa9f
Create Date: 2026-12-02 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0f85e771f4e8'
down_revision: str | None = '7d2c4b0ffa9f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ('take_profit', 'stop_loss', 'trailing_stop', 'signal', 'manual', 'kill_switch')
AFTER = ('take_profit', 'stop_loss', 'trailing_stop', 'break_even', 'signal', 'manual', 'kill_switch')
TRAIL_GROUP = 'trail-'  # the group id prefix of a trailing stop's orders (advanced_orders)

orders = sa.table(
    'orders',
    sa.column('role', sa.String),
    sa.column('group_id', sa.String),
    sa.column('exit_reason', sa.String),
)


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exit_reason', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_orders_exit_reason_allowed'), sa.text(f"exit_reason IN ({_allowed(AFTER)})")
        )
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_trades_exit_reason_allowed'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_trades_exit_reason_allowed'), sa.text(f"exit_reason IN ({_allowed(AFTER)})")
        )
    op.execute(
        orders.update()
        .where(orders.c.role == 'stop_loss', orders.c.group_id.like(f'{TRAIL_GROUP}%'))
        .values(exit_reason='trailing_stop')
    )


def downgrade() -> None:
    # The code before this revision has no break-even: such trades read as stop losses.
    op.execute("UPDATE trades SET exit_reason = 'stop_loss' WHERE exit_reason = 'break_even'")
    with op.batch_alter_table('trades', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_trades_exit_reason_allowed'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_trades_exit_reason_allowed'), sa.text(f"exit_reason IN ({_allowed(BEFORE)})")
        )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_exit_reason_allowed'), type_='check')
        batch_op.drop_column('exit_reason')
