"""fills: commission unknown until the broker posts the fees

Revision ID: 884d240dc971
Revises: 53469225feb8
Create Date: 2026-12-02 13:25:41.848556
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '884d240dc971'
down_revision: str | None = '53469225feb8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.alter_column('commission',
               existing_type=sa.NUMERIC(precision=18, scale=4),
               nullable=True)



def downgrade() -> None:
    # Fees still unposted count as none in the older schema.
    op.execute("UPDATE fills SET commission = 0 WHERE commission IS NULL")
    with op.batch_alter_table('fills', schema=None) as batch_op:
        batch_op.alter_column('commission',
               existing_type=sa.NUMERIC(precision=18, scale=4),
               nullable=False)

