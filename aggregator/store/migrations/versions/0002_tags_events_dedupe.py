"""Tags with reasons, meeting events, near-duplicate features, editor corrections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("copies") as batch:
        batch.add_column(sa.Column("signature", sa.LargeBinary))
        batch.add_column(sa.Column("features", sa.JSON))
        batch.add_column(sa.Column("manual", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("merged_into", sa.String(16)))

    op.create_table(
        "copy_tags",
        sa.Column("copy_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(96), nullable=False),
        sa.Column("rule", sa.String(96), nullable=False),
        sa.Column("matched", sa.Text, nullable=False, server_default=""),
        sa.Column("field", sa.String(16), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("copy_id", "tag", name="pk_copy_tags"),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"], ondelete="CASCADE",
                                name="fk_copy_tags_copy_id_copies"),
    )
    op.create_index("ix_copy_tags_tag", "copy_tags", ["tag"])

    op.create_table(
        "copy_events",
        sa.Column("copy_id", sa.String(32), nullable=False),
        sa.Column("start", sa.Date, nullable=False),
        sa.Column("end", sa.Date, nullable=False),
        sa.Column("location", sa.Text),
        sa.Column("country", sa.String(2)),
        sa.Column("matched", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("copy_id", name="pk_copy_events"),
        sa.ForeignKeyConstraint(["copy_id"], ["copies.id"], ondelete="CASCADE",
                                name="fk_copy_events_copy_id_copies"),
    )
    op.create_index("ix_copy_events_start", "copy_events", ["start"])


def downgrade() -> None:
    op.drop_table("copy_events")
    op.drop_table("copy_tags")
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("merged_into")
    with op.batch_alter_table("copies") as batch:
        batch.drop_column("manual")
        batch.drop_column("features")
        batch.drop_column("signature")
