"""The first schema: sources, stories, copies, state.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("interval_seconds", sa.Float),
        sa.Column("priority", sa.Integer, nullable=False, server_default="0"),
        sa.Column("select_rules", sa.JSON),
        sa.Column("origin", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False, server_default="new"),
        sa.Column("effective_url", sa.Text),
        sa.Column("redirect_candidate", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("error_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_success_at", UTCDateTime),
        sa.Column("last_attempt_at", UTCDateTime),
        sa.Column("next_poll_at", UTCDateTime),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_until", UTCDateTime),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
    )
    op.create_index("ix_sources_next_poll_at", "sources", ["next_poll_at"])

    op.create_table(
        "stories",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("representative_copy_id", sa.String(32)),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("pinned_at", UTCDateTime),
        sa.Column("pin_order", sa.Integer),
        sa.Column("pin_until", UTCDateTime),
        sa.Column("pin_note", sa.Text),
        sa.Column("pin_by", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
    )
    op.create_index("ix_stories_first_seen_at", "stories", ["first_seen_at"])
    op.create_index("ix_stories_published_at", "stories", ["published_at"])

    op.create_table(
        "copies",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("guid", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("canonical_url", sa.Text),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("summary_html", sa.Text, nullable=False, server_default=""),
        sa.Column("content_html", sa.Text, nullable=False, server_default=""),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("author", sa.Text),
        sa.Column("published_at", UTCDateTime),
        sa.Column("entry_updated_at", UTCDateTime),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
        sa.Column("categories", sa.JSON, nullable=False),
        sa.Column("enclosures", sa.JSON, nullable=False),
        sa.Column("language", sa.String(16)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_copies"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"],
                                name="fk_copies_story_id_stories"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"],
                                name="fk_copies_source_id_sources"),
        sa.UniqueConstraint("source_id", "guid", name="uq_copies_source_guid"),
    )
    op.create_index("ix_copies_story_id", "copies", ["story_id"])
    op.create_index("ix_copies_canonical_url", "copies", ["canonical_url"])
    op.create_index("ix_copies_content_hash", "copies", ["content_hash"])

    op.create_table(
        "state",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_state"),
    )


def downgrade() -> None:
    op.drop_table("state")
    op.drop_table("copies")
    op.drop_table("stories")
    op.drop_table("sources")
