"""advanced orders: break-even trigger and stop

A trailing stop or OCO pair may move its stop to the entry (plus an offset) once the
price reaches a trigger: both prices are fixed from the entry when it is created. Rows
without break-even keep both empty.

Revision ID: 7d2c4b0ffa9f
Revises: 999c7d3dcf74
Create Date: 2026-12-02 17:17:55.599795
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7d2c4b0ffa9f'
down_revision: str | None = '999c7d3dcf74'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('advanced_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('break_even_trigger', sa.Numeric(precision=20, scale=9), nullable=True))
        batch_op.add_column(sa.Column('break_even_stop', sa.Numeric(precision=20, scale=9), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('advanced_orders', schema=None) as batch_op:
        batch_op.drop_column('break_even_stop')
        batch_op.drop_column('break_even_trigger')
