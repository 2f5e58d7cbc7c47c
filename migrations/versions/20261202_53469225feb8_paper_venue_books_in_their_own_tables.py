"""paper venue books in their own tables

The paper venue stops reading and writing our orders, fills and positions; what it held
there (cash, working and held orders, fills, positions) is copied into its own tables so
an open paper position and its protective orders survive the upgrade.

Revision ID: 53469225feb8
Revises: 461b242405df
Create Date: 2026-12-02 12:52:29.059147
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '53469225feb8'
down_revision: str | None = '461b242405df'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('paper_accounts',
    sa.Column('account_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('cash', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_paper_accounts'))
    )
    op.create_table('paper_fills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('fill_id', sa.String(length=64), nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('price', sa.Numeric(precision=20, scale=9), nullable=False),
    sa.Column('commission', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('filled_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_paper_fills_side_allowed')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_fills')),
    sa.UniqueConstraint('fill_id', name=op.f('uq_paper_fills_fill_id'))
    )
    with op.batch_alter_table('paper_fills', schema=None) as batch_op:
        batch_op.create_index('ix_paper_fills_account_symbol', ['account_id', 'symbol'], unique=False)
        batch_op.create_index(batch_op.f('ix_paper_fills_filled_at'), ['filled_at'], unique=False)

    op.create_table('paper_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('client_order_id', sa.String(length=64), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('side', sa.String(length=4), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('order_type', sa.String(length=16), nullable=False),
    sa.Column('limit_price', sa.Numeric(precision=20, scale=9), nullable=True),
    sa.Column('stop_price', sa.Numeric(precision=20, scale=9), nullable=True),
    sa.Column('oco_group', sa.String(length=64), nullable=True),
    sa.Column('reduce_only', sa.Boolean(), nullable=False),
    sa.Column('parent_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('triggered', sa.Boolean(), nullable=False),
    sa.Column('filled_quantity', sa.Integer(), nullable=False),
    sa.Column('avg_fill_price', sa.Numeric(precision=20, scale=9), nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("order_type IN ('market', 'limit', 'stop', 'stop_limit')", name=op.f('ck_paper_orders_order_type_allowed')),
    sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f('ck_paper_orders_side_allowed')),
    sa.CheckConstraint("status IN ('pending', 'working', 'filled', 'cancelled', 'rejected', 'failed')", name=op.f('ck_paper_orders_status_allowed')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_orders')),
    sa.UniqueConstraint('client_order_id', name=op.f('uq_paper_orders_client_order_id'))
    )
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.create_index('ix_paper_orders_account_status', ['account_id', 'status'], unique=False)

    op.create_table('paper_positions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('realized_pnl', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_paper_positions')),
    sa.UniqueConstraint('account_id', 'symbol', name=op.f('uq_paper_positions_account_id_symbol'))
    )
    op.create_table('paper_quotes',
    sa.Column('symbol', sa.String(length=32), nullable=False),
    sa.Column('price', sa.Numeric(precision=20, scale=9), nullable=False),
    sa.Column('quoted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('symbol', name=op.f('pk_paper_quotes'))
    )
    _carry_paper_books_over()


EXITS = "('take_profit', 'stop_loss')"
PAPER = "(SELECT id FROM broker_accounts WHERE broker = 'paper')"


def _carry_paper_books_over() -> None:
    """Copy each paper account's book from the shared tables, as the old venue read it."""
    op.execute(
        "INSERT INTO paper_accounts (account_id, cash, version, updated_at) "
        "SELECT id, COALESCE(cash_balance, starting_balance, 0), 0, CURRENT_TIMESTAMP "
        "FROM broker_accounts WHERE broker = 'paper'"
    )
    # Orders the venue saw: every row with a paper order id, or settled by the venue.
    # Exits are reduce-only legs of their group; a held exit waits for the group's parent.
    op.execute(
        "INSERT INTO paper_orders (account_id, client_order_id, symbol, side, quantity, "
        "order_type, limit_price, stop_price, oco_group, reduce_only, parent_id, status, "
        "triggered, filled_quantity, avg_fill_price, reason, updated_at) "
        "SELECT o.account_id, o.client_order_id, o.symbol, o.side, o.quantity, o.order_type, "
        "o.limit_price, o.stop_price, "
        f"CASE WHEN o.role IN {EXITS} THEN o.group_id END, o.role IN {EXITS}, "
        f"CASE WHEN o.role IN {EXITS} AND o.group_id IS NOT NULL THEN (SELECT MIN(p.client_order_id) "
        "FROM orders p WHERE p.group_id = o.group_id AND p.account_id = o.account_id "
        f"AND p.role NOT IN {EXITS}) END, "
        "o.status, o.order_type = 'stop_limit' AND COALESCE(o.reason, '') LIKE 'stop triggered at %', "
        "COALESCE(o.filled_quantity, 0), o.avg_fill_price, SUBSTR(o.reason, 1, 255), "
        "CURRENT_TIMESTAMP "
        f"FROM orders o WHERE o.account_id IN {PAPER} "
        "AND (o.broker_order_id IS NOT NULL OR o.status NOT IN ('pending', 'failed'))"
    )
    op.execute(
        "INSERT INTO paper_fills (account_id, fill_id, client_order_id, symbol, side, quantity, "
        "price, commission, filled_at) "
        "SELECT f.account_id, f.broker_fill_id, COALESCE(o.client_order_id, f.broker_fill_id), "
        "f.symbol, f.side, f.quantity, f.price, f.commission, f.filled_at "
        f"FROM fills f LEFT JOIN orders o ON o.id = f.order_id WHERE f.account_id IN {PAPER}"
    )
    op.execute(
        "INSERT INTO paper_positions (account_id, symbol, quantity, realized_pnl) "
        "SELECT account_id, symbol, quantity, realized_pnl FROM positions "
        f"WHERE account_id IN {PAPER}"
    )
    # The last price each contract traded at in the venue, so a feed resumes from it.
    op.execute(
        "INSERT INTO paper_quotes (symbol, price, quoted_at) "
        "SELECT f.symbol, f.price, f.filled_at FROM fills f WHERE f.id IN "
        f"(SELECT MAX(id) FROM fills WHERE account_id IN {PAPER} GROUP BY symbol)"
    )


def downgrade() -> None:
    op.drop_table('paper_quotes')
    op.drop_table('paper_positions')
    with op.batch_alter_table('paper_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_paper_orders_account_status')

    op.drop_table('paper_orders')
    with op.batch_alter_table('paper_fills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paper_fills_filled_at'))
        batch_op.drop_index('ix_paper_fills_account_symbol')

    op.drop_table('paper_fills')
    op.drop_table('paper_accounts')
