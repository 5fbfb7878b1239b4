"""What retention removed (so a feed that still lists an entry does not bring it back).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pruned_copies",
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("pruned_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("source_id", "guid", name="pk_pruned_copies"),
    )


def downgrade() -> None:
    op.drop_table("pruned_copies")
