"""orders.reject_code: why an order was refused, for code to branch on

Until now code told a risk refusal by its reason beginning "risk:". The kind moves into
a typed column; existing rows are carried over by the wording the code wrote then, one
last time: "risk: account is halted…" a halt, another "risk: …" the risk gate, "kill
switch engaged…" the kill switch, exits that could not be priced or set; any other
rejected order is the broker's refusal, a failed one a broker error; the rest no code.

Revision ID: 116e412578d1
Revises: 884d240dc971
Create Date: 2026-12-02 12:52:22.193131
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '116e412578d1'
down_revision: str | None = '884d240dc971'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES = (
    'risk',
    'halted',
    'kill_switch',
    'no_price',
    'invalid_exits',
    'broker_rejected',
    'broker_error',
)
# Reason wordings the code wrote before this revision, most specific first.
WORDINGS = (
    ('risk: account is halted%', 'halted'),
    ('risk:%', 'risk'),
    ('kill switch engaged%', 'kill_switch'),
    ('price: no price known%', 'no_price'),
    ('take_profit: %', 'invalid_exits'),
    ('stop_loss: %', 'invalid_exits'),
)

orders = sa.table(
    'orders',
    sa.column('status', sa.String),
    sa.column('reason', sa.Text),
    sa.column('reject_code', sa.String),
)


def upgrade() -> None:
    allowed = ", ".join(f"'{code}'" for code in CODES)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reject_code', sa.String(length=16), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_orders_reject_code_allowed'), sa.text(f"reject_code IN ({allowed})")
        )
    reason = orders.c.reason
    status = orders.c.status
    op.execute(
        orders.update()
        .where(status.in_(['rejected', 'failed']))
        .values(
            reject_code=sa.case(
                *[(reason.like(pattern), code) for pattern, code in WORDINGS],
                (status == 'rejected', 'broker_rejected'),
                else_='broker_error',
            )
        )
    )


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_orders_reject_code_allowed'), type_='check')
        batch_op.drop_column('reject_code')
