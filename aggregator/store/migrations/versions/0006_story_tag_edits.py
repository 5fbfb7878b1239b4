"""Editors' corrections to a story's tags (kept over re-tagging).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_tag_edits",
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("tag", sa.String(96), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("by", sa.Text),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("story_id", "tag", name="pk_story_tag_edits"),
    )


def downgrade() -> None:
    op.drop_table("story_tag_edits")
