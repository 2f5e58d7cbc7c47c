"""risk_limits: funded-account rules and what they trail

The guard rails of funded accounts (domain.account_rules): trailing drawdown and its mode,
profit target and lock, weekly limits, consistency, loss cooldown, consecutive losses, the
safety buffer and what a breach does — each off (null) for existing accounts — and the
state they trail between looks (high-water mark, last equity, the day's best P&L).

Revision ID: fe295fcd512a
Revises: 706055268c5e
Create Date: 2026-12-03 07:59:13.286351
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'fe295fcd512a'
down_revision: str | None = '706055268c5e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trailing_drawdown', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('trailing_drawdown_mode', sa.String(length=8), nullable=False, server_default='eod'))
        batch_op.add_column(sa.Column('trailing_stops_at_start', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('daily_profit_target', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('profit_lock_trail', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('weekly_loss_limit', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('weekly_profit_target', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('consistency_pct', sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column('loss_cooldown_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_consecutive_losses', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('safety_buffer', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('breach_action', sa.String(length=8), nullable=False, server_default='refuse'))
        batch_op.add_column(sa.Column('high_water_mark', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('last_equity', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('last_equity_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('day_best_pnl', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('day_best_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_risk_limits_trailing_drawdown_mode_allowed'),
            sa.text("trailing_drawdown_mode IN ('eod', 'realtime')"),
        )
        batch_op.create_check_constraint(
            op.f('ck_risk_limits_breach_action_allowed'),
            sa.text("breach_action IN ('refuse', 'flatten')"),
        )


def downgrade() -> None:
    with op.batch_alter_table('risk_limits', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_risk_limits_breach_action_allowed'), type_='check')
        batch_op.drop_constraint(
            op.f('ck_risk_limits_trailing_drawdown_mode_allowed'), type_='check'
        )
        batch_op.drop_column('day_best_since')
        batch_op.drop_column('day_best_pnl')
        batch_op.drop_column('last_equity_at')
        batch_op.drop_column('last_equity')
        batch_op.drop_column('high_water_mark')
        batch_op.drop_column('breach_action')
        batch_op.drop_column('safety_buffer')
        batch_op.drop_column('max_consecutive_losses')
        batch_op.drop_column('loss_cooldown_minutes')
        batch_op.drop_column('consistency_pct')
        batch_op.drop_column('weekly_profit_target')
        batch_op.drop_column('weekly_loss_limit')
        batch_op.drop_column('profit_lock_trail')
        batch_op.drop_column('daily_profit_target')
        batch_op.drop_column('trailing_stops_at_start')
        batch_op.drop_column('trailing_drawdown_mode')
        batch_op.drop_column('trailing_drawdown')

