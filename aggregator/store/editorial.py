"""What the editors' pages ask of the store: finding stories, counting per source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError
from aggregator.models import Source, SourceDef, Story
from aggregator.store.schema import copies, sources, stories, story_tag_edits, story_tags

#: the ``state`` filter of :meth:`EditorialMixin.find_stories`
STATES = ("visible", "pinned", "hidden", "all")


@dataclass(frozen=True, slots=True)
class StoryPage:
    stories: list[Story]
    total: int
    offset: int
    limit: int


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


if TYPE_CHECKING:  # the mixin reads stories through the story half of the store
    from aggregator.store.stories import StoriesMixin as _Base
else:
    _Base = object


def definition_changes(row: Any, d: SourceDef) -> dict[str, Any]:
    """What differs between a stored source and its definition ``d``, as column values."""
    from aggregator.store import _definition_values

    changes = {k: v for k, v in _definition_values(d).items() if getattr(row, k) != v}
    if "url" in changes:  # a new address: forget what we knew of the old one
        changes.update(effective_url=None, redirect_candidate=None, etag=None,
                       last_modified=None, next_poll_at=None)
    return changes


class EditorialMixin(_Base):
    engine: sa.Engine

    def get_source(self, source_id: str) -> Source:
        raise NotImplementedError

    def find_stories(self, *, text: str | None = None, tag: str | None = None,
                     source: str | None = None, since: datetime | None = None,
                     until: datetime | None = None, state: str = "visible",
                     limit: int = 50, offset: int = 0, now: datetime) -> StoryPage:
        """Stories matching every filter given, newest first, one page of them.

        ``text``: in the title of any of the story's copies (any letter case);
        ``source``: a copy from that source; ``since``/``until``: the story's date;
        ``state``: visible (default), pinned (an active pin), hidden, or all.
        """
        cond: list[Any] = [stories.c.merged_into.is_(None)]
        if state == "visible":
            cond.append(stories.c.hidden.is_(False))
        elif state == "hidden":
            cond.append(stories.c.hidden.is_(True))
        elif state == "pinned":
            cond += [stories.c.pinned_at.is_not(None),
                     sa.or_(stories.c.pin_until.is_(None), stories.c.pin_until > now)]
        if text:
            cond.append(stories.c.id.in_(
                sa.select(copies.c.story_id).where(sa.func.lower(copies.c.title)
                                                   .like(_like(text), escape="\\"))))
        if source:
            cond.append(stories.c.id.in_(
                sa.select(copies.c.story_id).where(copies.c.source_id == source)))
        if tag:
            cond.append(stories.c.id.in_(
                sa.select(story_tags.c.story_id).where(story_tags.c.tag == tag)))
        if since is not None:
            cond.append(stories.c.published_at >= since)
        if until is not None:
            cond.append(stories.c.published_at < until)
        where = sa.and_(*cond)
        with self.engine.connect() as conn:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(stories)
                                     .where(where)).scalar() or 0)
            ids = list(conn.execute(
                sa.select(stories.c.id).where(where)
                .order_by(stories.c.published_at.desc(), stories.c.first_seen_at.desc(),
                          stories.c.id)
                .limit(limit).offset(offset)).scalars())
        found = {s.id: s for s in self.list_stories(ids=ids, include_hidden=True, now=now)} \
            if ids else {}
        return StoryPage([found[i] for i in ids if i in found], total, offset, limit)

    def replace_source_definition(self, d: SourceDef, now: datetime) -> Source:
        """Change a source added from the web or OPML (file sources follow their file)."""
        with self._write() as conn:
            row = conn.execute(sa.select(sources).where(sources.c.id == d.id)).first()
            if row is None:
                raise NotFoundError(f"no source with id {d.id!r}")
            self._redefine(conn, d.id, definition_changes(row, d), now)
        return self.get_source(d.id)

    def _redefine(self, conn: sa.Connection, source_id: str, changes: dict[str, Any],
                  now: datetime) -> None:
        """Write a source's changed definition (``definition_changes``), and what follows."""
        if changes:  # and parse the next body again, even an unchanged one
            conn.execute(sources.update().where(sources.c.id == source_id)
                         .values(**changes, body_hash=None, updated_at=now))
        if "tags" in changes:  # every story with a copy from it carries them
            self._stories_changed(conn, conn.execute(
                sa.select(copies.c.story_id).where(copies.c.source_id == source_id)
                .distinct()).scalars().all())

    def edit_story_tag(self, story_id: str, tag: str, *, add: bool, by: str | None,
                       now: datetime) -> Story:
        """An editor's tag correction: kept over later re-tagging and new copies."""
        story_id = self.resolve_story_id(story_id)
        with self._write() as conn:
            if conn.execute(sa.select(stories.c.id).where(stories.c.id == story_id)).first() \
                    is None:
                raise NotFoundError(f"no story with id {story_id!r}")
            conn.execute(story_tag_edits.delete().where(story_tag_edits.c.story_id == story_id,
                                                        story_tag_edits.c.tag == tag))
            conn.execute(story_tag_edits.insert().values(
                story_id=story_id, tag=tag, action="add" if add else "remove", by=by, at=now))
            conn.execute(stories.update().where(stories.c.id == story_id).values(updated_at=now))
            self._stories_changed(conn, [story_id])
        return self.get_story(story_id)

    def items_per_week(self, since: datetime) -> dict[str, int]:
        """Copies first seen since ``since``, per source (the dashboard's items per week)."""
        q = (sa.select(copies.c.source_id, sa.func.count())
             .where(copies.c.first_seen_at >= since).group_by(copies.c.source_id))
        with self.engine.connect() as conn:
            return {sid: int(n) for sid, n in conn.execute(q)}
