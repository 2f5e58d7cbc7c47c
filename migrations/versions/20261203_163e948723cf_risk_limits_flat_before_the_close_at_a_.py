"""risk_limits: flat before the close, at a set time or minutes before the session ends

Auto-flatten (guard rails): each trading day at `flatten_at` ("HH:MM" in the trading
window's zone) or `flatten_before_close_minutes` before the session closes, the account is
flattened and refuses entries until the next session. Off (null) for existing accounts.

Revision ID: 163e948723cf
Revises: fe295fcd512a
Create Date: 2026-12-03 08:16:37.964451
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '163e948723cf'
down_revision: str | None = 'fe295fcd512a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flatten_at', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('flatten_before_close_minutes', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.drop_column('flatten_before_close_minutes')
        batch_op.drop_column('flatten_at')
