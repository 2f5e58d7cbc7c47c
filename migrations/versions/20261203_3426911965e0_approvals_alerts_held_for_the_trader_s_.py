"""approvals: alerts held for the trader's click; strategies.require_approval

A strategy that requires approval holds its alerts (event status `pending_approval`) until
the trader approves or rejects them, or the strategy's max alert age passes. Existing
strategies trade at once, as before.

Revision ID: 3426911965e0
Revises: 163e948723cf
Create Date: 2026-12-03 08:30:50.884390
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '3426911965e0'
down_revision: str | None = '163e948723cf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ('received', 'executed', 'partially_executed', 'rejected', 'duplicate', 'expired', 'failed')
AFTER = (*BEFORE, 'pending_approval')


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _event_statuses(values: tuple[str, ...]) -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_webhook_events_status_allowed'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_webhook_events_status_allowed'), sa.text(f"status IN ({_allowed(values)})")
        )


def upgrade() -> None:
    op.create_table('approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_event_id', sa.Integer(), nullable=False),
    sa.Column('strategy_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'expired')", name=op.f('ck_approvals_status_allowed')),
    sa.ForeignKeyConstraint(['strategy_id'], ['strategies.id'], name=op.f('fk_approvals_strategy_id_strategies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_event_id'], ['webhook_events.id'], name=op.f('fk_approvals_webhook_event_id_webhook_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals')),
    sa.UniqueConstraint('webhook_event_id', name=op.f('uq_approvals_webhook_event_id'))
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approvals_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_approvals_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_approvals_strategy_id'), ['strategy_id'], unique=False)

    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('require_approval', sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _event_statuses(AFTER)



def downgrade() -> None:
    # The code before this revision holds no alert: a held one reads as expired.
    op.execute("UPDATE webhook_events SET status = 'expired' WHERE status = 'pending_approval'")
    _event_statuses(BEFORE)
    with op.batch_alter_table('strategies', schema=None) as batch_op:
        batch_op.drop_column('require_approval')

    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approvals_strategy_id'))
        batch_op.drop_index(batch_op.f('ix_approvals_status'))
        batch_op.drop_index(batch_op.f('ix_approvals_expires_at'))

    op.drop_table('approvals')
