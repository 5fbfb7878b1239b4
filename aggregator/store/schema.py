"""Table definitions (SQLAlchemy Core), the same on SQLite and PostgreSQL.

The migrations in ``migrations/versions`` create exactly these tables; a test
compares the migrated database with this metadata so the two cannot drift.

- ``sources``: one row per source, its definition (synchronized from the TOML
  files) and its health (status, errors, next poll, validators, lease).
- ``stories``: one row per duplicate cluster; its id is public and never changes.
- ``copies``: one row per (source, guid): an entry as one source published it.
- ``copy_tags``: each copy's tags with why (rule, matched text, field).
- ``copy_events``: the meeting a copy announces, if any.
- ``story_tags``: each story's pooled tags (derived; kept by the store).
- ``state``: small key/value facts (last publish, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite has no time zones: values are stored as naive UTC (which also keeps
    them ordered as text) and given their zone back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # defensive: raw SQLite text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
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
    sa.Column("next_poll_at", UTCDateTime, index=True),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    # digest of the last body parsed (with what shapes its parse): see pipeline.body_digest
    sa.Column("body_hash", sa.String(32)),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

stories = sa.Table(
    "stories",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    # no foreign key: copies point at stories, and a story is created first
    sa.Column("representative_copy_id", sa.String(32)),
    sa.Column("first_seen_at", UTCDateTime, nullable=False, index=True),
    # the representative's date (or first seen): what feeds sort on
    sa.Column("published_at", UTCDateTime, nullable=False, index=True),
    # when what the outputs show of it last changed
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pinned_at", UTCDateTime),
    sa.Column("pin_order", sa.Integer),
    sa.Column("pin_until", UTCDateTime),
    sa.Column("pin_note", sa.Text),
    sa.Column("pin_by", sa.Text),
    # an editor merged this story into another; its id then leads there
    sa.Column("merged_into", sa.String(16)),
    # bumped by every change to the story's copies, tags, date or visibility, whatever
    # the clock says (updated_at never moves without it): what publishing compares to
    # reuse a story's rendered entries
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
)

copies = sa.Table(
    "copies",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("story_id", sa.String(16), sa.ForeignKey("stories.id"), nullable=False, index=True),
    sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id"), nullable=False),
    sa.Column("guid", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("canonical_url", sa.Text, index=True),
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
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    # near-duplicate search: MinHash signature and small features (aggregator.dedupe)
    sa.Column("signature", sa.LargeBinary),
    sa.Column("features", sa.JSON),
    # an editor placed this copy in its story (split or merge): never re-clustered
    sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("source_id", "guid", name="uq_copies_source_guid"),
)

copy_tags = sa.Table(
    "copy_tags",
    metadata,
    sa.Column("copy_id", sa.String(32), sa.ForeignKey("copies.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("tag", sa.String(96), primary_key=True, index=True),
    sa.Column("rule", sa.String(96), nullable=False),
    sa.Column("matched", sa.Text, nullable=False, server_default=""),
    sa.Column("field", sa.String(16), nullable=False, server_default=""),
)

copy_events = sa.Table(
    "copy_events",
    metadata,
    sa.Column("copy_id", sa.String(32), sa.ForeignKey("copies.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("start", sa.Date, nullable=False, index=True),
    sa.Column("end", sa.Date, nullable=False),
    sa.Column("location", sa.Text),
    sa.Column("country", sa.String(2)),
    sa.Column("matched", sa.Text, nullable=False, server_default=""),
)

# Derived from the tables above, kept by the store whenever a story's tags, date,
# visibility or copies change: the tags a story carries (every copy's tags and every
# copy's source tags, pooled), with what a tag feed filters, orders and compares its
# stories by, copied from the story. A tag's newest stories are one index range.
story_tags = sa.Table(
    "story_tags",
    metadata,
    sa.Column("story_id", sa.String(16), sa.ForeignKey("stories.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("tag", sa.String(96), primary_key=True),
    sa.Column("published_at", UTCDateTime, nullable=False),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("revision", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # in feed order, then what the feed needs: read from the index alone
    sa.Index("ix_story_tags_tag", "tag", "hidden", "published_at", "first_seen_at",
             "story_id", "revision", "updated_at"),
    # narrow, for counting the visible stories of every tag
    sa.Index("ix_story_tags_hidden", "hidden", "tag"),
)

state = sa.Table(
    "state",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# -- the digest (aggregator.digest) -------------------------------------------------------

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # normalized by email-validator (domain lower-cased); unique case-insensitively
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    # pending (awaiting confirmation), active, unsubscribed, bouncing
    sa.Column("status", sa.String(16), nullable=False, index=True),
    # topic filters: empty means every story
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("confirm_sent_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    sa.Column("bounce_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    # where the subscription came from: cli, import, web
    sa.Column("origin", sa.String(16), nullable=False, server_default="cli"),
)

digests = sa.Table(
    "digests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # the period key, e.g. 2026-W48: one digest per period, ever
    sa.Column("period", sa.String(32), nullable=False, unique=True),
    # open (frozen; deliveries being made and sent), sent (every delivery settled)
    sa.Column("status", sa.String(16), nullable=False),
    # the stories first seen in [window_start, window_end) belong to it
    sa.Column("window_start", UTCDateTime, nullable=False),
    sa.Column("window_end", UTCDateTime, nullable=False),
    # what it holds, frozen when it is created so every subscriber gets the same
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("story_count", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # with [digest] approval: who approved it (approving freezes it), and when
    sa.Column("approved_at", UTCDateTime),
    sa.Column("approved_by", sa.Text),
    sa.Column("sent_at", UTCDateTime),
)


deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("digest_id", sa.Integer, sa.ForeignKey("digests.id"), nullable=False),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False,
              index=True),
    # pending -> claimed (leased) -> sending (handed to the server) -> sent;
    # or skipped (nothing for this subscriber), failed (refused), unknown (a crash
    # while the server had the message: never resent automatically)
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("message_id", sa.Text),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("digest_id", "subscriber_id", name="uq_deliveries_digest_subscriber"),
)

# -- editors and the audit log (aggregator.web.auth) ----------------------------------------

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # letters, digits and . _ - (aggregator.service checks); compared exactly
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    # editor or admin
    sa.Column("role", sa.String(16), nullable=False),
    # argon2id, in the PHC string format (parameters and salt included)
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_login_at", UTCDateTime),
    # wrong passwords in a row; reaching the limit locks the account until locked_until
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UTCDateTime),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    # the user's name as it was (no foreign key: the log outlives removed users);
    # NULL for the system and the command line
    sa.Column("user_name", sa.String(64)),
    # short and dotted: pin, hide, source.add, login, user.add, ...
    sa.Column("action", sa.String(32), nullable=False),
    # what it was done to: a story id, a source id, a user name, ...
    sa.Column("target", sa.Text, nullable=False, server_default=""),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)

# -- editors' corrections to a story's tags ------------------------------------------------

story_tag_edits = sa.Table(
    "story_tag_edits",
    metadata,
    sa.Column("story_id", sa.String(16), primary_key=True),
    sa.Column("tag", sa.String(96), primary_key=True),
    # "add": the story has the tag whatever its copies say; "remove": it has not
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("by", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False),
)

# -- retention ------------------------------------------------------------------------------

pruned_copies = sa.Table(
    "pruned_copies",
    metadata,
    # what retention removed, so a feed that still lists it does not bring it back
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("guid", sa.Text, primary_key=True),
    sa.Column("pruned_at", UTCDateTime, nullable=False),
)
