"""What a poll does not redo: a 200 whose body is the one parsed last time is not parsed
again (servers without validators), and the items of a changed feed that are stored as
they are get no language detection and no analysis.

Real parts: a local HTTP server that sends no ETag or Last-Modified, a real SQLite store,
the poll in this process (and with a parse process, the pool's path).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aggregator import analyze, parse, pipeline
from aggregator.config import load_config
from aggregator.models import SourceDef, SourceKind
from aggregator.service import Service
from aggregator.store import Store
from aggregator.store.schema import metadata
from tests.httpserver import HTTPTestServer, static

ITEM = """<item><title>{title}</title><link>http://127.0.0.1/{guid}</link><guid>{guid}</guid>
<pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate><description>{title}.</description></item>"""


def rss(*items: tuple[str, str], language: str = "") -> bytes:
    body = "".join(ITEM.format(guid=g, title=t) for g, t in items)
    declared = f"<language>{language}</language>" if language else ""
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Desk</title><link>http://127.0.0.1/</link><description>d</description>"
            f"{declared}{body}</channel></rss>").encode()


TWO = rss(("a", "Smugglers arrested in port raid"), ("b", "Court convicts boat organisers"))
THREE = rss(("c", "Border agency dismantles a network"),
            ("a", "Smugglers arrested in port raid"), ("b", "Court convicts boat organisers"))
#: one new item (d), one edited (a: its title), one as it was (b); the feed now declares
#: a language (a hint for detection; not part of what an edit is)
CHANGED = rss(("d", "Navy intercepts a smuggling boat off Libya"),
              ("a", "Smugglers arrested in port raid, five charged"),
              ("b", "Court convicts boat organisers"), language="fr-FR")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 28, 12, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as s:
        s.route("/feed.xml", static(TWO))  # no ETag, no Last-Modified
        yield s


def project(tmp_path: Path, server: HTTPTestServer, processes: int = 0,
            tags: str = '["org:local"]') -> Path:
    (tmp_path / "feeds").mkdir(exist_ok=True)
    (tmp_path / "feeds" / "local.toml").write_text(
        f'[[source]]\nid = "local"\nurl = "{server.url("/feed.xml")}"\ntags = {tags}\n')
    (tmp_path / "config.toml").write_text(
        f"[fetch]\nallow_private = true\ntimeout = 5\nparse_processes = {processes}\n")
    return tmp_path / "config.toml"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URL of every document parsed in this process."""
    seen: list[str] = []
    real = parse.parse_document

    def counted(definition: SourceDef, url: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(url)
        return real(definition, url, *args, **kwargs)

    monkeypatch.setattr(parse, "parse_document", counted)
    return seen


def test_the_same_body_again_is_not_parsed_and_a_new_one_is(tmp_path: Path,
                                                             server: HTTPTestServer,
                                                             parses: list[str]) -> None:
    clock = Clock()
    with Service.open(project(tmp_path, server), clock=clock) as svc:
        [first] = svc.poll().outcomes
        assert (first.new, first.unchanged) == (2, False) and len(parses) == 1
        before = svc.store.get_source("local")
        assert before.body_hash and before.etag is None

        clock.now += timedelta(hours=2)
        [again] = svc.poll().outcomes
        assert again.unchanged and not again.not_modified and again.error is None
        assert (again.new, again.updated) == (0, 0)
        assert len(parses) == 1  # fetched, compared, not parsed
        after = svc.store.get_source("local")
        assert after.last_success_at == clock.now and after.next_poll_at > clock.now
        assert after.body_hash == before.body_hash and after.items == 2

        server.route("/feed.xml", static(THREE))
        clock.now += timedelta(hours=2)
        [changed] = svc.poll().outcomes
        assert (changed.new, changed.unchanged) == (1, False) and len(parses) == 2
        assert svc.store.get_source("local").body_hash != before.body_hash
    assert len(server.requests) == 3


def test_the_parse_processes_skip_it_too(tmp_path: Path, server: HTTPTestServer) -> None:
    with Service.open(project(tmp_path, server, processes=1)) as svc:
        assert svc.poll(all_sources=True).outcomes[0].new == 2
        assert svc.poll(all_sources=True).outcomes[0].unchanged
        server.route("/feed.xml", static(THREE))
        [changed] = svc.poll(all_sources=True).outcomes
        assert (changed.new, changed.unchanged) == (1, False)


def test_validators_that_appear_are_kept(tmp_path: Path, server: HTTPTestServer) -> None:
    with Service.open(project(tmp_path, server)) as svc:
        svc.poll(all_sources=True)
        server.route("/feed.xml", static(TWO, headers={"ETag": '"v1"'}))
        assert svc.poll(all_sources=True).outcomes[0].unchanged
        assert svc.store.get_source("local").etag == '"v1"'


def test_a_changed_definition_parses_the_same_body_again(tmp_path: Path,
                                                         server: HTTPTestServer,
                                                         parses: list[str]) -> None:
    config = project(tmp_path, server)
    with Service.open(config) as svc:
        svc.poll(all_sources=True)
    project(tmp_path, server, tags='["org:local", "topic:smuggling"]')
    with Service.open(config) as svc:
        assert svc.store.get_source("local").body_hash is None
        [outcome] = svc.poll(all_sources=True).outcomes
        assert not outcome.unchanged and outcome.error is None
    assert len(parses) == 2


def test_a_failed_store_leaves_the_body_to_be_parsed_again(tmp_path: Path,
                                                           server: HTTPTestServer,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with Service.open(project(tmp_path, server)) as svc:
        def broken(*args: Any, **kwargs: Any) -> Any:
            raise OSError("disk full")

        with monkeypatch.context() as m:
            m.setattr(svc.store, "ingest", broken)
            [failed] = svc.poll(all_sources=True).outcomes
        assert failed.error and "disk full" in failed.error
        assert svc.store.get_source("local").body_hash is None
        [outcome] = svc.poll(all_sources=True).outcomes
        assert (outcome.new, outcome.unchanged) == (2, False)


def test_what_the_digest_covers(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    config = load_config(tmp_path / "config.toml")
    feed = SourceDef(id="x", url="https://example.org/feed")
    digest = pipeline.body_digest(feed, config, TWO)
    assert digest == pipeline.body_digest(feed, config, TWO) and len(digest or "") == 32
    assert digest != pipeline.body_digest(feed, config, THREE)
    # what shapes what is made of the body: the item limit, the host aliases
    fewer = replace(config, fetch=replace(config.fetch, max_items_per_fetch=1))
    assert digest != pipeline.body_digest(feed, fewer, TWO)
    aliased = replace(config, sources=replace(config.sources,
                                              host_aliases=(("a.org", "b.org"),)))
    assert digest != pipeline.body_digest(feed, aliased, TWO)
    # an html listing's further pages can change behind an unchanged first page
    assert pipeline.body_digest(replace(feed, kind=SourceKind.HTML), config, TWO) is None


@pytest.fixture
def analyzed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The guid of every item analyzed in this process."""
    seen: list[str] = []
    real = analyze.analyze

    def counted(item: Any, rules: Any) -> Any:
        seen.append(item.guid.rsplit("/", 1)[-1])  # <guid>a</guid>, a permalink
        return real(item, rules)

    monkeypatch.setattr(analyze, "analyze", counted)
    return seen


@pytest.mark.parametrize("processes", [0, 1])
def test_a_changed_feed_analyzes_only_what_is_new_or_edited(
        tmp_path: Path, server: HTTPTestServer, analyzed: list[str], processes: int) -> None:
    with Service.open(project(tmp_path, server, processes=processes)) as svc:
        svc.poll(all_sources=True)
        # a first poll: everything, here or (with a parse process) there
        assert sorted(analyzed) == ([] if processes else ["a", "b"])
        first = len(analyzed)
        server.route("/feed.xml", static(CHANGED))
        [outcome] = svc.poll(all_sources=True).outcomes
        assert (outcome.new, outcome.updated) == (1, 1)
        assert sorted(analyzed[first:]) == ["a", "d"]  # here; b is stored as it is


def _tables(config: Path, bodies: list[bytes],
            server: HTTPTestServer) -> dict[str, list[Any]]:
    clock = Clock()
    with Service.open(config, clock=clock) as svc:
        for body in bodies:
            server.route("/feed.xml", static(body))
            svc.poll(all_sources=True)
            clock.now += timedelta(hours=2)
        with svc.store.engine.connect() as conn:
            return {t.name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
                    for t in metadata.sorted_tables}


@pytest.mark.parametrize("processes", [0, 1])
def test_skipping_what_is_stored_as_it_is_stores_what_analyzing_everything_stores(
        tmp_path: Path, server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch,
        processes: int) -> None:
    bodies = [TWO, THREE, CHANGED, TWO]
    (tmp_path / "skip").mkdir()
    (tmp_path / "all").mkdir()
    skipping = _tables(project(tmp_path / "skip", server, processes=processes), bodies,
                       server)
    real = Store.compare_stored
    monkeypatch.setattr(Store, "compare_stored",  # everything analyzed, as before
                        lambda self, source_id, items: (real(self, source_id, items)[0], set()))
    everything = _tables(project(tmp_path / "all", server, processes=processes), bodies,
                         server)
    assert skipping["copies"] and skipping == everything


LISTING = """<html><body>{entries}</body></html>"""
ENTRY = ('<div class="entry"><h3><a href="/{slug}.html">{title}</a></h3>'
         '<span class="date">2{n}/11/2026</span><p class="teaser">{teaser}</p></div>')
PAGE = ('<html><body><div id="content"><p>{title}: the full text of the announcement, '
        'with the agenda, the venue and who attends, written out at length.</p></div>'
        '</body></html>')


def listing(*entries: tuple[str, str, str]) -> bytes:
    return LISTING.format(entries="".join(
        ENTRY.format(slug=slug, title=title, teaser=teaser, n=n)
        for n, (slug, title, teaser) in enumerate(entries))).encode()


def html_project(tmp_path: Path, server: HTTPTestServer) -> Path:
    (tmp_path / "feeds").mkdir(exist_ok=True)
    (tmp_path / "feeds" / "meetings.toml").write_text(f"""
[[source]]
id = "meetings"
url = "{server.url('/list.html')}"
kind = "html"
[source.select]
item = "div.entry"
title = "h3 a"
link = "h3 a"
date = "span.date"
summary = "p.teaser"
content = "#content"
follow = true
""")
    (tmp_path / "config.toml").write_text("[fetch]\nallow_private = true\ntimeout = 5\n")
    return tmp_path / "config.toml"


def test_a_followed_page_keeps_its_full_text_when_the_listing_changes(
        tmp_path: Path, server: HTTPTestServer) -> None:
    """Known entries are not followed again: their listing line alone must not read as
    an edit that replaces the full text read when they were first seen."""
    for slug in ("egm", "workshop", "forum"):
        server.route(f"/{slug}.html", static(PAGE.format(title=slug).encode(),
                                             content_type="text/html; charset=utf-8"))
    first = listing(("egm", "Expert group meeting", "Experts meet in Vienna."),
                    ("workshop", "Regional workshop", "A workshop in Dakar."))
    later = listing(("forum", "Forum on smuggling", "A forum in Bangkok."),
                    ("egm", "Expert group meeting", "Experts meet in Vienna next week."),
                    ("workshop", "Regional workshop", "A workshop in Dakar."))
    server.route("/list.html", static(first, content_type="text/html; charset=utf-8"))
    with Service.open(html_project(tmp_path, server)) as svc:
        assert svc.poll(all_sources=True).outcomes[0].new == 2
        server.route("/list.html", static(later, content_type="text/html; charset=utf-8"))
        [outcome] = svc.poll(all_sources=True).outcomes
        assert (outcome.new, outcome.updated, outcome.error) == (1, 0, None)
        with svc.store.engine.connect() as conn:
            texts = dict(conn.execute(sa.text("SELECT url, content_html FROM copies")).all())
    assert len(texts) == 3 and all("the full text" in t for t in texts.values()), texts
    assert [r.path for r in server.requests].count("/egm.html") == 1
