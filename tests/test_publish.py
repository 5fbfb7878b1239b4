"""Publishing: the four outputs, the same stories in each, stable bytes, atomic writes."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from aggregator.config import Config, OutputConfig, SiteConfig
from aggregator.errors import AggregatorError
from aggregator.models import Analysis, Duplicate, Item, Pin, SourceDef, Story, TagReason
from aggregator.publish import feeds, publish
from aggregator.publish.feeds import (
    FeedMeta,
    build_date,
    render_atom,
    render_json,
    render_rss,
    story_guid,
)
from aggregator.publish.writer import OutputWriter
from aggregator.store import Store, copy_id
from tests.conftest import NOW


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(path=tmp_path / "config.toml",
                  site=SiteConfig(title="Desk & Co", url="https://news.example.org/"),
                  output=OutputConfig(dir=tmp_path / "output", items=3))


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    s.sync_sources([SourceDef(id="unodc", url="https://www.unodc.org/feed.xml",
                              title="UNODC", tags=("org:unodc",), priority=10),
                    SourceDef(id="un-news", url="https://news.un.org/rss.xml", title="UN News",
                              tags=("org:un-news",))],
                   NOW)
    yield s
    s.close()


def add(store: Store, source: str, guid: str, hours_ago: int, **kw: object) -> None:
    values: dict[str, object] = dict(
        source_id=source, guid=guid, url=f"https://www.unodc.org/{guid}.html",
        canonical_url=f"https://unodc.org/{guid}.html", title=f"Story <{guid}> & more",
        summary_html=f"<p>Summary of <b>{guid}</b>.</p>", text=f"Story {guid}",
        published=NOW - timedelta(hours=hours_ago), content_hash=guid)
    values.update(kw)
    store.ingest(store.get_source(source), [Item(**values)], NOW)  # type: ignore[arg-type]


def test_four_outputs_carry_the_same_newest_stories(store: Store, config: Config) -> None:
    for n in range(5):
        add(store, "unodc", f"s{n}", hours_ago=n)
    add(store, "un-news", "republished", hours_ago=1, canonical_url="https://unodc.org/s1.html",
        url="https://news.un.org/story/1")
    report = publish(store, config, NOW)
    assert {"atom.xml", "feed.json", "feed.xml", "index.html", "page/2.html", "featured.xml",
            "tags/index.html", "tags/org-unodc.xml", "tags/org-unodc.atom",
            "tags/org-unodc.json"} <= set(report.written)
    out = config.output.dir
    expected = [story_guid(s.id) for s in store.list_stories(limit=3)]

    rss = feedparser.parse((out / "feed.xml").read_bytes())
    atom = feedparser.parse((out / "atom.xml").read_bytes())
    assert not rss.bozo and not atom.bozo
    assert rss.version == "rss20" and atom.version == "atom10"
    assert rss.feed.link == atom.feed.link == "https://news.example.org/"  # the page, not the feed
    assert [e.id for e in rss.entries] == expected
    assert [e.id for e in atom.entries] == expected
    doc = json.loads((out / "feed.json").read_text())
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["id"] for i in doc["items"]] == expected
    assert rss.entries[0].title == "Story <s0> & more"

    # the source is named and linked, duplicates listed
    s1 = next(e for e in rss.entries if e.title == "Story <s1> & more")
    assert s1.source.title == "UNODC" and s1.source.href == "https://www.unodc.org/feed.xml"
    assert "https://news.un.org/story/1" in s1.summary
    html = (out / "index.html").read_text()
    assert "Story &lt;s0&gt; &amp; more" in html and "Desk &amp; Co" in html
    assert html.count("<article") == 3 and 'href="https://www.unodc.org/feed.xml"' in html


def test_publishing_again_rewrites_nothing(store: Store, config: Config) -> None:
    add(store, "unodc", "a", hours_ago=2)
    publish(store, config, NOW)
    files = sorted(p for p in config.output.dir.rglob("*") if p.is_file())
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    report = publish(store, config, NOW + timedelta(hours=5))
    assert report.written == () and len(report.unchanged) == len(files)
    assert mtimes == {p: p.stat().st_mtime_ns for p in files}


def test_guids_stay_when_new_stories_arrive(store: Store, config: Config) -> None:
    add(store, "unodc", "a", hours_ago=5)
    publish(store, config, NOW)
    first = feedparser.parse((config.output.dir / "feed.xml").read_bytes()).entries[0].id
    add(store, "unodc", "b", hours_ago=1)
    publish(store, config, NOW)
    entries = feedparser.parse((config.output.dir / "feed.xml").read_bytes()).entries
    assert [e.title for e in entries] == ["Story <b> & more", "Story <a> & more"]
    assert entries[1].id == first


def test_build_date_follows_content_not_the_clock(store: Store, config: Config) -> None:
    add(store, "unodc", "a", hours_ago=5)
    publish(store, config, NOW + timedelta(days=3))
    rss = etree.parse(str(config.output.dir / "feed.xml"))
    assert rss.findtext("channel/lastBuildDate") == "Sat, 28 Nov 2026 12:00:00 +0000"


def test_empty_store_still_gives_valid_files(store: Store, config: Config) -> None:
    publish(store, config, NOW)
    for name in ("feed.xml", "atom.xml", "featured.xml"):
        parsed = feedparser.parse((config.output.dir / name).read_bytes())
        assert not parsed.bozo and parsed.entries == []
    assert json.loads((config.output.dir / "feed.json").read_text())["items"] == []
    assert "No stories yet" in (config.output.dir / "index.html").read_text()


def test_writer_refuses_paths_outside_the_folder(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path)
    for bad in ("../x", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(AggregatorError):
            writer.write(bad, b"x")


def test_writer_leaves_no_temporary_files_and_public_mode(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path)
    assert writer.write("tags/x.xml", b"one")
    assert sorted(p.name for p in (tmp_path / "tags").iterdir()) == ["x.xml"]
    assert (tmp_path / "tags" / "x.xml").stat().st_mode & 0o777 == 0o644


def test_writer_refuses_one_file_twice(tmp_path: Path) -> None:
    writer = OutputWriter(tmp_path)
    writer.write("a", b"1")
    with pytest.raises(AggregatorError, match="twice"):
        writer.write("a", b"2")


def test_rename_is_atomic_for_readers(tmp_path: Path) -> None:
    """A reader holding the old file keeps reading the old bytes after a rewrite."""
    OutputWriter(tmp_path).write("feed.xml", b"old" * 1000)
    with open(tmp_path / "feed.xml", "rb") as reader:
        OutputWriter(tmp_path).write("feed.xml", b"new" * 1000)
        assert reader.read() == b"old" * 1000
    assert (tmp_path / "feed.xml").read_bytes() == b"new" * 1000
    assert os.listdir(tmp_path) == ["feed.xml"]


def test_pinned_stories_lead_the_page_and_fill_featured_until_they_expire(
        store: Store, config: Config) -> None:
    for n in range(5):
        add(store, "unodc", f"s{n}", hours_ago=n)
    old = store.list_stories()[-1]
    store.pin(old.id, NOW, until=NOW + timedelta(days=1), note="Read this", order=1)
    publish(store, config, NOW)
    out = config.output.dir
    html = (out / "index.html").read_text()
    assert html.index(f"story-{old.id}") == html.index('id="story-') + 4  # first of all
    assert html.count(f'id="story-{old.id}"') == 1  # not again in the date order
    featured = feedparser.parse((out / "featured.xml").read_bytes())
    assert [e.id for e in featured.entries] == [story_guid(old.id)]
    main = feedparser.parse((out / "feed.xml").read_bytes())
    assert story_guid(old.id) not in [e.id for e in main.entries]  # its own date: page 2
    publish(store, config, NOW + timedelta(days=2))  # the pin has expired
    assert feedparser.parse((out / "featured.xml").read_bytes()).entries == []
    assert "Featured</strong>" not in (out / "index.html").read_text()


def test_hidden_stories_appear_in_no_output(store: Store, config: Config) -> None:
    add(store, "unodc", "visible", hours_ago=1)
    add(store, "unodc", "false-positive", hours_ago=2)
    hidden = next(s for s in store.list_stories() if "false-positive" in s.title)
    store.set_hidden(hidden.id, True, NOW)
    publish(store, config, NOW)
    for path in config.output.dir.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "false-positive" not in text and hidden.id not in text, path
            assert story_guid(hidden.id) not in text, path


def test_every_tag_has_feeds_and_a_place_in_the_tag_index(store: Store, config: Config) -> None:
    add(store, "unodc", "a", hours_ago=1)
    add(store, "un-news", "b", hours_ago=2)
    publish(store, config, NOW)
    out = config.output.dir
    unodc = feedparser.parse((out / "tags" / "org-unodc.xml").read_bytes())
    assert [e.title for e in unodc.entries] == ["Story <a> & more"]
    atom = feedparser.parse((out / "tags" / "org-unodc.atom").read_bytes())
    assert atom.version == "atom10" and len(atom.entries) == 1
    assert json.loads((out / "tags" / "org-unodc.json").read_text())["feed_url"].endswith(
        "tags/org-unodc.json")
    index = (out / "tags" / "index.html").read_text()
    assert 'href="https://news.example.org/tags/org-unodc.atom"' in index
    # a tag whose stories are all hidden keeps an empty feed, not a 404
    b = next(s for s in store.list_stories() if "<b>" in s.title)
    store.set_hidden(b.id, True, NOW)
    publish(store, config, NOW)
    assert feedparser.parse((out / "tags" / "org-un-news.xml").read_bytes()).entries == []


def test_archive_pages_hold_older_stories(store: Store, config: Config) -> None:
    for n in range(7):
        add(store, "unodc", f"s{n}", hours_ago=n)
    publish(store, config, NOW)
    out = config.output.dir
    assert "Page 1 of 3" in (out / "index.html").read_text()
    page3 = (out / "page" / "3.html").read_text()
    assert "Story &lt;s6&gt;" in page3 and 'rel="prev"' in page3 and 'rel="next"' not in page3


def test_a_publish_with_nothing_changed_renders_nothing(store: Store, config: Config) -> None:
    add(store, "unodc", "a", hours_ago=2)
    first = publish(store, config, NOW)
    assert not first.skipped and first.written
    again = publish(store, config, NOW + timedelta(minutes=5))
    assert again.skipped and again.written == () and len(again.unchanged) == len(first.written)
    # each kind of change makes the next publish render again
    story = store.list_stories()[0]
    store.set_hidden(story.id, True, NOW)
    assert not publish(store, config, NOW).skipped
    store.set_hidden(story.id, False, NOW)
    assert not publish(store, config, NOW).skipped
    store.pin(story.id, NOW, until=NOW + timedelta(hours=1))
    assert not publish(store, config, NOW).skipped
    assert publish(store, config, NOW + timedelta(minutes=30)).skipped
    assert not publish(store, config, NOW + timedelta(hours=2)).skipped  # the pin ran out
    add(store, "un-news", "b", hours_ago=1)
    assert not publish(store, config, NOW + timedelta(hours=2)).skipped
    (config.output.dir / "tags" / "org-unodc.atom").unlink()  # deleted by hand
    assert not publish(store, config, NOW + timedelta(hours=2)).skipped
    assert (config.output.dir / "tags" / "org-unodc.atom").is_file()
    assert not publish(store, config, NOW + timedelta(hours=2), force=True).skipped


def test_a_copy_joining_a_story_is_published(store: Store, config: Config) -> None:
    """Another source's copy changes the story's duplicates and tags: not a no-op."""
    add(store, "unodc", "a", hours_ago=2)
    publish(store, config, NOW)
    add(store, "un-news", "copy-of-a", hours_ago=1, canonical_url="https://unodc.org/a.html",
        url="https://news.un.org/story/a")
    report = publish(store, config, NOW + timedelta(minutes=5))
    assert not report.skipped and "feed.xml" in report.written
    assert "https://news.un.org/story/a" in (config.output.dir / "feed.xml").read_text()
    assert (config.output.dir / "tags" / "org-un-news.xml").is_file()


# -- feeds from entries: the same bytes as feedgen's whole feed, fewer renders ------------


def _tricky_stories() -> list[Story]:
    """Stories with everything an entry can hold, and text that escaping must get right."""
    when = NOW - timedelta(days=2)
    texts = ["Plain", "A <b>&amp; \"quoted\" 'x'</b>", "CR\r\nLF\ttab", "Été 中文 😀",
             "]]> {\"items\": []} \\ end", "    <item>\n    </item>\n  </channel>"]
    stories = []
    for n, text in enumerate(texts * 2):
        stories.append(Story(
            id=f"s{n}", title=text, url=None if n % 3 == 2 else f"https://e.org/{n}?a=1&b=2",
            source=f"src{n % 2}", source_title="" if n % 4 == 3 else "Source & Co",
            source_url=None if n % 5 == 4 else "https://src.example/feed",
            published=when + timedelta(hours=n), first_seen=when,
            updated=when + timedelta(hours=n, microseconds=n),
            summary_html="" if n % 4 == 1 else f"<p>{text}</p>",
            content_html=f"<div>{text}</div>" if n % 3 == 0 else "",
            tags=("migrant-smuggling", "country:eg")[: n % 3],
            duplicates=tuple(Duplicate(f"c{n}{k}", f"dup{k}", f"https://d.org/{k}&x" if k
                                       else None, text) for k in range(n % 3)),
            pin=Pin(at=when + timedelta(days=1)) if n % 2 else None))
    return stories


@pytest.mark.parametrize("hub", [None, "https://hub.example/?a=1&b=2"])
def test_feeds_from_entries_are_what_feedgen_writes_whole(hub: str | None) -> None:
    site = SiteConfig(title="Desk & <Co>", url="https://news.example.org/",
                      description="News; \"and\" more", language="fr")
    meta = FeedMeta(site=site, title="Desk: Égypte & co", description="Stories tagged x.",
                    self_path={"rss": "tags/x.xml", "atom": "tags/x.atom", "json": "tags/x.json"},
                    home_path="tags/index.html#x", hub=hub)
    every = _tricky_stories()
    for stories in ([], every[:1], every):
        for pinned in (False, True):
            date = build_date(stories, pinned=pinned)
            whole = feeds._rss(meta, feeds._generator(meta, stories, date), date)
            assert render_rss(meta, stories, pinned=pinned) == whole
        date = build_date(stories)
        assert render_atom(meta, stories) == feeds._atom(meta, feeds._generator(meta, stories,
                                                                                 date))
        doc = json.loads(feeds.json_header(meta))
        doc["items"] = [feeds._json_item(s) for s in stories]
        whole_json = (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode()
        assert render_json(meta, stories) == whole_json
        # and a feed cuts back into the entries it was made of
        entries = feeds.render_entries(site, hub, stories, batch=4)
        for split, data, kind in ((feeds.split_rss, render_rss(meta, stories), "rss"),
                                  (feeds.split_atom, render_atom(meta, stories), "atom"),
                                  (feeds.split_json, render_json(meta, stories), "json")):
            found = split(data)
            assert found is not None and found[1] == [getattr(e, kind) for e in entries]


def _tagged_add(store: Store, source: str, guid: str, hours_ago: int, when: datetime,
                *tags: str, **kw: object) -> None:
    values: dict[str, object] = dict(
        source_id=source, guid=guid, url=f"https://www.unodc.org/{guid}.html",
        canonical_url=f"https://unodc.org/{guid}.html", title=f"Story {guid}",
        summary_html=f"<p>Summary of {guid}.</p>", text=f"Story {guid}",
        published=NOW - timedelta(hours=hours_ago), content_hash=guid)
    values.update(kw)
    analysis = Analysis(tags=tuple(TagReason(t, f"tags.{t}") for t in tags))
    store.ingest(store.get_source(source), [Item(**values)], when,  # type: ignore[arg-type]
                 analyses={guid: analysis})


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_an_incremental_publish_writes_what_a_whole_one_would(
        store: Store, config: Config, tmp_path: Path) -> None:
    """After every kind of change, and within one clock tick too, the files a publish
    keeps or puts together from old entries are the files a publish from scratch writes."""
    out = config.output.dir
    n = [0]

    def check(when: datetime) -> None:
        publish(store, config, when)
        n[0] += 1
        fresh = replace(config, output=replace(config.output, dir=tmp_path / f"fresh{n[0]}"))
        publish(store, fresh, when, force=True)
        mine, whole = _tree(out), _tree(fresh.output.dir)
        assert {k: v for k, v in mine.items() if k in whole} == whole, n[0]
        for extra in mine.keys() - whole.keys():
            if extra.startswith("page/"):  # the archive had more pages once (left as it is)
                continue
            assert extra.startswith("tags/") and b"<item>" not in mine[extra], extra  # kept empty

    for k in range(6):
        _tagged_add(store, "unodc", f"s{k}", k, NOW, "migrant-smuggling",
                    "country:eg" if k % 2 else "country:ly")
    _tagged_add(store, "un-news", "u0", 3, NOW, "human-trafficking")
    check(NOW)
    by_title = {s.title: s.id for s in store.list_stories()}
    _tagged_add(store, "un-news", "new", 0, NOW, "migrant-smuggling")  # same tick
    check(NOW)
    store.set_hidden(by_title["Story s1"], True, NOW)
    check(NOW)
    store.pin(by_title["Story s4"], NOW)
    check(NOW)
    # a copy joins, in the same tick: the story's duplicates and tags change, not its time
    _tagged_add(store, "un-news", "copy-of-s2", 1, NOW, "country:eg",
                canonical_url="https://unodc.org/s2.html", url="https://news.un.org/s2")
    check(NOW)
    store.replace_analysis(copy_id("unodc", "s3"), Analysis(tags=(
        TagReason("smuggling-of-arms", "editor"),)), NOW)  # retagged, same tick
    check(NOW)
    store.merge_stories(by_title["Story s0"], by_title["Story s5"], NOW)
    check(NOW)
    store.split_copy(copy_id("un-news", "copy-of-s2"), NOW)
    check(NOW)
    store.set_hidden(by_title["Story s1"], False, NOW)
    check(NOW)
    store.sync_sources([SourceDef(id="unodc", url="https://www.unodc.org/feed.xml",
                                  title="UNODC (renamed)", tags=("org:unodc", "org:un"),
                                  priority=10),
                        SourceDef(id="un-news", url="https://news.un.org/rss.xml",
                                  title="UN News", tags=("org:un-news",))], NOW)
    check(NOW + timedelta(hours=1))
    (out / "tags" / "migrant-smuggling.atom").write_bytes(b"edited by hand")
    (out / "tags" / "country-eg.json").unlink()
    check(NOW + timedelta(hours=1))


def test_feeds_whose_stories_did_not_change_are_left_alone(
        store: Store, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in range(3):
        _tagged_add(store, "unodc", f"s{k}", k + 1, NOW, "migrant-smuggling")
    _tagged_add(store, "un-news", "u", 5, NOW, "human-trafficking")
    publish(store, config, NOW)
    out = config.output.dir
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    rendered: list[str] = []
    original = feeds.render_entries

    def counting(site: SiteConfig, hub: str | None, stories: list[Story], batch: int = 500
                 ) -> list[feeds.Entries]:
        rendered.extend(s.id for s in stories)
        return original(site, hub, stories, batch)

    monkeypatch.setattr("aggregator.publish.entries.render_entries", counting)
    _tagged_add(store, "unodc", "new", 0, NOW + timedelta(minutes=5), "migrant-smuggling")
    report = publish(store, config, NOW + timedelta(minutes=5))
    new = next(s for s in store.list_stories() if s.title == "Story new")
    assert rendered == [new.id]  # every other entry comes from the files already written
    kept = {f"tags/human-trafficking.{ext}" for ext in ("xml", "atom", "json")}
    assert kept <= set(report.unchanged)
    assert {"tags/migrant-smuggling.xml", "feed.xml", "tags/org-unodc.json"} <= set(
        report.written)
    assert all(before[out / name] == (out / name).stat().st_mtime_ns for name in kept)
