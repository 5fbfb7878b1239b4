"""Retention: old stories go with what hangs on them; pinned ones stay; a poll does not
bring back what was pruned."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from aggregator.models import Analysis, Event, TagReason
from aggregator.store import Store
from aggregator.store.schema import copies, copy_events, copy_tags, stories, story_tags
from tests.conftest import NOW
from tests.test_store import item, src


def _count(store: Store, table: sa.Table) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def test_prune_removes_old_stories_with_their_copies_and_keeps_pinned(db_url: str) -> None:
    store = Store.open(db_url)
    store.sync_sources([src("a"), src("b")], NOW)
    old, recent = NOW - timedelta(days=800), NOW - timedelta(days=10)
    tagged = Analysis(tags=(TagReason("migrant-smuggling", "tags.migrant-smuggling"),),
                      event=Event(date(2024, 9, 1), date(2024, 9, 2), "Cairo", "eg"))
    for sid in ("a", "b"):  # the same old story from two sources: one story, two copies
        store.ingest(store.get_source(sid), [item(sid, "old-1", published=old,
                                                  canonical_url="https://x.org/old-1")],
                     old, analyses={"old-1": tagged})
    store.ingest(store.get_source("a"), [item("a", "old-2", published=old),
                                         item("a", "old-3", published=old),
                                         item("a", "new-1", published=recent)], old)
    pinned = next(s for s in store.list_stories() if s.title == "Story old-2")
    store.pin(pinned.id, NOW)
    gone = next(s for s in store.list_stories() if s.title == "Story old-1")
    merged = next(s for s in store.list_stories() if s.title == "Story old-3")
    store.merge_stories(gone.id, merged.id, NOW)  # its row now leads to the old story
    report = store.prune(NOW - timedelta(days=730), NOW)
    assert report.stories == 1 and report.copies == 3
    left = {s.title for s in store.list_stories(include_hidden=True)}
    assert left == {"Story old-2", "Story new-1"}
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(copies.c.id).where(copies.c.story_id == gone.id)).first() \
            is None
        assert conn.execute(sa.select(stories.c.id).where(
            stories.c.id.in_([gone.id, merged.id]))).first() is None
        assert conn.execute(sa.select(story_tags).where(story_tags.c.story_id == gone.id)) \
            .first() is None
    assert _count(store, copy_events) == 0 and _count(store, copy_tags) == 0
    # pruning again finds nothing
    assert store.prune(NOW - timedelta(days=730), NOW).stories == 0
    store.close()


def test_a_poll_does_not_bring_back_what_was_pruned(project) -> None:  # type: ignore[no-untyped-def]
    from aggregator.service import Service

    with Service.open(project / "config.toml") as svc:
        svc.poll(all_sources=True, offline=True)
        stored = svc.store.count_stories(include_hidden=True)
        old = [s for s in svc.store.list_stories()
               if s.published < svc.clock() - timedelta(days=730)]
        assert old, "the snapshots hold entries from years ago"
        # two years and a day later, with nothing new
        later = svc.clock() + timedelta(days=731)
        svc.clock = lambda: later
        report = svc.prune()
        assert report.stories == stored  # all first seen two years ago now
        assert svc.store.count_stories(include_hidden=True) == 0
        # the sources still list those entries: they are not stored again
        svc.poll(all_sources=True, offline=True)
        assert svc.store.count_stories(include_hidden=True) == 0
    r = __import__("subprocess").run(
        [__import__("sys").executable, "-m", "aggregator", "--config",
         str(project / "config.toml"), "prune"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Pruned 0 stories older than 730 days" in r.stdout
