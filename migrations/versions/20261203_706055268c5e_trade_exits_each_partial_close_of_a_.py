"""trade_exits: each partial close of a round trip, with its reason and exact P&L

A round trip scaled out in steps (targets, then a stop or break-even) is one trade; its
parts are rows here, written as each closing fill is booked and tied to the trade when it
closes. Trades closed before this revision keep no parts: the API shows such a trade as
one exit, the whole of it.

Revision ID: 706055268c5e
Revises: b596e5cd089e
Create Date: 2026-12-03 07:30:44.876640
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '706055268c5e'
down_revision: str | None = 'b596e5cd089e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('trade_exits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('trade_id', sa.Integer(), nullable=True),
    sa.Column('fill_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=20, scale=9), nullable=False),
    sa.Column('exit_reason', sa.Enum('take_profit', 'stop_loss', 'trailing_stop', 'break_even', 'signal', 'manual', 'kill_switch', name='exitreason', native_enum=False, length=16), nullable=False),
    sa.Column('gross_pnl', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('exited_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("exit_reason IN ('take_profit', 'stop_loss', 'trailing_stop', 'break_even', 'signal', 'manual', 'kill_switch')", name=op.f('ck_trade_exits_exit_reason_allowed')),
    sa.ForeignKeyConstraint(['account_id'], ['broker_accounts.id'], name=op.f('fk_trade_exits_account_id_broker_accounts')),
    sa.ForeignKeyConstraint(['fill_id'], ['fills.id'], name=op.f('fk_trade_exits_fill_id_fills'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_trade_exits_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['trade_id'], ['trades.id'], name=op.f('fk_trade_exits_trade_id_trades'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_exits'))
    )
    with op.batch_alter_table('trade_exits', schema=None) as batch_op:
        batch_op.create_index('ix_trade_exits_open', ['account_id', 'symbol', 'trade_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_exits_trade_id'), ['trade_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('trade_exits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_exits_trade_id'))
        batch_op.drop_index('ix_trade_exits_open')

    op.drop_table('trade_exits')
