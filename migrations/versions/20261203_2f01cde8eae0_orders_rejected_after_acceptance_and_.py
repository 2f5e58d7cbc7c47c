"""orders: rejected after acceptance, and whether protection acted on it

A rejection that arrives after the broker accepted an order (above all a protective
stop) is stamped by the ledger and acted on once by protection (halt, tell the trader).
Existing orders have none.

Revision ID: 2f01cde8eae0
Revises: 3426911965e0
Create Date: 2026-12-03 08:39:08.450554
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '2f01cde8eae0'
down_revision: str | None = '3426911965e0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rejected_late_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('late_rejection_handled', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index(batch_op.f('ix_orders_rejected_late_at'), ['rejected_late_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_rejected_late_at'))
        batch_op.drop_column('late_rejection_handled')
        batch_op.drop_column('rejected_late_at')
