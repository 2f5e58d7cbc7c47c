"""calendar_events and the news blackout rule

Economic events the trader imports (iCalendar or CSV), and per account a news blackout:
no new entries from minutes before to minutes after an event of enough impact. Off for
existing accounts.

Revision ID: 205215a0ead2
Revises: 2f01cde8eae0
Create Date: 2026-12-03 08:45:53.168116
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '205215a0ead2'
down_revision: str | None = '2f01cde8eae0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('calendar_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=255), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('impact', sa.String(length=8), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("impact IN ('low', 'medium', 'high')", name=op.f('ck_calendar_events_impact_allowed')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_events')),
    sa.UniqueConstraint('uid', name=op.f('uq_calendar_events_uid'))
    )
    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_events_starts_at'), ['starts_at'], unique=False)

    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('news_blackout', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.drop_column('news_blackout')

    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_events_starts_at'))

    op.drop_table('calendar_events')
