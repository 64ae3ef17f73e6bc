"""campaigns: scheduled, targeted, reported; deliveries indexed for keyset claims

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.base import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("admin_locale", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("scheduled_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("audience", sa.String(length=40), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("night_ok", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("fixed_after", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("planned", sa.Integer(), nullable=True))
    with op.batch_alter_table("broadcast_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unsubscribed_at", UTCDateTime(), nullable=True))
        batch_op.drop_index("ix_broadcast_deliveries_status")
        batch_op.create_index(
            "ix_broadcast_deliveries_status", ["broadcast_id", "status", "person"], unique=False
        )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("region")
    with op.batch_alter_table("broadcast_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcast_deliveries_status")
        batch_op.create_index(
            "ix_broadcast_deliveries_status", ["broadcast_id", "status"], unique=False
        )
        batch_op.drop_column("unsubscribed_at")
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("planned")
        batch_op.drop_column("fixed_after")
        batch_op.drop_column("night_ok")
        batch_op.drop_column("audience")
        batch_op.drop_column("scheduled_at")
        batch_op.drop_column("admin_locale")
