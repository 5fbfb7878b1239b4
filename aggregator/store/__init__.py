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

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError
from aggregator.models import (
    SelectRules,
    Source,
    SourceDef,
    SourceKind,
    SourceStatus,
)
from aggregator.store.digests import DigestsMixin
from aggregator.store.editorial import EditorialMixin, StoryPage, definition_changes
from aggregator.store.engine import create_engine, migrate
from aggregator.store.ids import chunks, copy_id, story_id_for
from aggregator.store.retention import PruneReport, RetentionMixin
from aggregator.store.schema import copies, sources, state
from aggregator.store.stories import IngestResult, Reason, StoredCopy, StoriesMixin
from aggregator.store.users import UsersMixin

__all__ = [
    "IngestResult",
    "PruneReport",
    "Reason",
    "Store",
    "StoredCopy",
    "StoryPage",
    "SyncReport",
    "copy_id",
    "story_id_for",
]



#: any fixed number, the same in every process (SQLite's write lock does the same job)
_SYNC_LOCK = 0x73796E63  # "sync"


@dataclass(frozen=True, slots=True)
class SyncReport:
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    enabled: tuple[str, ...] = ()


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
        body_hash=row.body_hash, items=items, changed_at=row.updated_at,
    )


def _health(values: dict[str, Any]) -> dict[str, Any]:
    """A source's health fields as written: the lease released unless given, status as text."""
    row = {"lease_owner": None, "lease_until": None, **values}
    if isinstance(row.get("status"), SourceStatus):
        row["status"] = row["status"].value
    return row


def _free(now: datetime) -> sa.ColumnElement[bool]:
    """Not leased, or the lease ran out (its worker died)."""
    return sa.or_(sources.c.lease_until.is_(None), sources.c.lease_until < now)


def _claimable(now: datetime, ids: Sequence[str] | None,
               due_only: bool) -> sa.ColumnElement[bool]:
    """Enabled, free, due (``due_only``), among ``ids``."""
    cond = sa.and_(sources.c.enabled.is_(True), _free(now))
    if due_only:
        cond = sa.and_(cond, sa.or_(sources.c.next_poll_at.is_(None),
                                    sources.c.next_poll_at <= now))
    if ids is not None:
        cond = sa.and_(cond, sources.c.id.in_(list(ids)))
    return cond


#: built once: every poll of a source asks it
_KNOWN = sa.select(copies.c.guid).where(copies.c.source_id == sa.bindparam("source_id"),
                                        copies.c.guid.in_(sa.bindparam("ids", expanding=True)))


class Store(EditorialMixin, StoriesMixin, DigestsMixin, UsersMixin, RetentionMixin):
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
            if self.is_postgres:  # workers starting together: one sync at a time
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SYNC_LOCK})
            rows = {r.id: r for r in conn.execute(sa.select(sources))}
            for d in defs:
                row = rows.get(d.id)
                if row is None:
                    conn.execute(sources.insert().values(
                        id=d.id, **_definition_values(d), enabled=True,
                        status=SourceStatus.NEW.value, error_count=0, created_at=now,
                        updated_at=now))
                    added.append(d.id)
                    continue
                changes = definition_changes(row, d)
                if not row.enabled and row.disabled_reason == "removed":
                    changes.update(enabled=True, disabled_reason=None, last_error=None)
                    enabled.append(d.id)
                elif changes:
                    updated.append(d.id)
                self._redefine(conn, d.id, changes, now)
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
                      ids: Sequence[str] | None = None, due_only: bool = True,
                      limit: int | None = None, exclude: Sequence[str] = ()) -> list[Source]:
        """Claim enabled sources for polling; each is claimed by one owner at a time.

        The sources come back with ``items`` left at 0 (not counted for a poll).

        ``due_only``: only those whose ``next_poll_at`` has come. A lease that ran out
        (its worker died) can be claimed again. ``limit``: at most that many, the
        longest due first; ``exclude``: ones this poll already did (a source that
        failed may be due again at once, and must wait for the next cycle).
        """
        cond = _claimable(now, ids, due_only)
        if exclude:
            cond = sa.and_(cond, sources.c.id.not_in(list(exclude)))
        claimed: list[Source] = []
        with self._write() as conn:
            q = sa.select(sources.c.id).where(cond).order_by(sources.c.next_poll_at,
                                                             sources.c.id)
            if limit is not None:
                q = q.limit(limit)
            if self.is_postgres:
                q = q.with_for_update(skip_locked=True)
            found = conn.execute(q).scalars().all()
            if found:  # one statement for the batch; the lease taken only if still free
                conn.execute(sources.update().where(sources.c.id.in_(found), _free(now))
                             .values(lease_owner=owner, lease_until=now + lease))
                # read back whole (without the count of items a poll does not need:
                # counting copies for every batch was most of a warm poll's store time)
                mine = {r.id: _source_from_row(r) for r in conn.execute(sa.select(sources).where(
                    sources.c.id.in_(found), sources.c.lease_owner == owner))}
                claimed = [mine[sid] for sid in found if sid in mine]
        return claimed

    def update_source(self, source_id: str, conn: sa.Connection | None = None,
                      **values: Any) -> None:
        """Write health fields (status, errors, validators, next poll) and release the lease."""
        stmt = sources.update().where(sources.c.id == source_id).values(**_health(values))
        if conn is not None:
            conn.execute(stmt)
        else:
            with self._write() as c:
                c.execute(stmt)

    def count_claimable(self, now: datetime, *, ids: Sequence[str] | None = None,
                        due_only: bool = True) -> int:
        """How many sources :meth:`claim_sources` would hand out now, all batches together."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(sources)
                                    .where(_claimable(now, ids, due_only))).scalar() or 0)

    def update_sources(self, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """:meth:`update_source` for many sources in one transaction (a poll's 304s)."""
        if not updates:
            return
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for source_id, values in updates:
            row = _health(values)
            groups.setdefault(tuple(sorted(row)), []).append(
                {"b_id": source_id, **{f"v_{k}": v for k, v in row.items()}})
        with self._write() as conn:
            for keys, rows in groups.items():
                conn.execute(sources.update().where(sources.c.id == sa.bindparam("b_id"))
                             .values({k: sa.bindparam(f"v_{k}") for k in keys}), rows)

    def known_guids(self, source_id: str, guids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(list(guids)):
                found.update(conn.execute(_KNOWN, {"source_id": source_id,
                                                   "ids": chunk}).scalars())
        return found

    # -- small facts -----------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(state.c.value).where(state.c.key == key)).scalar()

    def set_state(self, key: str, value: str) -> None:
        with self._write() as conn:
            if conn.execute(sa.update(state).where(state.c.key == key)
                            .values(value=value)).rowcount == 0:
                conn.execute(state.insert().values(key=key, value=value))

