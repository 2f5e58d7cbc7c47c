"""trades rating: the trader's 1-5 grade in the journal

Nullable: existing trades are not rated.

Revision ID: 0aed4991d68c
Revises: 0c1de87930a8
Create Date: 2026-12-04 18:14:56.751853
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0aed4991d68c"
down_revision: str | None = "0c1de87930a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rating", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trades", schema=None) as batch_op:
        batch_op.drop_column("rating")
