"""users.calendar_url: the economic calendar a job fetches

Null (no calendar fetched) for the existing owner: imports by hand go on as before.

Revision ID: 47a10d18b68a
Revises: 1245992b4035
Create Date: 2026-12-03 13:42:42.150039
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "47a10d18b68a"
down_revision: str | None = "1245992b4035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_url", sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("calendar_url")
