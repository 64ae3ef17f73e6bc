"""safe times (issue 13): answers only after the person writes first

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("answer_after_writing", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("person_wrote_at", models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("person_wrote_at")
        batch_op.drop_column("answer_after_writing")
