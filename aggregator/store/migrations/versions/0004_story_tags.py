"""Each story's pooled tags in a table of their own, filled from what is stored; a
revision number per story.

A story carries every tag of every copy (``copy_tags``) and every tag of every copy's
source (``sources.tags``). Until now a tag's stories were found by scanning all copies
(and the sources' JSON as text); ``story_tags`` holds the pooled result with the
story's date, visibility and version, indexed in feed order, and the store keeps it
whenever tags, dates, visibility or copies change. ``stories.revision`` is
bumped by the same changes (publishing reuses a story's rendered entries while it
stays the same).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# the tables as this revision knows them (not the live schema, which may move on)
_stories = sa.table("stories", sa.column("id"), sa.column("published_at"),
                    sa.column("first_seen_at"), sa.column("hidden"), sa.column("revision"),
                    sa.column("updated_at"), sa.column("merged_into"))
_copies = sa.table("copies", sa.column("id"), sa.column("story_id"), sa.column("source_id"))
_copy_tags = sa.table("copy_tags", sa.column("copy_id"), sa.column("tag"))
_sources = sa.table("sources", sa.column("id"), sa.column("tags", sa.JSON))
_COPIED = ["published_at", "first_seen_at", "hidden", "revision", "updated_at"]
_COLUMNS = ["story_id", "tag", *_COPIED]
_story_tags = sa.table("story_tags", *(sa.column(name) for name in _COLUMNS))


def upgrade() -> None:
    op.add_column("stories", sa.Column("revision", sa.Integer, nullable=False,
                                       server_default="0"))
    op.create_table(
        "story_tags",
        sa.Column("story_id", sa.String(16), nullable=False),
        sa.Column("tag", sa.String(96), nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("first_seen_at", UTCDateTime, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("story_id", "tag", name="pk_story_tags"),
        sa.ForeignKeyConstraint(["story_id"], ["stories.id"], ondelete="CASCADE",
                                name="fk_story_tags_story_id_stories"),
    )
    backfill(op.get_bind())
    op.create_index("ix_story_tags_tag", "story_tags",
                    ["tag", "hidden", "published_at", "first_seen_at", "story_id", "revision",
                     "updated_at"])
    op.create_index("ix_story_tags_hidden", "story_tags", ["hidden", "tag"])


def backfill(conn: sa.Connection) -> None:
    """Pool every live story's tags as the store does: its copies' and their sources'."""
    live = sa.and_(_stories.c.id == _copies.c.story_id, _stories.c.merged_into.is_(None))
    copied = [_stories.c[name] for name in _COPIED]
    by_rule = (sa.select(_copies.c.story_id, _copy_tags.c.tag, *copied).distinct()
               .select_from(_copy_tags.join(_copies, _copies.c.id == _copy_tags.c.copy_id)
                            .join(_stories, live)))
    conn.execute(_story_tags.insert().from_select(_COLUMNS, by_rule))
    # source tags are a JSON list per source (a few dozen sources): one statement per tag
    for source_id, tags in conn.execute(sa.select(_sources.c.id, _sources.c.tags)).all():
        for tag in dict.fromkeys(tags or ()):
            taken = sa.select(_story_tags.c.story_id).where(
                _story_tags.c.story_id == _copies.c.story_id, _story_tags.c.tag == tag)
            by_source = (sa.select(_copies.c.story_id, sa.literal(tag, sa.String), *copied)
                         .distinct()
                         .select_from(_copies.join(_stories, live))
                         .where(_copies.c.source_id == source_id, ~taken.exists()))
            conn.execute(_story_tags.insert().from_select(_COLUMNS, by_source))


def downgrade() -> None:
    op.drop_index("ix_story_tags_hidden", table_name="story_tags")
    op.drop_index("ix_story_tags_tag", table_name="story_tags")
    op.drop_table("story_tags")
    # not batch mode: recreating stories would trip the copies' foreign key (SQLite 3.35+
    # drops a column in place)
    op.drop_column("stories", "revision")
