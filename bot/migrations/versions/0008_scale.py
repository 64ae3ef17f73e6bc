"""years of data: indexes for the hot paths, retention marker, daily case numbers, broadcast tallies

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Left empty for cases erased before: the first retention run after this one goes over
    # every expired case once (erasing again what is erased already costs nothing).
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", models.base.UTCDateTime(), nullable=True))
        batch_op.create_index("ix_cases_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_cases_status_taken_by", ["status", "taken_by"], unique=False)
        batch_op.create_index(
            "ix_cases_erased_at_closed_at", ["erased_at", "closed_at"], unique=False
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_case_id", ["case_id"], unique=False)
        batch_op.create_index("ix_outbox_status_id", ["status", "id"], unique=False)
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            "ix_people_subscribed_updated_at", ["subscribed", "updated_at"], unique=False
        )
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.create_index("ix_chat_messages_at", ["at"], unique=False)
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tally", sa.Text(), nullable=True))
    op.create_table(
        "case_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_case_days")),
    )


def downgrade() -> None:
    op.drop_table("case_days")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("tally")
    with op.batch_alter_table("chat_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_messages_at")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index("ix_people_subscribed_updated_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_status_id")
        batch_op.drop_index("ix_outbox_case_id")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_erased_at_closed_at")
        batch_op.drop_index("ix_cases_status_taken_by")
        batch_op.drop_index("ix_cases_created_at")
        batch_op.drop_column("erased_at")
