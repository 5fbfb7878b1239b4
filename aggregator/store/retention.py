"""Retention: old stories leave the database with everything that hangs on them.

A story goes when both its date and its first sighting are older than the cutoff
and no pin holds it; with it go its copies, their tags and events, its derived
tag rows, editors' tag corrections, and the stories merged into it. Deliveries
(one row per subscriber per digest) go once they are older than the cutoff; the
digests themselves stay (one small row a week, and the public archive pages).

The poll does not take back what retention removed: each removed copy leaves its
(source, guid) in ``pruned_copies``, and a feed that still lists it is not stored
again (:meth:`RetentionMixin.pruned_guids`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from aggregator.store.schema import (
    copies,
    copy_events,
    copy_tags,
    deliveries,
    pruned_copies,
    stories,
    story_tag_edits,
    story_tags,
)


@dataclass(frozen=True, slots=True)
class PruneReport:
    stories: int = 0
    copies: int = 0
    deliveries: int = 0


#: built once: every poll of a source asks it
_PRUNED = sa.select(pruned_copies.c.guid).where(
    pruned_copies.c.source_id == sa.bindparam("source_id"),
    pruned_copies.c.guid.in_(sa.bindparam("ids", expanding=True)))


class RetentionMixin:
    engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def prune(self, cutoff: datetime, now: datetime, *, batch: int = 500) -> PruneReport:
        """Remove what is older than ``cutoff``, in batches (each one transaction)."""
        active_pin = sa.and_(stories.c.pinned_at.is_not(None),
                             sa.or_(stories.c.pin_until.is_(None), stories.c.pin_until > now))
        old = (sa.select(stories.c.id)
               .where(stories.c.merged_into.is_(None), stories.c.published_at < cutoff,
                      stories.c.first_seen_at < cutoff, sa.not_(active_pin))
               .limit(batch))
        n_stories = n_copies = 0
        while True:
            with self._write() as conn:
                ids = list(conn.execute(old).scalars())
                if not ids:
                    break
                merged = list(conn.execute(sa.select(stories.c.id)
                                           .where(stories.c.merged_into.in_(ids))).scalars())
                gone = ids + merged
                copy_ids = sa.select(copies.c.id).where(copies.c.story_id.in_(gone))
                dead = [{"source_id": r.source_id, "guid": r.guid, "pruned_at": now}
                        for r in conn.execute(sa.select(copies.c.source_id, copies.c.guid)
                                              .where(copies.c.story_id.in_(gone)))]
                known = {(r.source_id, r.guid) for r in conn.execute(
                    sa.select(pruned_copies.c.source_id, pruned_copies.c.guid).where(
                        pruned_copies.c.guid.in_([d["guid"] for d in dead])))} if dead else set()
                dead = [d for d in dead if (d["source_id"], d["guid"]) not in known]
                if dead:
                    conn.execute(pruned_copies.insert(), dead)
                conn.execute(copy_tags.delete().where(copy_tags.c.copy_id.in_(copy_ids)))
                conn.execute(copy_events.delete().where(copy_events.c.copy_id.in_(copy_ids)))
                n_copies += conn.execute(copies.delete()
                                         .where(copies.c.story_id.in_(gone))).rowcount or 0
                conn.execute(story_tags.delete().where(story_tags.c.story_id.in_(gone)))
                conn.execute(story_tag_edits.delete()
                             .where(story_tag_edits.c.story_id.in_(gone)))
                conn.execute(stories.delete().where(stories.c.id.in_(gone)))
                n_stories += len(ids)
        with self._write() as conn:
            n_deliveries = conn.execute(deliveries.delete().where(
                deliveries.c.updated_at < cutoff,
                deliveries.c.status.in_(("sent", "skipped", "failed", "unknown")))).rowcount or 0
        return PruneReport(n_stories, n_copies, n_deliveries)

    def pruned_guids(self, source_id: str, guids: list[str]) -> set[str]:
        """Which of these entries of a source retention removed (not to be stored again)."""
        if not guids:
            return set()
        found: set[str] = set()
        with self.engine.connect() as conn:
            for i in range(0, len(guids), 500):
                found.update(conn.execute(_PRUNED, {"source_id": source_id,
                                                    "ids": guids[i:i + 500]}).scalars())
        return found
