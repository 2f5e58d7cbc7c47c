"""risk_limits: session_guard, entries only inside the CME session

Null for existing accounts: the broker's default (Tradovate on, paper off).

Revision ID: 720a68876d16
Revises: 205215a0ead2
Create Date: 2026-12-03 08:56:51.133703
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '720a68876d16'
down_revision: str | None = '205215a0ead2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_guard', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.drop_column('session_guard')
