"""risk_limits.halted_by: who halted an account decides what lifts it

Until now the kind of a halt was read from the wording of its reason (the kill switch's
began "kill switch:", the daily loss limit's "daily loss limit"). The kind moves into a
typed column; existing halts are carried over by that wording one last time, and any
other halt is taken as the trader's own (manual), which the trader may lift.

Revision ID: b141b517fe27
Revises: 116e412578d1
Create Date: 2026-12-02 12:52:20.524519
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b141b517fe27'
down_revision: str | None = '116e412578d1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ('kill_switch', 'daily_loss', 'manual', 'rule', 'done_for_day', 'session_end')
# The wording the code wrote before this revision (kill_switch.HALT_PREFIX, the monitor).
KILL_SWITCH_PREFIX = 'kill switch:'
DAILY_LOSS_PREFIX = 'daily loss limit'

risk_limits = sa.table(
    'risk_limits',
    sa.column('halted', sa.Boolean),
    sa.column('halted_reason', sa.String),
    sa.column('halted_by', sa.String),
)


def upgrade() -> None:
    allowed = ", ".join(f"'{kind}'" for kind in KINDS)
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('halted_by', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_risk_limits_halted_by_allowed'), sa.text(f"halted_by IN ({allowed})")
        )
    reason = risk_limits.c.halted_reason
    op.execute(
        risk_limits.update()
        .where(risk_limits.c.halted.is_(True))
        .values(
            halted_by=sa.case(
                (reason.like(f'{KILL_SWITCH_PREFIX}%'), 'kill_switch'),
                (reason.like(f'{DAILY_LOSS_PREFIX}%'), 'daily_loss'),
                else_='manual',
            )
        )
    )


def downgrade() -> None:
    # The code before this revision reads the kind from the reason again: kill-switch
    # halts must begin with its prefix, and no other halt may.
    reason = risk_limits.c.halted_reason
    kind = risk_limits.c.halted_by
    op.execute(
        risk_limits.update()
        .where(kind == 'kill_switch', sa.func.coalesce(reason, '').not_like(f'{KILL_SWITCH_PREFIX}%'))
        .values(halted_reason=sa.func.substr(f'{KILL_SWITCH_PREFIX} ' + sa.func.coalesce(reason, ''), 1, 255))
    )
    op.execute(
        risk_limits.update()
        .where(kind != 'kill_switch', reason.like(f'{KILL_SWITCH_PREFIX}%'))
        .values(halted_reason=sa.func.substr('halted: ' + reason, 1, 255))
    )
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_risk_limits_halted_by_allowed'), type_='check')
        batch_op.drop_column('halted_by')
