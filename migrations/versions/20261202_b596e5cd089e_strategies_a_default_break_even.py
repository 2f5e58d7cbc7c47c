"""strategies: a default break-even

A strategy may carry a break-even, like its default exits; its alerts take it where it can
act (a stop to move, a market entry). Existing strategies have none.

Revision ID: b596e5cd089e
Revises: 0f85e771f4e8
Create Date: 2026-12-02 17:56:23.945643
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b596e5cd089e'
down_revision: str | None = '0f85e771f4e8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('break_even', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.drop_column('break_even')
