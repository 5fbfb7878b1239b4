"""Copies and stories in the store: ingest, reading stories, editors' corrections.

A story is a duplicate cluster: the copies of one piece of news as several sources
published it. Its id is derived from the copy that founded it and never changes;
its representative (highest source priority, then earliest) gives it its title,
link and date. Tags and events are kept per copy, with why, and pooled per story.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError, UsageError
from aggregator.models import (
    Analysis,
    Duplicate,
    Enclosure,
    Event,
    Item,
    Pin,
    Source,
    Story,
    StoryRef,
    TagReason,
)
from aggregator.store.ids import chunks, copy_id, story_id_for
from aggregator.store.schema import (
    copies,
    copy_events,
    copy_tags,
    sources,
    stories,
    story_tag_edits,
    story_tags,
)

#: content this short says too little for "the same content" to mean the same story
_MIN_HASH_JOIN_TEXT = 200
# what makes a stored copy different enough to rewrite it
_COMPARED = ("url", "title", "summary_html", "content_html", "published_at", "content_hash",
             "categories", "enclosures", "author")


def _ids(name: str = "ids") -> sa.BindParameter[Any]:
    return sa.bindparam(name, expanding=True)


# The statements of the ingest path, built once: building and caching a statement
# costs more than SQLite takes to run it, and ingest runs ~20 for every source polled.
_EXISTING = sa.select(copies).where(copies.c.source_id == sa.bindparam("source_id"),
                                    copies.c.guid.in_(_ids()))
# earliest last: a dict built from the rows keeps the earliest copy's story
_BY_URL = (sa.select(copies.c.canonical_url, copies.c.story_id)
           .where(copies.c.canonical_url.in_(_ids()))
           .order_by(copies.c.first_seen_at.desc(), copies.c.id.desc()))
_BY_HASH = (sa.select(copies.c.content_hash, copies.c.story_id)
            .where(copies.c.content_hash.in_(_ids()),
                   copies.c.source_id != sa.bindparam("source_id"))
            .order_by(copies.c.first_seen_at.desc(), copies.c.id.desc()))
_LIVE = sa.select(stories.c.id).where(stories.c.id.in_(_ids()), stories.c.merged_into.is_(None))
_SOURCE_TAGS = sa.select(sources.c.tags).where(sources.c.id == sa.bindparam("source_id"))
_CANDIDATES = (sa.select(copies.c.story_id, copies.c.id, copies.c.published_at,
                         copies.c.first_seen_at, sources.c.priority)
               .select_from(copies.join(sources, sources.c.id == copies.c.source_id))
               .where(copies.c.story_id.in_(_ids())))
_REPRESENTED = sa.select(stories.c.id, stories.c.representative_copy_id,
                         stories.c.published_at).where(stories.c.id.in_(_ids()))
_MOVE = (stories.update().where(stories.c.id == sa.bindparam("b_id"))
         .values(representative_copy_id=sa.bindparam("rep"),
                 published_at=sa.bindparam("published")))
_TOUCH = stories.update().where(stories.c.id.in_(_ids())).values(updated_at=sa.bindparam("now"))
_BUMP = stories.update().where(stories.c.id.in_(_ids())).values(revision=stories.c.revision + 1)
_UNTAG = story_tags.delete().where(story_tags.c.story_id.in_(_ids()))
_STORY_ROWS = (sa.select(stories.c.id, stories.c.published_at, stories.c.first_seen_at,
                         stories.c.hidden, stories.c.revision, stories.c.updated_at)
               .where(stories.c.id.in_(_ids()), stories.c.merged_into.is_(None)))
_TAGS_BY_RULE = (sa.select(copies.c.story_id, copy_tags.c.tag)
                 .join(copy_tags, copy_tags.c.copy_id == copies.c.id)
                 .where(copies.c.story_id.in_(_ids())))
_TAGS_BY_SOURCE = (sa.select(copies.c.story_id, sources.c.tags)
                   .join(sources, sources.c.id == copies.c.source_id)
                   .where(copies.c.story_id.in_(_ids())))
_TAG_EDITS = (sa.select(story_tag_edits.c.story_id, story_tag_edits.c.tag,
                        story_tag_edits.c.action)
              .where(story_tag_edits.c.story_id.in_(_ids())))
_UNTAG_COPIES = copy_tags.delete().where(copy_tags.c.copy_id.in_(_ids()))
_UNEVENT_COPIES = copy_events.delete().where(copy_events.c.copy_id.in_(_ids()))


@dataclass(frozen=True, slots=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    #: guid → (copy id, story id) of every copy this ingest created or changed
    assigned: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(slots=True)
class _Fresh:
    """A story founded by one ingest batch: its copies (date, id) and their tags."""

    id: str
    copies: list[tuple[datetime, str]] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)

    def add(self, cid: str, published: datetime, analysis: Analysis | None) -> None:
        self.copies.append((published, cid))
        if analysis is not None:
            self.tags.update(t.tag for t in analysis.tags)


@dataclass(frozen=True, slots=True)
class Reason:
    """A tag of a story and where it came from: which copy, which rule, what text."""

    copy_id: str
    source: str
    tag: str
    rule: str
    matched: str
    field: str


@dataclass(frozen=True, slots=True)
class StoredCopy:
    """A stored copy with what is needed to analyse it again (``tags test``)."""

    id: str
    story_id: str
    item: Item
    tags: tuple[TagReason, ...]


def _copy_values(item: Item) -> dict[str, Any]:
    return {
        "url": item.url,
        "canonical_url": item.canonical_url,
        "title": item.title,
        "summary_html": item.summary_html,
        "content_html": item.content_html,
        "text": item.text,
        "author": item.author,
        "published_at": item.published,
        "entry_updated_at": item.updated,
        "categories": list(item.categories),
        "enclosures": [
            {"url": e.url, "type": e.type, "length": e.length} for e in item.enclosures
        ],
        "language": item.language,
        "content_hash": item.content_hash,
    }


def _edited(row: Any, values: Mapping[str, Any]) -> bool:
    """Whether a stored copy differs from an item's values (``_copy_values``) in what an
    edit is: the same test for :meth:`StoriesMixin.ingest` and ``compare_stored``."""
    return any(getattr(row, k) != v for k, v in values.items() if k in _COMPARED)


class StoriesMixin:
    """The story half of :class:`aggregator.store.Store`."""

    engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def update_source(self, source_id: str, conn: sa.Connection | None = None,
                      **values: Any) -> None:
        raise NotImplementedError

    # -- ingest ----------------------------------------------------------------------

    def compare_stored(self, source_id: str,
                       items: Sequence[Item]) -> tuple[set[str], set[str]]:
        """The guids of ``items`` stored from this source, and of those the ones stored
        exactly as they are (of a guid repeated, the last, as :meth:`ingest` keeps):
        ingest would write nothing of those, so the poll leaves them out, and their
        language and analysis need not be made."""
        batch = {item.guid: item for item in items}
        known: set[str] = set()
        same: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(batch)):
                for row in conn.execute(_EXISTING, {"source_id": source_id, "ids": chunk}):
                    known.add(row.guid)
                    if not _edited(row, _copy_values(batch[row.guid])):
                        same.add(row.guid)
        return known, same

    def ingest(self, source: Source, items: Sequence[Item], now: datetime, *,
               analyses: Mapping[str, Analysis] | None = None,
               suggestions: Mapping[str, str] | None = None,
               **source_values: Any) -> IngestResult:
        """Store one poll's items and the source's new health, in one transaction.

        A copy is keyed by (source, guid): an edited entry is updated in place, and a
        guid repeated within the batch is stored once (the last one wins). A new copy
        joins the story of another source's copy with the same canonical URL or the
        same content, else the story ``suggestions`` names for its guid (near-duplicate
        search), else a story of its own. ``analyses`` (by guid) are its tags and event.

        Rows go in batches (one statement for all new copies, one for their tags, one
        query for the stories they join): a statement per row cost more than the rest
        of a poll together.
        """
        analyses = analyses or {}
        suggestions = suggestions or {}
        batch: dict[str, Item] = {}
        for item in items:
            batch[item.guid] = item
        assigned: dict[str, tuple[str, str]] = {}
        unchanged = 0
        with self._write() as conn:
            existing: dict[str, Any] = {}
            for chunk in chunks(list(batch)):
                for found in conn.execute(_EXISTING, {"source_id": source.id, "ids": chunk}):
                    existing[found.guid] = found
            fresh = [item for guid, item in batch.items() if guid not in existing]
            joined = self._stories_for(conn, source.id, fresh, suggestions)
            # stories founded by this batch: everything about them is known here
            new_stories: dict[str, _Fresh] = {}
            new_copies: list[dict[str, Any]] = []
            edited: list[tuple[str, dict[str, Any]]] = []
            analysed: list[tuple[str, Analysis]] = []
            for guid, item in batch.items():
                values = _copy_values(item)
                analysis = analyses.get(guid)
                if analysis is not None:
                    values.update(signature=analysis.signature,
                                  features=dict(analysis.features) or None)
                row = existing.get(guid)
                if row is None:
                    cid = copy_id(source.id, guid)
                    sid = joined[guid]
                    if sid is None:
                        sid = story_id_for(cid)
                        new_stories[sid] = _Fresh(sid)
                    if sid in new_stories:
                        new_stories[sid].add(cid, item.published or now, analysis)
                    # every row with the same keys: one statement for them all
                    new_copies.append({"id": cid, "story_id": sid, "source_id": source.id,
                                       "guid": guid, "first_seen_at": now, "changed_at": now,
                                       "signature": None, "features": None, **values})
                elif _edited(row, values):
                    cid, sid = row.id, row.story_id
                    edited.append((cid, values))
                else:
                    unchanged += 1
                    continue
                assigned[guid] = (cid, sid)
                if analysis is not None:
                    analysed.append((cid, analysis))
            if new_stories:
                self._insert_fresh(conn, source.id, new_stories.values(), now)
            if new_copies:
                conn.execute(copies.insert(), new_copies)
            for cid, values in edited:
                conn.execute(copies.update().where(copies.c.id == cid)
                             .values(changed_at=now, **values))
            self._write_analyses(conn, analysed, replace={cid for cid, _ in edited})
            touched = {sid for _, sid in assigned.values() if sid not in new_stories}
            self._elect_representatives(conn, touched, now)
            self._stories_changed(conn, touched)
            if source_values:
                self.update_source(source.id, conn, **source_values)
        return IngestResult(len(new_copies), len(edited), unchanged, assigned)

    def _insert_fresh(self, conn: sa.Connection, source_id: str, fresh: Iterable[_Fresh],
                      now: datetime) -> None:
        """The stories a batch founds, with their ``story_tags``, without reading them back.

        What :meth:`_elect_representatives` and :meth:`_stories_changed` would find for
        them: their copies are all in this batch, of one source (so one priority), and
        no editor has touched them yet.
        """
        source_tags = conn.execute(_SOURCE_TAGS, {"source_id": source_id}).scalar() or ()
        story_rows: list[dict[str, Any]] = []
        tag_rows: list[dict[str, Any]] = []
        for story in fresh:
            # the representative: the earliest copy (same priority), as elected later
            published, cid = min(story.copies)
            row = {"id": story.id, "representative_copy_id": cid, "first_seen_at": now,
                   "published_at": published, "updated_at": now, "hidden": False,
                   "revision": 1}
            story_rows.append(row)
            tag_rows += ({"story_id": story.id, "tag": tag, "published_at": published,
                          "first_seen_at": now, "hidden": False, "revision": 1,
                          "updated_at": now}
                         for tag in sorted(story.tags.union(source_tags)))
        conn.execute(stories.insert(), story_rows)
        if tag_rows:
            conn.execute(story_tags.insert(), tag_rows)

    def _write_analyses(self, conn: sa.Connection, analysed: Sequence[tuple[str, Analysis]],
                        *, replace: set[str]) -> None:
        """Tags and event of each copy; those of ``replace`` (edited copies) are rewritten."""
        for chunk in chunks(sorted(replace)):
            conn.execute(_UNTAG_COPIES, {"ids": chunk})
            conn.execute(_UNEVENT_COPIES, {"ids": chunk})
        tag_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        for cid, analysis in analysed:
            seen: set[str] = set()
            for reason in analysis.tags:
                if reason.tag not in seen:  # one reason per tag: the first is the best
                    seen.add(reason.tag)
                    tag_rows.append({"copy_id": cid, "tag": reason.tag, "rule": reason.rule,
                                     "matched": reason.matched[:500], "field": reason.field})
            if analysis.event is not None:
                e = analysis.event
                event_rows.append({"copy_id": cid, "start": e.start, "end": e.end,
                                   "location": e.location, "country": e.country,
                                   "matched": (analysis.event_text or "")[:500]})
        if tag_rows:
            conn.execute(copy_tags.insert(), tag_rows)
        if event_rows:
            conn.execute(copy_events.insert(), event_rows)

    def _write_analysis(self, conn: sa.Connection, cid: str, analysis: Analysis) -> None:
        self._write_analyses(conn, [(cid, analysis)], replace={cid})

    def _stories_for(self, conn: sa.Connection, source_id: str, items: Sequence[Item],
                     suggested: Mapping[str, str]) -> dict[str, str | None]:
        """The story each new copy joins (by guid): same page, same content, or the suggestion.

        The same page: the earliest stored copy with its canonical URL, or an earlier
        copy of this batch. The same content: the earliest copy of another source with
        its content hash (texts of at least 200 characters).
        """
        by_url: dict[str, str] = {}
        urls = sorted({i.canonical_url for i in items if i.canonical_url})
        for chunk in chunks(urls):
            for url, sid in conn.execute(_BY_URL, {"ids": chunk}):
                by_url[url] = sid  # the earliest comes last and wins
        by_hash: dict[str, str] = {}
        hashes = sorted({i.content_hash for i in items if len(i.text) >= _MIN_HASH_JOIN_TEXT
                         and (not i.canonical_url or i.canonical_url not in by_url)})
        for chunk in chunks(hashes):
            for digest, sid in conn.execute(_BY_HASH, {"ids": chunk, "source_id": source_id}):
                by_hash[digest] = sid
        live: set[str] = set()
        for chunk in chunks(sorted({suggested[i.guid] for i in items if i.guid in suggested})):
            live.update(conn.execute(_LIVE, {"ids": chunk}).scalars())
        out: dict[str, str | None] = {}
        for item in items:
            sid = by_url.get(item.canonical_url) if item.canonical_url else None
            if sid is None and len(item.text) >= _MIN_HASH_JOIN_TEXT:
                sid = by_hash.get(item.content_hash)
            if sid is None and suggested.get(item.guid) in live:
                sid = suggested[item.guid]
            out[item.guid] = sid
            if item.canonical_url and item.canonical_url not in by_url:
                # a later copy of this batch with the same page joins this one's story
                by_url[item.canonical_url] = sid or story_id_for(copy_id(source_id, item.guid))
        return out

    def _elect_representatives(self, conn: sa.Connection, story_ids: Iterable[str],
                               now: datetime) -> None:
        """Mark these stories changed now, and elect each one's representative again.

        The representative: the highest source priority, then the earliest copy.
        """
        for chunk in chunks(sorted(set(story_ids))):
            candidates: dict[str, list[Any]] = {}
            for r in conn.execute(_CANDIDATES, {"ids": chunk}):
                candidates.setdefault(r.story_id, []).append(r)
            current = {r.id: r for r in conn.execute(_REPRESENTED, {"ids": chunk})}
            moved = []
            for sid, rows in candidates.items():
                best = min(rows, key=lambda r: (-r.priority, r.published_at or r.first_seen_at,
                                                r.first_seen_at, r.id))
                published = best.published_at or best.first_seen_at
                story = current[sid]
                if story.representative_copy_id != best.id or story.published_at != published:
                    moved.append({"b_id": sid, "rep": best.id, "published": published})
            if moved:
                conn.execute(_MOVE, moved)
            # a new or edited copy changes what the story shows (its copies, its
            # pooled tags), so the story has changed: feeds and publish see it
            conn.execute(_TOUCH, {"ids": chunk, "now": now})

    def _stories_changed(self, conn: sa.Connection, story_ids: Iterable[str]) -> None:
        """Bump these stories' revision and rewrite their ``story_tags`` from what is stored.

        Called in the same transaction by everything that changes a story's copies,
        tags, date or visibility, or a source's tags, after the story's own row is
        written (the rows copy its date, visibility, revision and update time). A
        merged story has no tags.
        """
        for chunk in chunks(sorted(set(story_ids))):
            conn.execute(_BUMP, {"ids": chunk})
            conn.execute(_UNTAG, {"ids": chunk})
            tags = self._tags_from_copies(conn, chunk)
            rows = [{"story_id": r.id, "tag": tag, "published_at": r.published_at,
                     "first_seen_at": r.first_seen_at, "hidden": r.hidden,
                     "revision": r.revision, "updated_at": r.updated_at}
                    for r in conn.execute(_STORY_ROWS, {"ids": chunk})
                    for tag in sorted(tags.get(r.id, ()))]
            if rows:
                conn.execute(story_tags.insert(), rows)

    # -- near-duplicate search ---------------------------------------------------------

    def dedupe_entries(self, lo: datetime, hi: datetime) -> Generator[dict[str, Any], None, None]:
        """Signatures of the copies published between ``lo`` and ``hi`` (plain data),
        one at a time as the query returns them: a window's worth held at once (rows
        and the index built from them) was the peak of a poll's memory."""
        published = sa.func.coalesce(copies.c.published_at, copies.c.first_seen_at)
        q = (sa.select(copies.c.id, copies.c.story_id, copies.c.source_id,
                       copies.c.published_at, copies.c.first_seen_at, copies.c.language,
                       copies.c.features, copies.c.signature, copy_events.c.start)
             .select_from(copies.outerjoin(copy_events, copy_events.c.copy_id == copies.c.id))
             .where(copies.c.signature.is_not(None), published >= lo, published <= hi))
        with self.engine.connect() as conn:
            for r in conn.execution_options(yield_per=500).execute(q):
                yield {"copy_id": r.id, "story_id": r.story_id, "source_id": r.source_id,
                       "published": r.published_at or r.first_seen_at, "language": r.language,
                       "features": r.features or {}, "signature": bytes(r.signature),
                       "event_start": r.start}

    # -- reading stories ---------------------------------------------------------------

    def count_stories(self, *, include_hidden: bool = False) -> int:
        q = sa.select(sa.func.count()).select_from(stories).where(stories.c.merged_into.is_(None))
        if not include_hidden:
            q = q.where(stories.c.hidden.is_(False))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def list_stories(self, *, include_hidden: bool = False, limit: int | None = None,
                     offset: int = 0, since: datetime | None = None,
                     ids: Sequence[str] | None = None, tag: str | None = None,
                     pinned_only: bool = False, with_event: bool = False,
                     now: datetime | None = None) -> list[Story]:
        """Stories, newest first (by their representative's date).

        ``now`` decides which pins still hold (default: the current time).
        """
        now = now or datetime.now(UTC)
        rep = copies.alias("rep")
        q = (sa.select(stories.c.id.label("story_id_"), stories.c.published_at.label("story_pub"),
                       stories.c.first_seen_at.label("story_seen"),
                       stories.c.updated_at.label("story_updated"), stories.c.hidden,
                       stories.c.pinned_at, stories.c.pin_order, stories.c.pin_until,
                       stories.c.pin_note, stories.c.pin_by, stories.c.revision,
                       rep.c.id.label("rep_id"), rep.c.source_id, rep.c.title, rep.c.url,
                       rep.c.summary_html, rep.c.content_html, rep.c.categories,
                       rep.c.enclosures, rep.c.author,
                       sources.c.title.label("source_title"),
                       sources.c.url.label("source_url"))
             .select_from(stories.join(rep, rep.c.id == stories.c.representative_copy_id)
                          .join(sources, sources.c.id == rep.c.source_id))
             .where(stories.c.merged_into.is_(None))
             .order_by(stories.c.published_at.desc(), stories.c.first_seen_at.desc(),
                       stories.c.id))
        if not include_hidden:
            q = q.where(stories.c.hidden.is_(False))
        if since is not None:
            q = q.where(stories.c.published_at >= since)
        if ids is not None:
            q = q.where(stories.c.id.in_(list(ids)))
        if tag is not None:  # the tag's rows carry the date: an index range, newest first
            q = (q.join(story_tags, story_tags.c.story_id == stories.c.id)
                 .where(story_tags.c.tag == tag)
                 .order_by(None)
                 .order_by(story_tags.c.published_at.desc(), story_tags.c.first_seen_at.desc(),
                           story_tags.c.story_id))
            if not include_hidden:
                q = q.where(story_tags.c.hidden.is_(False))
            if since is not None:
                q = q.where(story_tags.c.published_at >= since)
        if with_event:
            q = q.where(stories.c.id.in_(
                sa.select(copies.c.story_id).join(copy_events,
                                                  copy_events.c.copy_id == copies.c.id)))
        if pinned_only:  # the few pinned ids first: else SQLite walks every story by date
            with self.engine.connect() as conn:
                pinned = conn.execute(sa.select(stories.c.id).where(
                    stories.c.pinned_at.is_not(None),
                    sa.or_(stories.c.pin_until.is_(None), stories.c.pin_until > now))).scalars()
                q = q.where(stories.c.id.in_(list(pinned)))
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            ids_ = [r.story_id_ for r in rows]
            others = self._other_copies(conn, ids_)
            tags = self._pooled_tags(conn, ids_)
            events = self._pooled_events(conn, ids_, {r.story_id_: r.rep_id for r in rows})
        return [self._story(r, others.get(r.story_id_, []), tags.get(r.story_id_, set()),
                            events.get(r.story_id_), now) for r in rows]

    def tag_story_refs(self, tags: Sequence[str], *, limit: int,
                       since: datetime | None = None) -> dict[str, list[StoryRef]]:
        """Each tag's newest visible stories, as ``list_stories(tag=...)`` orders them.

        Only ids and versions, from the ``story_tags`` index alone: what a publish needs
        to know whether a tag's feed changed. One query per tag, each an index range.
        """
        st = story_tags.c  # only live stories have rows, with their visibility and version
        q = (sa.select(st.story_id, st.revision, st.updated_at)
             .where(st.tag == sa.bindparam("tag"), st.hidden.is_(False))
             .order_by(st.published_at.desc(), st.first_seen_at.desc(), st.story_id)
             .limit(limit))
        if since is not None:
            q = q.where(st.published_at >= since)
        with self.engine.connect() as conn:
            return {tag: [StoryRef(*r) for r in conn.execute(q, {"tag": tag}).all()]
                    for tag in tags}

    def newest_event_stories(self, limit: int, now: datetime | None = None) -> list[Story]:
        """The visible stories whose event starts last (then ends last, then by id): at least
        the ``limit`` that ``meetings.ics`` shows, read without every other event story.

        A story's event is one of its copies' events (:meth:`_pooled_events` chooses), so
        it lies between the earliest and the latest of them: a story whose latest is below
        the ``limit``-th earliest cannot be among the newest, and is not read.
        """
        # the events first (few), then their stories: a join lets SQLite scan every copy
        lowest: dict[str, tuple[date, date, str]] = {}
        highest: dict[str, tuple[date, date, str]] = {}
        with self.engine.connect() as conn:
            events = {cid: (start, end) for cid, start, end in conn.execute(
                sa.select(copy_events.c.copy_id, copy_events.c.start, copy_events.c.end))}
            q = (sa.select(copies.c.id, copies.c.story_id)
                 .join(stories, stories.c.id == copies.c.story_id)
                 .where(stories.c.hidden.is_(False), stories.c.merged_into.is_(None)))
            for chunk in chunks(sorted(events)):
                for cid, sid in conn.execute(q.where(copies.c.id.in_(chunk))):
                    key = (*events[cid], sid)
                    lowest[sid] = min(lowest.get(sid, key), key)
                    highest[sid] = max(highest.get(sid, key), key)
        if len(lowest) > limit > 0:
            floor = sorted(lowest.values(), reverse=True)[limit - 1]
            wanted = [sid for sid, key in highest.items() if key >= floor]
        else:
            wanted = list(lowest) if limit > 0 else []
        found: list[Story] = []
        for chunk in chunks(sorted(wanted)):
            found += [s for s in self.list_stories(ids=chunk, now=now) if s.event is not None]
        return found

    def publish_state(self, now: datetime) -> list[object]:
        """A few aggregates that change whenever an output would (a publish fingerprint).

        Story changes move ``updated_at`` and the sum of the revisions (which also moves
        within one clock tick); hiding, pinning, pins running out, source edits and new
        events are counted separately. No story rows.
        """
        live = stories.c.merged_into.is_(None)
        active_pin = sa.and_(stories.c.pinned_at.is_not(None),
                             sa.or_(stories.c.pin_until.is_(None), stories.c.pin_until > now))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(
                sa.func.count(), sa.func.max(stories.c.updated_at),
                sa.func.sum(sa.case((stories.c.hidden.is_(True), 1), else_=0)),
                sa.func.max(sa.case((stories.c.hidden.is_(True), stories.c.id), else_=None)),
                sa.func.sum(sa.case((active_pin, 1), else_=0)),
                sa.func.max(sa.case((active_pin, stories.c.pinned_at), else_=None)),
                sa.func.min(sa.case((active_pin, stories.c.pin_until), else_=None)),
            ).where(live)).one()
            # sorted here: ORDER BY id makes SQLite walk the table in id order, row by row
            hidden = sorted(conn.execute(sa.select(stories.c.id).where(
                live, stories.c.hidden.is_(True))).scalars())
            pins = sorted(conn.execute(sa.select(stories.c.id, stories.c.pin_order,
                                                 stories.c.pinned_at).where(live, active_pin)))
            source_row = conn.execute(sa.select(sa.func.count(),
                                                sa.func.max(sources.c.updated_at))).one()
            events = conn.execute(sa.select(sa.func.count()).select_from(copy_events)).scalar()
            # a copy joining a story changes it even within one clock tick
            copies_count = conn.execute(sa.select(sa.func.count()).select_from(copies)).scalar()
            revisions = conn.execute(sa.select(sa.func.sum(stories.c.revision))).scalar()
        return [*(str(v) for v in row), str(copies_count), str(revisions), ",".join(hidden),
                ";".join(f"{p.id}:{p.pin_order}:{p.pinned_at}" for p in pins),
                *(str(v) for v in source_row), str(events)]

    def tag_counts(self) -> dict[str, int]:
        """How many visible stories carry each tag (rule tags and source tags)."""
        q = (sa.select(story_tags.c.tag, sa.func.count())
             .where(story_tags.c.hidden.is_(False)).group_by(story_tags.c.tag))
        with self.engine.connect() as conn:
            return {tag: int(n) for tag, n in conn.execute(q)}

    def get_story(self, story_id: str, *, include_hidden: bool = True) -> Story:
        story_id = self.resolve_story_id(story_id)
        found = self.list_stories(include_hidden=include_hidden, ids=[story_id])
        if not found:
            raise NotFoundError(f"no story with id {story_id!r} (see: aggregator items list)")
        return found[0]

    def resolve_story_id(self, story_id: str) -> str:
        """Follow merges: a merged story's id leads to the story it joined."""
        with self.engine.connect() as conn:
            for _ in range(32):
                target = conn.execute(sa.select(stories.c.merged_into)
                                      .where(stories.c.id == story_id)).scalar()
                if not target:
                    return story_id
                story_id = target
        return story_id

    def _other_copies(self, conn: sa.Connection, story_ids: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        q = (sa.select(copies.c.id, copies.c.story_id, copies.c.source_id, copies.c.url,
                       copies.c.title)
             .join(stories, stories.c.id == copies.c.story_id)
             .where(copies.c.id != stories.c.representative_copy_id))
        for chunk in chunks(story_ids):
            for row in conn.execute(q.where(copies.c.story_id.in_(chunk))
                                    .order_by(copies.c.first_seen_at, copies.c.id)):
                out.setdefault(row.story_id, []).append(row)
        return out

    def _pooled_tags(self, conn: sa.Connection, story_ids: list[str]) -> dict[str, set[str]]:
        """Each story's tags, as ``story_tags`` holds them."""
        out: dict[str, set[str]] = {}
        q = sa.select(story_tags.c.story_id, story_tags.c.tag)
        for chunk in chunks(story_ids):
            for sid, tag in conn.execute(q.where(story_tags.c.story_id.in_(chunk))):
                out.setdefault(sid, set()).add(tag)
        return out

    @staticmethod
    def _tags_from_copies(conn: sa.Connection, story_ids: Sequence[str]
                          ) -> dict[str, set[str]]:
        """Each story's tags: every copy's tags and every copy's source tags."""
        out: dict[str, set[str]] = {}
        for chunk in chunks(story_ids):
            for sid, tag in conn.execute(_TAGS_BY_RULE, {"ids": chunk}):
                out.setdefault(sid, set()).add(tag)
            for sid, source_tags in conn.execute(_TAGS_BY_SOURCE, {"ids": chunk}):
                out.setdefault(sid, set()).update(source_tags or ())
            # an editor's word beats the rules' and the sources'
            for sid, tag, action in conn.execute(_TAG_EDITS, {"ids": chunk}):
                if action == "add":
                    out.setdefault(sid, set()).add(tag)
                else:
                    out.get(sid, set()).discard(tag)
        return out

    def _pooled_events(self, conn: sa.Connection, story_ids: list[str],
                       representatives: dict[str, str]) -> dict[str, Event]:
        """Each story's event: its representative's, else the most complete copy's."""
        found: dict[str, list[tuple[int, Any]]] = {}
        q = (sa.select(copies.c.story_id, copies.c.id, copy_events)
             .join(copy_events, copy_events.c.copy_id == copies.c.id))
        for chunk in chunks(story_ids):
            for r in conn.execute(q.where(copies.c.story_id.in_(chunk))):
                rank = (2 if representatives.get(r.story_id) == r.id else 0) + \
                    (r.location is not None) + (r.country is not None)
                found.setdefault(r.story_id, []).append((rank, r))
        return {sid: _event(max(rows, key=lambda x: x[0])[1]) for sid, rows in found.items()}

    @staticmethod
    def _story(r: Any, others: list[Any], tags: set[str], event: Event | None,
               now: datetime) -> Story:
        pin = None
        if r.pinned_at is not None:
            pin = Pin(at=r.pinned_at, order=r.pin_order or 0, until=r.pin_until,
                      note=r.pin_note, by=r.pin_by)
        return Story(
            id=r.story_id_, title=r.title, url=r.url, source=r.source_id,
            source_title=r.source_title, source_url=r.source_url,
            published=r.story_pub, first_seen=r.story_seen, updated=r.story_updated,
            summary_html=r.summary_html, content_html=r.content_html,
            tags=tuple(sorted(tags)), pinned=pin is not None and pin.active(now), hidden=r.hidden,
            event=event,
            duplicates=tuple(Duplicate(id=o.id, source=o.source_id, url=o.url, title=o.title)
                             for o in others),
            copy_id=r.rep_id, categories=tuple(r.categories or ()),
            enclosures=tuple(Enclosure(e["url"], e.get("type") or "", e.get("length"))
                             for e in (r.enclosures or ())),
            author=r.author, pin=pin, revision=r.revision,
        )

    def story_reasons(self, story_id: str) -> list[Reason]:
        """Why a story has each tag: per copy, the rule and the text it matched."""
        story_id = self.resolve_story_id(story_id)
        q = (sa.select(copies.c.id, copies.c.source_id, copy_tags)
             .join(copy_tags, copy_tags.c.copy_id == copies.c.id)
             .where(copies.c.story_id == story_id)
             .order_by(copy_tags.c.tag, copies.c.first_seen_at))
        src = (sa.select(copies.c.id, copies.c.source_id, sources.c.tags)
               .join(sources, sources.c.id == copies.c.source_id)
               .where(copies.c.story_id == story_id))
        with self.engine.connect() as conn:
            out = [Reason(r.id, r.source_id, r.tag, r.rule, r.matched, r.field)
                   for r in conn.execute(q)]
            for r in conn.execute(src):
                out.extend(Reason(r.id, r.source_id, t, "source", r.source_id, "")
                           for t in r.tags or ())
            edits = conn.execute(sa.select(story_tag_edits)
                                 .where(story_tag_edits.c.story_id == story_id)).all()
        removed = {e.tag for e in edits if e.action == "remove"}
        out = [r for r in out if r.tag not in removed]
        out.extend(Reason("", "", e.tag, "editor", e.by or "an editor", "")
                   for e in edits if e.action == "add")
        return sorted(out, key=lambda x: (x.tag, x.rule != "source"))

    def event_text(self, story_id: str) -> str | None:
        story_id = self.resolve_story_id(story_id)
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(copy_events.c.matched)
                .join(copies, copies.c.id == copy_events.c.copy_id)
                .where(copies.c.story_id == story_id).limit(1)).scalar()

    # -- editors' corrections ----------------------------------------------------------

    def merge_stories(self, keep: str, other: str, now: datetime) -> Story:
        """Move every copy of ``other`` into ``keep``; ``other``'s id then leads to ``keep``."""
        keep, other = self.resolve_story_id(keep), self.resolve_story_id(other)
        if keep == other:
            raise UsageError(f"{keep} and {other} are already one story")
        with self._write() as conn:
            for sid in (keep, other):
                if not conn.execute(sa.select(stories.c.id).where(stories.c.id == sid)).scalar():
                    raise NotFoundError(f"no story with id {sid!r}")
            conn.execute(copies.update().where(copies.c.story_id == other)
                         .values(story_id=keep, manual=True))
            conn.execute(stories.update().where(stories.c.id == other)
                         .values(merged_into=keep, representative_copy_id=None, updated_at=now))
            self._elect_representatives(conn, [keep], now)
            self._stories_changed(conn, (keep, other))
        return self.get_story(keep)

    def split_copy(self, cid: str, now: datetime) -> Story:
        """Take one copy out of its story into a story of its own (with a new id)."""
        with self._write() as conn:
            row = conn.execute(sa.select(copies).where(copies.c.id == cid)).first()
            if row is None:
                raise NotFoundError(f"no copy with id {cid!r} (copy ids are listed as "
                                    "duplicates by: aggregator items show ID)")
            count = conn.execute(sa.select(sa.func.count()).select_from(copies)
                                 .where(copies.c.story_id == row.story_id)).scalar()
            if count == 1:
                raise UsageError(f"copy {cid} is alone in story {row.story_id}: nothing to split")
            n = 1
            while conn.execute(sa.select(stories.c.id).where(
                    stories.c.id == story_id_for(cid, f"split-{n}"))).scalar():
                n += 1
            new_id = story_id_for(cid, f"split-{n}")
            conn.execute(stories.insert().values(
                id=new_id, representative_copy_id=cid, first_seen_at=row.first_seen_at,
                published_at=row.published_at or row.first_seen_at, updated_at=now,
                hidden=False))
            conn.execute(copies.update().where(copies.c.id == cid)
                         .values(story_id=new_id, manual=True))
            self._elect_representatives(conn, [row.story_id], now)
            self._stories_changed(conn, (row.story_id, new_id))
        return self.get_story(new_id)

    def pin(self, story_id: str, now: datetime, *, until: datetime | None = None,
            note: str | None = None, order: int = 0, by: str | None = None) -> Story:
        """Feature a story: it leads the page, fills featured.xml, heads the digest."""
        return self._set(story_id, now, pinned_at=now, pin_until=until, pin_note=note,
                         pin_order=order, pin_by=by)

    def unpin(self, story_id: str, now: datetime) -> Story:
        return self._set(story_id, now, pinned_at=None, pin_until=None, pin_note=None,
                         pin_order=None, pin_by=None)

    def set_hidden(self, story_id: str, hidden: bool, now: datetime) -> Story:
        """A hidden story (a false positive) appears in no output and no digest."""
        return self._set(story_id, now, hidden=hidden)

    def _set(self, story_id: str, now: datetime, **values: Any) -> Story:
        # not ``updated_at``: featuring or hiding a story does not change what it says,
        # and feed readers would show it as edited
        story_id = self.resolve_story_id(story_id)
        with self._write() as conn:
            done = conn.execute(stories.update().where(stories.c.id == story_id)
                                .values(**values))
            if done.rowcount != 1:
                raise NotFoundError(f"no story with id {story_id!r} (see: aggregator items list)")
            if "hidden" in values:
                self._stories_changed(conn, (story_id,))
        return self.get_story(story_id)

    # -- analysing again ---------------------------------------------------------------

    def iter_copies(self, batch: int = 500) -> Iterator[StoredCopy]:
        """Every stored copy with its current tags, for re-running the tag rules."""
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(copies).where(copies.c.id > last)
                                    .order_by(copies.c.id).limit(batch)).all()
                if not rows:
                    return
                tags: dict[str, list[TagReason]] = {}
                for t in conn.execute(sa.select(copy_tags).where(
                        copy_tags.c.copy_id.in_([r.id for r in rows]))):
                    tags.setdefault(t.copy_id, []).append(
                        TagReason(t.tag, t.rule, t.matched, t.field))
            for r in rows:
                yield StoredCopy(r.id, r.story_id, _item(r), tuple(tags.get(r.id, ())))
            last = rows[-1].id

    def replace_analysis(self, cid: str, analysis: Analysis, now: datetime) -> None:
        with self._write() as conn:
            self._write_analysis(conn, cid, analysis)
            sid = conn.execute(sa.select(copies.c.story_id).where(copies.c.id == cid)).scalar()
            conn.execute(stories.update().where(stories.c.id == sid).values(updated_at=now))
            if sid is not None:
                self._stories_changed(conn, (sid,))


def _event(r: Any) -> Event:
    start: date = r.start
    return Event(start=start, end=r.end, location=r.location, country=r.country)


def _item(r: Any) -> Item:
    return Item(
        source_id=r.source_id, guid=r.guid, url=r.url, canonical_url=r.canonical_url,
        title=r.title, summary_html=r.summary_html, content_html=r.content_html, text=r.text,
        author=r.author, published=r.published_at, updated=r.entry_updated_at,
        categories=tuple(r.categories or ()),
        enclosures=tuple(Enclosure(e["url"], e.get("type") or "", e.get("length"))
                         for e in (r.enclosures or ())),
        language=r.language, content_hash=r.content_hash)
