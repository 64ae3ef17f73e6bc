"""safe times for answers (issue 13): the hours answers may arrive, and without a sound

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("answer_until", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("answer_silent", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("answer_silent")
        batch_op.drop_column("answer_until")
        batch_op.drop_column("answer_from")
