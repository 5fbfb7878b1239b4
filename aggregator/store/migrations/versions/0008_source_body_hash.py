"""A digest of each source's last parsed body (a 200 with the same body is not parsed again).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("body_hash", sa.String(32)))


def downgrade() -> None:
    # plain ALTER TABLE (SQLite >= 3.35): a batch copy of sources would break the
    # foreign keys that point at it
    op.drop_column("sources", "body_hash")
