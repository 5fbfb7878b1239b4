"""The injection corpus all the way through: stored copies and every published file.

``test_corpus`` checks what normalize makes of each file. Here all of
``feedparser-tests/wellformed/sanitize/`` is stored (one source per file), published
in one go, and the database rows and every output are walked for unsafe markup:
the HTML inside RSS/Atom elements and JSON Feed fields, and the body of index.html.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from lxml import etree
from lxml import html as lxml_html

from aggregator.config import Config, OutputConfig
from aggregator.errors import ParseError
from aggregator.models import SourceDef
from aggregator.normalize import normalize_entries
from aggregator.parse import parse_feed
from aggregator.publish import publish
from aggregator.store import Store
from aggregator.store.schema import copies
from tests.test_corpus import CORPUS, SANITIZE, TAG_RE, _assert_safe_html, _declared_headers

NOW = datetime(2030, 1, 1, tzinfo=UTC)
FILES = sorted((CORPUS / SANITIZE).glob("*")) if (CORPUS / SANITIZE).is_dir() else []
ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"

pytestmark = pytest.mark.skipif(not FILES, reason=f"no sanitize corpus under {CORPUS}")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Path, int]:
    tmp = tmp_path_factory.mktemp("sanitize")
    store = Store.open(f"sqlite:///{tmp / 'db.sqlite'}")
    defs = [SourceDef(id=f"s{n}", url=f"https://corpus.example/{p.name}", title=p.name)
            for n, p in enumerate(FILES)]
    store.sync_sources(defs, NOW)
    stored = 0
    for definition, path in zip(defs, FILES, strict=True):
        content = path.read_bytes()
        try:
            feed = parse_feed(content, definition.url, _declared_headers(content))
        except ParseError:
            continue
        items = normalize_entries(definition, feed, now=NOW)
        stored += store.ingest(store.get_source(definition.id), items, NOW).new
    config = Config(path=tmp / "config.toml", output=OutputConfig(dir=tmp / "output",
                                                                  items=100_000))
    publish(store, config, NOW)
    return store, tmp / "output", stored


def test_the_cases_reached_the_outputs(published: tuple[Store, Path, int]) -> None:
    store, _, stored = published
    # most files are one field that is nothing once cleaned; 203 yield an item
    assert stored >= 200
    print(f"sanitize corpus: {stored} copies stored, {store.count_stories()} stories")


def test_stored_copies_are_clean(published: tuple[Store, Path, int]) -> None:
    store, _, _ = published
    with store.engine.connect() as conn:
        for row in conn.execute(sa.select(copies.c.title, copies.c.summary_html,
                                          copies.c.content_html, copies.c.url)):
            _assert_safe_html(row.summary_html, "stored summary")
            _assert_safe_html(row.content_html, "stored content")
            assert not TAG_RE.search(row.title) and "\n" not in row.title


def store_stories(published: tuple[Store, Path, int]) -> int:
    return published[0].count_stories()


def test_rss_and_atom_carry_only_clean_html(published: tuple[Store, Path, int]) -> None:
    _, out, _ = published
    rss = etree.parse(str(out / "feed.xml"))
    items = rss.findall("channel/item")
    assert len(items) == store_stories(published)
    for item in items:
        assert not TAG_RE.search(item.findtext("title") or "")
        for el in (item.find("description"), item.find(CONTENT_ENCODED)):
            if el is not None and el.text:
                _assert_safe_html(el.text, "feed.xml")
    atom = etree.parse(str(out / "atom.xml"))
    for entry in atom.findall(f"{ATOM}entry"):
        assert not TAG_RE.search(entry.findtext(f"{ATOM}title") or "")
        for el in (entry.find(f"{ATOM}summary"), entry.find(f"{ATOM}content")):
            if el is not None and el.text:
                _assert_safe_html(el.text, "atom.xml")


def test_json_feed_carries_only_clean_html(published: tuple[Store, Path, int]) -> None:
    _, out, _ = published
    for item in json.loads((out / "feed.json").read_text())["items"]:
        assert not TAG_RE.search(item["title"])
        for key in ("content_html", "summary"):
            if item.get(key):
                _assert_safe_html(item[key], "feed.json")


def test_index_body_has_no_active_content(published: tuple[Store, Path, int]) -> None:
    _, out, _ = published
    doc = lxml_html.fromstring((out / "index.html").read_bytes())
    main = doc.find(".//main")
    assert main is not None
    for el in main.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag not in ("script", "style", "iframe", "object", "embed", "svg", "form")
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), f"{name}= on <{el.tag}>"
            if name in ("href", "src"):
                assert value.split(":", 1)[0].lower() in ("http", "https", "mailto"), value
