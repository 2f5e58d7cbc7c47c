"""indexes for the monitor: changed orders, watched revisions

The monitor used to scan every watched row and join its four orders each tick to find
those whose orders had settled (14 ms at 10,000 rows). It now starts from the orders
changed since its last look (`orders.updated_at`) and reaches their advanced orders by
the order columns; the watched rows' revisions are read from one covering index, which
also serves every lookup by status.

Revision ID: 999c7d3dcf74
Revises: b141b517fe27
Create Date: 2026-12-02 17:03:10.349112
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '999c7d3dcf74'
down_revision: str | None = 'b141b517fe27'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('advanced_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advanced_orders_status'))
        batch_op.create_index(batch_op.f('ix_advanced_orders_entry_order_id'), ['entry_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advanced_orders_exit_order_id'), ['exit_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advanced_orders_position_id'), ['position_id'], unique=False)
        batch_op.create_index('ix_advanced_orders_status_revision', ['status', 'revision'], unique=False)
        batch_op.create_index(batch_op.f('ix_advanced_orders_stop_order_id'), ['stop_order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_advanced_orders_take_profit_order_id'), ['take_profit_order_id'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_updated_at'))

    with op.batch_alter_table('advanced_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_advanced_orders_take_profit_order_id'))
        batch_op.drop_index(batch_op.f('ix_advanced_orders_stop_order_id'))
        batch_op.drop_index('ix_advanced_orders_status_revision')
        batch_op.drop_index(batch_op.f('ix_advanced_orders_position_id'))
        batch_op.drop_index(batch_op.f('ix_advanced_orders_exit_order_id'))
        batch_op.drop_index(batch_op.f('ix_advanced_orders_entry_order_id'))
        batch_op.create_index(batch_op.f('ix_advanced_orders_status'), ['status'], unique=False)
