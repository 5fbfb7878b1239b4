"""The store on SQLite and on PostgreSQL: migrations, source sync, ingest, leases."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from aggregator.errors import NotFoundError
from aggregator.models import Item, SourceDef, SourceKind, SourceStatus
from aggregator.store import Store, copy_id, story_id_for
from aggregator.store.schema import metadata
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
