"""The store on SQLite and on PostgreSQL: migrations, source sync, ingest, leases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext

from aggregator.errors import NotFoundError
from aggregator.models import (
    Analysis,
    Item,
    SourceDef,
    SourceKind,
    SourceStatus,
    TagReason,
)
from aggregator.store import Store, copy_id, story_id_for
from aggregator.store.schema import metadata, story_tags
from tests.conftest import NOW


def src(sid: str, **kw: object) -> SourceDef:
    values: dict[str, object] = {"id": sid, "url": f"https://{sid}.example.org/feed.xml",
                                 "kind": SourceKind.FEED, "title": sid.title(),
                                 "origin": "feeds/test.toml"}
    values.update(kw)
    return SourceDef(**values)  # type: ignore[arg-type]


def item(source_id: str, guid: str, **kw: object) -> Item:
    values: dict[str, object] = {
        "source_id": source_id, "guid": guid, "url": f"https://news.example.org/{guid}",
        "canonical_url": f"https://news.example.org/{guid}", "title": f"Story {guid}",
        "summary_html": f"<p>About {guid}.</p>", "text": f"Story {guid} About {guid}.",
        "published": NOW - timedelta(hours=1), "content_hash": f"h-{guid}",
    }
    values.update(kw)
    return Item(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(db_url: str):
    s = Store.open(db_url)
    yield s
    s.close()


def test_migrated_schema_matches_the_table_definitions(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_migrating_twice_is_a_no_op(db_url: str) -> None:
    Store.open(db_url).close()
    s = Store.open(db_url)
    with s.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head_revision()
    s.close()


def test_the_head_the_store_checks_at_start_up_is_the_newest_migration() -> None:
    """Start-up skips alembic when the database is at ``engine.HEAD``: it must be the head."""
    from aggregator.store import engine

    assert _head_revision() == engine.HEAD


def test_an_old_database_is_still_migrated_at_start_up(db_url: str) -> None:
    from alembic import command

    s = Store.open(db_url)
    with s.engine.begin() as conn:  # one migration behind, by the migrations' own downgrade
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "-1")
        assert MigrationContext.configure(conn).get_current_revision() != _head_revision()
    s.close()
    s = Store.open(db_url)
    with s.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == _head_revision()
    assert s.get_state("x") is None and s.list_sources() == []  # and it works
    s.close()


def _head_revision() -> str | None:
    from pathlib import Path

    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

    import aggregator.store as store_pkg

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(store_pkg.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_sync_adds_updates_disables_and_reenables(store: Store) -> None:
    report = store.sync_sources([src("a"), src("b")], NOW)
    assert report.added == ("a", "b")
    store.ingest(store.get_source("b"), [item("b", "1")], NOW)

    report = store.sync_sources([src("a", title="New title")], NOW)
    assert report.updated == ("a",)
    assert report.disabled == ("b",)
    b = store.get_source("b")
    assert b.status is SourceStatus.DISABLED and b.disabled_reason == "removed"
    assert b.items == 1  # disabled, never deleted with its items
    assert "no longer defined" in (b.last_error or "")
    assert store.get_source("a").definition.title == "New title"

    report = store.sync_sources([src("a", title="New title"), src("b")], NOW)
    assert report.enabled == ("b",)
    assert store.get_source("b").enabled


def test_sync_keeps_a_users_disable_and_sources_added_at_run_time(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.add_source(src("added", origin="db"), NOW)
    store.set_enabled("a", False, NOW)
    store.sync_sources([src("a")], NOW)
    assert not store.get_source("a").enabled
    assert store.get_source("added").enabled


def test_changed_url_forgets_validators(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.update_source("a", etag='"x"', last_modified="yesterday", next_poll_at=NOW)
    store.sync_sources([src("a", url="https://moved.example.org/rss")], NOW)
    a = store.get_source("a")
    assert (a.etag, a.last_modified, a.next_poll_at) == (None, None, None)


def test_ingest_updates_an_edited_item_in_place(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    a = store.get_source("a")
    assert store.ingest(a, [item("a", "1"), item("a", "2")], NOW).new == 2
    edited = item("a", "1", title="Story 1 (corrected)", content_hash="h-1b")
    result = store.ingest(a, [edited, item("a", "2")], NOW + timedelta(hours=1))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 1)
    stories = store.list_stories()
    assert len(stories) == 2
    assert {s.title for s in stories} == {"Story 1 (corrected)", "Story 2"}


def test_a_guid_repeated_in_one_batch_is_stored_once(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    result = store.ingest(store.get_source("a"),
                          [item("a", "1"), item("a", "1", title="again")], NOW)
    assert result.new == 1
    assert [s.title for s in store.list_stories()] == ["again"]


def test_same_canonical_url_from_another_source_joins_the_story(store: Store) -> None:
    store.sync_sources([src("low", priority=1), src("high", priority=10)], NOW)
    store.ingest(store.get_source("low"), [item("low", "x", title="Republished")], NOW)
    first = store.list_stories()[0]
    store.ingest(store.get_source("high"),
                 [item("high", "orig", url="http://www.news.example.org/x",
                       canonical_url="https://news.example.org/x", title="Original")],
                 NOW + timedelta(minutes=5))
    stories = store.list_stories()
    assert len(stories) == 1
    story = stories[0]
    assert story.id == first.id  # the public id never changes
    assert story.source == "high" and story.title == "Original"  # priority wins
    assert [(d.source, d.title) for d in story.duplicates] == [("low", "Republished")]
    assert story.duplicates[0].id == copy_id("low", "x")


def test_copies_of_one_batch_join_each_other_as_they_would_one_by_one(store: Store) -> None:
    """Ingest writes a poll's copies together; the joins are those of writing them in order."""
    store.sync_sources([src("a"), src("b")], NOW)
    long_text = "Two hundred characters of the same words make the same content. " * 4
    store.ingest(store.get_source("b"), [item("b", "orig", text=long_text,
                                               content_hash="same", canonical_url=None)], NOW)
    later = NOW + timedelta(minutes=5)
    result = store.ingest(store.get_source("a"), [
        # the same content as b's copy: joins its story...
        item("a", "1", text=long_text, content_hash="same",
             canonical_url="https://news.example.org/p"),
        # ...and so does a later copy of this batch with the same page
        item("a", "2", canonical_url="https://news.example.org/p"),
        # two new copies of one page: the second joins the first's new story
        item("a", "3", canonical_url="https://news.example.org/q"),
        item("a", "4", canonical_url="https://news.example.org/q"),
        # a guid repeated within the batch is stored once, the last one wins
        item("a", "5", title="First"),
        item("a", "5", title="Second"),
    ], later)
    assert (result.new, result.updated) == (5, 0)
    orig = story_id_for(copy_id("b", "orig"))
    q = story_id_for(copy_id("a", "3"))
    assert {g: sid for g, (_, sid) in result.assigned.items()} == {
        "1": orig, "2": orig, "3": q, "4": q, "5": story_id_for(copy_id("a", "5"))}
    by_id = {s.id: s for s in store.list_stories()}
    assert set(by_id) == {orig, q, story_id_for(copy_id("a", "5"))}
    assert by_id[story_id_for(copy_id("a", "5"))].title == "Second"
    # the representative of the joined story is still the earliest copy
    assert by_id[orig].source == "b"
    assert sorted(d.id for d in by_id[orig].duplicates) == [copy_id("a", "1"), copy_id("a", "2")]


def test_what_ingest_writes_of_new_stories_is_what_recomputing_them_gives(store: Store) -> None:
    """Stories founded by a batch are written whole, without reading them back: their
    representative, date and ``story_tags`` must equal a recomputation from the copies."""
    store.sync_sources([src("a", tags=("org:a",)), src("b", priority=5)], NOW)

    def tagged(*tags: str) -> Analysis:
        return Analysis(tags=tuple(TagReason(t, "rule", "x", "title") for t in tags))

    batch = [item("a", "1", published=NOW - timedelta(hours=3)),
             item("a", "2", published=None, canonical_url="https://news.example.org/p"),
             item("a", "3", published=NOW - timedelta(days=2),
                  canonical_url="https://news.example.org/p"),
             item("a", "4")]
    analyses = {"1": tagged("topic:a", "country:fr"), "2": tagged("topic:b"),
                "3": tagged("topic:c", "topic:b"), "4": tagged()}
    store.ingest(store.get_source("a"), batch, NOW, analyses=analyses)
    store.ingest(store.get_source("b"), [item("b", "x", canonical_url=batch[0].url)],
                 NOW + timedelta(minutes=1), analyses={"x": tagged("topic:z")})

    def snapshot() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT id, representative_copy_id, published_at, first_seen_at, hidden "
                "FROM stories ORDER BY id")).all()
            tags = conn.execute(sa.text(
                "SELECT story_id, tag, published_at, first_seen_at, hidden FROM story_tags "
                "ORDER BY story_id, tag")).all()
        return [tuple(r) for r in rows], [tuple(r) for r in tags]

    written = snapshot()
    with store._write() as conn:
        ids = [r[0] for r in written[0]]
        store._elect_representatives(conn, ids, NOW)
        store._stories_changed(conn, ids)
    assert snapshot() == written
    p = story_id_for(copy_id("a", "2"))
    assert (p, copy_id("a", "3")) in [(r[0], r[1]) for r in written[0]]  # the earlier copy
    assert {(r[0], r[1]) for r in written[1] if r[0] == p} == {
        (p, "org:a"), (p, "topic:b"), (p, "topic:c")}


def test_ids_never_change_across_versions() -> None:
    """Ids are public (feed GUIDs, links): these values were issued and must stay."""
    assert copy_id("unodc-stories", "https://www.unodc.org/x") == "zevyspuvl45e4kku"
    assert story_id_for("zevyspuvl45e4kku") == "7sewcov5nutd"


def test_ids_are_stable_and_derived_from_the_founding_copy(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.ingest(store.get_source("a"), [item("a", "1")], NOW)
    assert store.list_stories()[0].id == story_id_for(copy_id("a", "1"))


def test_story_tags_pool_the_source_tags_of_every_copy(store: Store) -> None:
    store.sync_sources([src("a", tags=("org:unodc",)), src("b", tags=("org:un-news",))], NOW)
    store.ingest(store.get_source("a"), [item("a", "1")], NOW)
    store.ingest(store.get_source("b"), [item("b", "other", canonical_url="https://news.example.org/1")], NOW)
    assert store.list_stories()[0].tags == ("org:un-news", "org:unodc")


def test_ingest_writes_source_health_in_the_same_transaction(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.ingest(store.get_source("a"), [item("a", "1")], NOW, status="ok",
                 last_success_at=NOW, etag='"v1"', next_poll_at=NOW + timedelta(hours=1))
    a = store.get_source("a")
    assert (a.status, a.etag, a.items) == (SourceStatus.OK, '"v1"', 1)
    assert a.last_success_at == NOW and a.next_poll_at == NOW + timedelta(hours=1)


def test_claims_take_due_sources_once_until_the_lease_expires(store: Store) -> None:
    store.sync_sources([src("due"), src("later"), src("off")], NOW)
    store.update_source("later", next_poll_at=NOW + timedelta(hours=1))
    store.set_enabled("off", False, NOW)
    lease = timedelta(minutes=5)
    first = store.claim_sources(NOW, "w1", lease)
    assert [s.id for s in first] == ["due"]
    assert store.claim_sources(NOW, "w2", lease) == []  # leased to w1
    assert [s.id for s in store.claim_sources(NOW + lease * 2, "w2", lease)] == ["due"]
    everything = store.claim_sources(NOW + lease * 4, "w3", lease, due_only=False)
    assert {s.id for s in everything} == {"due", "later"}  # never a disabled one


def test_times_come_back_aware_utc(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.ingest(store.get_source("a"), [item("a", "1")], NOW)
    story = store.list_stories()[0]
    assert story.published.tzinfo is not None and story.published.utcoffset() == timedelta(0)
    assert story.first_seen == NOW


def test_unknown_ids_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no source"):
        store.get_source("nope")
    with pytest.raises(NotFoundError, match="no story"):
        store.get_story("nope")


def test_state_round_trip(store: Store) -> None:
    assert store.get_state("k") is None
    store.set_state("k", "1")
    store.set_state("k", "2")
    assert store.get_state("k") == "2"


def test_story_without_date_uses_first_seen(store: Store) -> None:
    store.sync_sources([src("a")], NOW)
    store.ingest(store.get_source("a"), [replace(item("a", "1"), published=None)], NOW)
    assert store.list_stories()[0].published == NOW


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    s = Store.open(f"sqlite:///{tmp_path / 'w.db'}")
    with s.engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    s.close()


def test_upgrading_an_old_database_keeps_its_stories(db_url: str) -> None:
    """A database made by the first schema, with data, upgrades to the newest."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config as AlembicConfig

    import aggregator.store.engine as engine_module

    engine = engine_module.create_engine(db_url)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location",
                        str(Path(engine_module.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    old = Store(engine)  # the 0001 tables hold everything ingest wrote then
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO sources (id, url, kind, title, tags, priority, origin, enabled, "
            "status, error_count, created_at, updated_at) VALUES ('a', 'https://a.org/f', "
            "'feed', 'A', '[\"org:a\"]', 0, 'feeds/a.toml', true, 'ok', 0, :t, :t)"),
            {"t": NOW.replace(tzinfo=None)})
        conn.execute(sa.text(
            "INSERT INTO stories (id, representative_copy_id, first_seen_at, published_at, "
            "updated_at, hidden) VALUES ('s1', 'c1', :t, :t, :t, false)"),
            {"t": NOW.replace(tzinfo=None)})
        conn.execute(sa.text(
            "INSERT INTO copies (id, story_id, source_id, guid, url, title, summary_html, "
            "content_html, text, first_seen_at, changed_at, categories, enclosures, "
            "content_hash) VALUES ('c1', 's1', 'a', 'g', 'https://a.org/1', 'Old story', '', "
            "'', 'Old story', :t, :t, '[]', '[]', 'h')"), {"t": NOW.replace(tzinfo=None)})
    old.close()
    upgraded = Store.open(db_url)
    [story] = upgraded.list_stories()
    assert (story.id, story.title, story.tags) == ("s1", "Old story", ("org:a",))
    assert story.event is None
    upgraded.close()


# -- story_tags: the pooled tags, kept by every change --------------------------------


def _tagged(*tags: str) -> Analysis:
    return Analysis(tags=tuple(TagReason(t, f"tags.{t}") for t in tags))


def _story_tag_rows(store: Store) -> set[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(
            story_tags.c.story_id, story_tags.c.tag, story_tags.c.published_at,
            story_tags.c.first_seen_at, story_tags.c.hidden, story_tags.c.revision,
            story_tags.c.updated_at))}


def _pooled_from_copies(store: Store) -> set[tuple[object, ...]]:
    """What story_tags should hold, computed the slow way from the stored copies."""
    rows = set()
    for s in store.list_stories(include_hidden=True):
        for r in store.story_reasons(s.id):
            rows.add((s.id, r.tag, s.published, s.first_seen, s.hidden, s.revision, s.updated))
    return rows


def _edited_store(store: Store) -> None:
    """Every kind of change a story's tags, date or visibility go through."""
    store.sync_sources([src("a", tags=("org:a", "shared")), src("b", tags=("org:b",)),
                        src("c", priority=5)], NOW)
    a, b, c = (store.get_source(x) for x in "abc")
    store.ingest(a, [item("a", str(n)) for n in range(6)], NOW,
                 analyses={"0": _tagged("topic-x", "shared"), "1": _tagged("topic-y"),
                           "2": _tagged("topic-x", "country:eg"), "3": _tagged("topic-z")})
    later = NOW + timedelta(minutes=10)
    # another source's copy joins story 0 (same page) and, with a higher priority and an
    # earlier date, becomes its representative: the story's date changes
    store.ingest(c, [item("c", "c0", canonical_url="https://news.example.org/0",
                          published=NOW - timedelta(days=2))], later,
                 analyses={"c0": _tagged("topic-w")})
    store.ingest(b, [item("b", "b1", canonical_url="https://news.example.org/1"),
                     item("b", "b9")], later, analyses={"b9": _tagged("topic-x")})
    ids = {s.title: s.id for s in store.list_stories()}
    store.merge_stories(ids["Story 2"], ids["Story 3"], later)
    store.split_copy(copy_id("b", "b1"), later)
    store.set_hidden(ids["Story 4"], True, later)
    store.replace_analysis(copy_id("a", "5"), _tagged("topic-late"), later)
    store.sync_sources([src("a", tags=("org:a2",)), src("b", tags=("org:b", "shared")),
                        src("c", priority=5)], later)


def test_story_tags_follow_every_change(store: Store) -> None:
    _edited_store(store)
    rows = _story_tag_rows(store)
    assert rows == _pooled_from_copies(store)
    merged = {s for s, *_ in rows} - {s.id for s in store.list_stories(include_hidden=True)}
    assert not merged  # a merged story has no rows
    hidden = [s for s in store.list_stories(include_hidden=True) if s.hidden]
    assert hidden and all(r[4] for r in rows if r[0] == hidden[0].id)
    assert ("org:a" not in store.tag_counts()) and store.tag_counts()["org:a2"] == 4


def test_the_0004_backfill_gives_the_rows_the_store_keeps(db_url: str) -> None:
    from alembic import command

    store = Store.open(db_url)
    _edited_store(store)
    kept = _story_tag_rows(store)
    assert kept == _pooled_from_copies(store)
    cfg = _alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
        assert not sa.inspect(conn).has_table("story_tags")
        command.upgrade(cfg, "head")  # 0004 fills story_tags; the later ones leave it be
    filled = _story_tag_rows(store)
    assert filled == _pooled_from_copies(store)  # the revisions start again from 0
    assert {r[:5] + r[6:] for r in filled} == {r[:5] + r[6:] for r in kept}
    store.close()


def test_a_tag_is_matched_whole_not_as_a_pattern(store: Store) -> None:
    store.sync_sources([src("a", tags=("org:a_b",)), src("b", tags=("org:axb", "café"))], NOW)
    store.ingest(store.get_source("a"), [item("a", "1")], NOW)
    store.ingest(store.get_source("b"), [item("b", "2")], NOW,
                 analyses={"2": _tagged("org:a_b")})
    assert {s.source for s in store.list_stories(tag="org:a_b")} == {"a", "b"}
    assert [s.source for s in store.list_stories(tag="org:axb")] == ["b"]
    assert [s.source for s in store.list_stories(tag="café")] == ["b"]


def test_tag_counts_count_each_story_once(store: Store) -> None:
    """A tag that comes from a rule on one story and from the source on another."""
    store.sync_sources([src("a", tags=("shared",)), src("b")], NOW)
    store.ingest(store.get_source("a"), [item("a", "1"), item("a", "2")], NOW,
                 analyses={"1": _tagged("shared")})
    store.ingest(store.get_source("b"), [item("b", "3")], NOW,
                 analyses={"3": _tagged("shared")})
    assert store.tag_counts()["shared"] == len(store.list_stories(tag="shared")) == 3


def _alembic_config() -> AlembicConfig:
    from pathlib import Path

    import aggregator.store as store_pkg

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(store_pkg.__file__).parent / "migrations"))
    return cfg


def test_revision_moves_with_every_change_even_within_one_tick(store: Store) -> None:
    store.sync_sources([src("a"), src("b")], NOW)
    store.ingest(store.get_source("a"), [item("a", "1"), item("a", "2")], NOW)
    one, two = sorted(store.list_stories(), key=lambda s: s.title)
    assert (one.revision, two.revision) == (1, 1)
    state = store.publish_state(NOW)
    store.replace_analysis(copy_id("a", "1"), _tagged("x"), NOW)  # same clock: same updated
    assert store.get_story(one.id).revision == 2 and store.publish_state(NOW) != state
    store.ingest(store.get_source("b"), [item("b", "3", canonical_url=one.url)], NOW)
    assert store.get_story(one.id).revision == 3
    store.merge_stories(one.id, two.id, NOW)
    assert store.get_story(one.id).revision == 4
    store.set_hidden(one.id, True, NOW)
    store.pin(one.id, NOW)  # featuring is not a change of the story
    assert store.get_story(one.id).revision == 5


def test_the_newest_event_stories_are_those_the_calendar_shows(store: Store) -> None:
    from datetime import date

    from aggregator.models import Event
    from aggregator.publish.calendar import _newest_events

    store.sync_sources([src("a", priority=5), src("b")], NOW)

    def event(day: int) -> Analysis:
        start = date(2026, 12, 1) + timedelta(days=day)
        return Analysis(event=Event(start, start, "Vienna", "at"), event_text="Meeting")

    days = {"1": 5, "2": 9, "3": 1, "4": 7, "5": 3, "6": 9}
    store.ingest(store.get_source("a"), [item("a", g) for g in days], NOW,
                 analyses={g: event(d) for g, d in days.items()})
    # story 3's event is its representative's (day 1), though another copy says day 20
    store.ingest(store.get_source("b"), [item("b", "x", canonical_url=item("a", "3").url)],
                 NOW, analyses={"x": event(20)})
    store.set_hidden(store.get_story(story_id_for(copy_id("a", "2"))).id, True, NOW)
    every = store.list_stories(with_event=True, now=NOW)
    for limit in range(len(days) + 1):
        newest = store.newest_event_stories(limit, NOW)
        assert [s.id for s, _ in _newest_events(newest, limit)] == [
            s.id for s, _ in _newest_events(every, limit)]
    assert len(store.newest_event_stories(2, NOW)) < len(every)
