"""The store: the only module that reads and writes the database.

SQLAlchemy Core 2.x over SQLite (WAL, the default) or PostgreSQL (psycopg 3), with
Alembic migrations applied at start-up. Rows never leave this package: callers get
the frozen dataclasses of :mod:`aggregator.models`.

Writes for one source happen in one transaction (its copies and its health).
Work that several processes might do at once is claimed with an expiring lease:
a conditional UPDATE that only one claimant can win, with ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL so concurrent workers do not even wait for each other.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError
from aggregator.models import (
    Duplicate,
    Enclosure,
    Item,
    SelectRules,
    Source,
    SourceDef,
    SourceKind,
    SourceStatus,
    Story,
)
from aggregator.store.engine import create_engine, migrate
from aggregator.store.schema import copies, sources, state, stories

__all__ = ["IngestResult", "Store", "SyncReport", "copy_id", "story_id_for"]

_CHUNK = 500  # bound IN (...) lists: SQLite's variable limit, PostgreSQL's plan size


def _hash_id(*parts: str, length: int) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:length]


def copy_id(source_id: str, guid: str) -> str:
    """Stable id of a copy: the same (source, guid) always gets the same id."""
    return _hash_id("copy", source_id, guid, length=16)


def story_id_for(first_copy_id: str, salt: str = "") -> str:
    """Public id of a story, derived from the copy that founded it (never changes)."""
    return _hash_id("story", first_copy_id, salt, length=12)


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


# -- row <-> model ---------------------------------------------------------------------


def _select_to_json(select: SelectRules | None) -> dict[str, Any] | None:
    if select is None:
        return None
    return {f: getattr(select, f) for f in SelectRules.__dataclass_fields__}


def _definition_values(d: SourceDef) -> dict[str, Any]:
    return {
        "url": d.url,
        "kind": d.kind.value,
        "title": d.title,
        "tags": list(d.tags),
        "interval_seconds": d.interval,
        "priority": d.priority,
        "select_rules": _select_to_json(d.select),
        "origin": d.origin,
    }


def _source_from_row(row: Any, items: int = 0) -> Source:
    select = SelectRules(**row.select_rules) if row.select_rules else None
    definition = SourceDef(
        id=row.id, url=row.url, kind=SourceKind(row.kind), title=row.title,
        tags=tuple(row.tags or ()), interval=row.interval_seconds, priority=row.priority,
        select=select, origin=row.origin,
    )
    status = SourceStatus.DISABLED if not row.enabled else SourceStatus(row.status)
    return Source(
        definition=definition, enabled=row.enabled, status=status,
        disabled_reason=row.disabled_reason, effective_url=row.effective_url,
        redirect_candidate=row.redirect_candidate,
        last_error=row.last_error, error_count=row.error_count,
        last_success_at=row.last_success_at, last_attempt_at=row.last_attempt_at,
        next_poll_at=row.next_poll_at, etag=row.etag, last_modified=row.last_modified,
        items=items,
    )


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


# what makes a stored copy different enough to rewrite it
_COMPARED = ("url", "title", "summary_html", "content_html", "published_at", "content_hash",
             "categories", "enclosures", "author")


class Store:
    """One database; open with :meth:`open` and close when done."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate_schema: bool = True) -> Store:
        engine = create_engine(url)
        if migrate_schema:
            migrate(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                yield conn

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # -- sources -------------------------------------------------------------------

    def sync_sources(self, defs: Iterable[SourceDef], now: datetime) -> SyncReport:
        """Make the database agree with the source files (DESIGN §4).

        New ids are added, changed fields updated, ids that vanished from the files
        disabled (never deleted with their items), and re-enabled if they come back.
        Sources added at run time (origin "db") are left alone.
        """
        defs = list(defs)
        added, updated, disabled, enabled = [], [], [], []
        with self._write() as conn:
            rows = {r.id: r for r in conn.execute(sa.select(sources))}
            for d in defs:
                values = _definition_values(d)
                row = rows.get(d.id)
                if row is None:
                    conn.execute(sources.insert().values(
                        id=d.id, **values, enabled=True, status=SourceStatus.NEW.value,
                        error_count=0, created_at=now, updated_at=now))
                    added.append(d.id)
                    continue
                changes = {k: v for k, v in values.items() if getattr(row, k) != v}
                if "url" in changes:  # a new address: forget what we knew of the old one
                    changes.update(effective_url=None, redirect_candidate=None, etag=None,
                                   last_modified=None, next_poll_at=None)
                if not row.enabled and row.disabled_reason == "removed":
                    changes.update(enabled=True, disabled_reason=None, last_error=None)
                    enabled.append(d.id)
                if changes:
                    conn.execute(sources.update().where(sources.c.id == d.id)
                                 .values(**changes, updated_at=now))
                    if d.id not in enabled:
                        updated.append(d.id)
            wanted = {d.id for d in defs}
            for row in rows.values():
                if row.id not in wanted and row.origin != "db" and row.enabled:
                    conn.execute(sources.update().where(sources.c.id == row.id).values(
                        enabled=False, disabled_reason="removed", updated_at=now,
                        last_error=f"no longer defined in {row.origin}; disabled, items kept"))
                    disabled.append(row.id)
        return SyncReport(tuple(added), tuple(updated), tuple(disabled), tuple(enabled))

    def add_source(self, d: SourceDef, now: datetime) -> Source:
        with self._write() as conn:
            if conn.execute(sa.select(sources.c.id).where(sources.c.id == d.id)).first():
                raise NotFoundError(f"a source with id {d.id!r} already exists")
            conn.execute(sources.insert().values(
                id=d.id, **_definition_values(d), enabled=True,
                status=SourceStatus.NEW.value, error_count=0, created_at=now, updated_at=now))
        return self.get_source(d.id)

    def find_source_by_url(self, url: str) -> Source | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sources).where(
                (sources.c.url == url) | (sources.c.effective_url == url))).first()
        return _source_from_row(row) if row else None

    def get_source(self, source_id: str) -> Source:
        found = self.list_sources([source_id])
        if not found:
            raise NotFoundError(f"no source with id {source_id!r} (see: aggregator sources list)")
        return found[0]

    def list_sources(self, ids: Sequence[str] | None = None) -> list[Source]:
        counts = (sa.select(copies.c.source_id, sa.func.count().label("n"))
                  .group_by(copies.c.source_id).subquery())
        q = (sa.select(sources, sa.func.coalesce(counts.c.n, 0).label("items_count"))
             .select_from(sources.outerjoin(counts, counts.c.source_id == sources.c.id))
             .order_by(sources.c.id))
        if ids is not None:
            q = q.where(sources.c.id.in_(list(ids)))
        with self.engine.connect() as conn:
            return [_source_from_row(r, r.items_count) for r in conn.execute(q)]

    def set_enabled(self, source_id: str, enabled: bool, now: datetime) -> Source:
        self.get_source(source_id)
        values: dict[str, Any] = {"enabled": enabled, "updated_at": now}
        if enabled:
            # a fresh start: due at once, no backoff left over from before
            values.update(disabled_reason=None, next_poll_at=None, error_count=0)
        else:
            values.update(disabled_reason="user")
        with self._write() as conn:
            conn.execute(sources.update().where(sources.c.id == source_id).values(**values))
        return self.get_source(source_id)

    def claim_sources(self, now: datetime, owner: str, lease: timedelta, *,
                      ids: Sequence[str] | None = None, due_only: bool = True) -> list[Source]:
        """Claim enabled sources for polling; each is claimed by one owner at a time.

        ``due_only``: only those whose ``next_poll_at`` has come. A lease that ran out
        (its worker died) can be claimed again.
        """
        free = sa.or_(sources.c.lease_until.is_(None), sources.c.lease_until < now)
        cond = sa.and_(sources.c.enabled.is_(True), free)
        if due_only:
            cond = sa.and_(cond, sa.or_(sources.c.next_poll_at.is_(None),
                                        sources.c.next_poll_at <= now))
        if ids is not None:
            cond = sa.and_(cond, sources.c.id.in_(list(ids)))
        claimed: list[str] = []
        with self._write() as conn:
            q = sa.select(sources.c.id).where(cond).order_by(sources.c.next_poll_at)
            if self.is_postgres:
                q = q.with_for_update(skip_locked=True)
            for sid in conn.execute(q).scalars().all():
                res = conn.execute(sources.update().where(sa.and_(sources.c.id == sid, free))
                                   .values(lease_owner=owner, lease_until=now + lease))
                if res.rowcount == 1:
                    claimed.append(sid)
        return self.list_sources(claimed) if claimed else []

    def update_source(self, source_id: str, conn: sa.Connection | None = None,
                      **values: Any) -> None:
        """Write health fields (status, errors, validators, next poll) and release the lease."""
        values.setdefault("lease_owner", None)
        values.setdefault("lease_until", None)
        if isinstance(values.get("status"), SourceStatus):
            values["status"] = values["status"].value
        stmt = sources.update().where(sources.c.id == source_id).values(**values)
        if conn is not None:
            conn.execute(stmt)
        else:
            with self._write() as c:
                c.execute(stmt)

    def known_guids(self, source_id: str, guids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(guids)):
                found.update(conn.execute(sa.select(copies.c.guid).where(
                    copies.c.source_id == source_id, copies.c.guid.in_(chunk))).scalars())
        return found

    # -- ingest ----------------------------------------------------------------------

    def ingest(self, source: Source, items: Sequence[Item], now: datetime,
               **source_values: Any) -> IngestResult:
        """Store one poll's items and the source's new health, in one transaction.

        A copy is keyed by (source, guid): an edited entry is updated in place, and a
        guid repeated within the batch is stored once (the last one wins). A new copy
        whose canonical URL another source already published joins that story.
        """
        batch: dict[str, Item] = {}
        for item in items:
            batch[item.guid] = item
        new = updated = unchanged = 0
        with self._write() as conn:
            existing: dict[str, Any] = {}
            for chunk in _chunks(list(batch)):
                for found in conn.execute(sa.select(copies).where(
                        copies.c.source_id == source.id, copies.c.guid.in_(chunk))):
                    existing[found.guid] = found
            touched: set[str] = set()
            for guid, item in batch.items():
                values = _copy_values(item)
                row = existing.get(guid)
                if row is None:
                    cid = copy_id(source.id, guid)
                    sid = self._story_for(conn, item, source.id) or story_id_for(cid)
                    if sid == story_id_for(cid):
                        published = item.published or now
                        conn.execute(stories.insert().values(
                            id=sid, representative_copy_id=cid, first_seen_at=now,
                            published_at=published, updated_at=now, hidden=False))
                    conn.execute(copies.insert().values(
                        id=cid, story_id=sid, source_id=source.id, guid=guid,
                        first_seen_at=now, changed_at=now, **values))
                    touched.add(sid)
                    new += 1
                elif any(getattr(row, k) != v for k, v in values.items() if k in _COMPARED):
                    conn.execute(copies.update().where(copies.c.id == row.id)
                                 .values(changed_at=now, **values))
                    touched.add(row.story_id)
                    updated += 1
                else:
                    unchanged += 1
            for sid in touched:
                self._elect_representative(conn, sid, now)
            if source_values:
                self.update_source(source.id, conn, **source_values)
        return IngestResult(new, updated, unchanged)

    def _story_for(self, conn: sa.Connection, item: Item, source_id: str) -> str | None:
        if not item.canonical_url:
            return None
        return conn.execute(
            sa.select(copies.c.story_id).where(copies.c.canonical_url == item.canonical_url)
            .order_by(copies.c.first_seen_at).limit(1)).scalar()

    def _elect_representative(self, conn: sa.Connection, story_id: str, now: datetime) -> None:
        """Representative: the highest source priority, then the earliest copy."""
        rows = conn.execute(
            sa.select(copies.c.id, copies.c.published_at, copies.c.first_seen_at,
                      copies.c.changed_at, sources.c.priority)
            .select_from(copies.join(sources, sources.c.id == copies.c.source_id))
            .where(copies.c.story_id == story_id)).all()
        if not rows:
            return
        best = min(rows, key=lambda r: (-r.priority, r.published_at or r.first_seen_at,
                                        r.first_seen_at, r.id))
        story = conn.execute(sa.select(stories).where(stories.c.id == story_id)).one()
        published = best.published_at or best.first_seen_at
        if (story.representative_copy_id != best.id or story.published_at != published
                or best.changed_at > story.updated_at):
            conn.execute(stories.update().where(stories.c.id == story_id).values(
                representative_copy_id=best.id, published_at=published, updated_at=now))

    # -- stories ---------------------------------------------------------------------

    def count_stories(self, *, include_hidden: bool = False) -> int:
        q = sa.select(sa.func.count()).select_from(stories)
        if not include_hidden:
            q = q.where(stories.c.hidden.is_(False))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    def list_stories(self, *, include_hidden: bool = False, limit: int | None = None,
                     since: datetime | None = None, ids: Sequence[str] | None = None,
                     ) -> list[Story]:
        """Stories, newest first (by their representative's date)."""
        rep = copies.alias("rep")
        q = (sa.select(stories.c.id.label("story_id_"), stories.c.published_at.label("story_pub"),
                       stories.c.first_seen_at.label("story_seen"),
                       stories.c.updated_at.label("story_updated"), stories.c.hidden,
                       stories.c.pinned_at, stories.c.pin_order, stories.c.pin_until,
                       stories.c.pin_note,
                       rep.c.id.label("rep_id"), rep.c.source_id, rep.c.title, rep.c.url,
                       rep.c.summary_html, rep.c.content_html, rep.c.categories,
                       rep.c.enclosures, rep.c.author,
                       sources.c.title.label("source_title"),
                       sources.c.url.label("source_url"), sources.c.tags.label("source_tags"))
             .select_from(stories.join(rep, rep.c.id == stories.c.representative_copy_id)
                          .join(sources, sources.c.id == rep.c.source_id))
             .order_by(stories.c.published_at.desc(), stories.c.first_seen_at.desc(),
                       stories.c.id))
        if not include_hidden:
            q = q.where(stories.c.hidden.is_(False))
        if since is not None:
            q = q.where(stories.c.published_at >= since)
        if ids is not None:
            q = q.where(stories.c.id.in_(list(ids)))
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            others = self._other_copies(conn, [r.story_id_ for r in rows])
        return [self._story(r, others.get(r.story_id_, [])) for r in rows]

    def get_story(self, story_id: str, *, include_hidden: bool = True) -> Story:
        found = self.list_stories(include_hidden=include_hidden, ids=[story_id])
        if not found:
            raise NotFoundError(f"no story with id {story_id!r} (see: aggregator items list)")
        return found[0]

    def _other_copies(self, conn: sa.Connection, story_ids: list[str]) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        q = (sa.select(copies.c.id, copies.c.story_id, copies.c.source_id, copies.c.url,
                       copies.c.title, sources.c.tags.label("source_tags"))
             .select_from(copies.join(sources, sources.c.id == copies.c.source_id))
             .join(stories, stories.c.id == copies.c.story_id)
             .where(copies.c.id != stories.c.representative_copy_id))
        for chunk in _chunks(story_ids):
            for row in conn.execute(q.where(copies.c.story_id.in_(chunk))
                                    .order_by(copies.c.first_seen_at, copies.c.id)):
                out.setdefault(row.story_id, []).append(row)
        return out

    @staticmethod
    def _story(r: Any, others: list[Any]) -> Story:
        tags = set(r.source_tags or ())
        for o in others:
            tags.update(o.source_tags or ())
        return Story(
            id=r.story_id_, title=r.title, url=r.url, source=r.source_id,
            source_title=r.source_title, source_url=r.source_url,
            published=r.story_pub, first_seen=r.story_seen, updated=r.story_updated,
            summary_html=r.summary_html, content_html=r.content_html,
            tags=tuple(sorted(tags)), pinned=r.pinned_at is not None, hidden=r.hidden,
            event=None,
            duplicates=tuple(Duplicate(id=o.id, source=o.source_id, url=o.url, title=o.title)
                             for o in others),
            copy_id=r.rep_id, categories=tuple(r.categories or ()),
            enclosures=tuple(Enclosure(e["url"], e.get("type") or "", e.get("length"))
                             for e in (r.enclosures or ())),
            author=r.author,
        )

    # -- small facts -----------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()

    def set_state(self, key: str, value: str) -> None:
        with self._write() as conn:
            if conn.execute(sa.update(state).where(state.c.key == key)
                            .values(value=value)).rowcount == 0:
                conn.execute(state.insert().values(key=key, value=value))

