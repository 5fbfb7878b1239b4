"""Every file of the shared real-world corpus through parse_feed + normalize_entries.

What must hold for every file: no exception but ParseError escapes, and only the
files listed in NOT_FEEDS raise it; every Item is safe to publish as it is (its HTML
holds only allowed elements, attributes and URL schemes, checked by parsing it with
lxml, not by searching text that may be harmless escaped markup), its one-line
fields hold no tags, and sanitizing its HTML again changes nothing. The 745 files of
``feedparser-tests/wellformed/sanitize/`` are script/style/event-handler injection
cases; they must come out clean like the rest.

The corpus lives beside the repository (``../shared/corpus``); without it the tests
are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree
from lxml import html as lxml_html

from aggregator.errors import ParseError
from aggregator.models import Item, SourceDef
from aggregator.normalize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    MAX_FIELD,
    MAX_TITLE,
    clean_title,
    normalize_entries,
    sanitize_html,
    with_language,
)
from aggregator.parse import parse_feed
from tests.conftest import write_summary

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SANITIZE = Path("feedparser-tests/wellformed/sanitize")
FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file()) if CORPUS.is_dir() else []
NOW = datetime(2030, 1, 1, tzinfo=UTC)
SOURCE = SourceDef(id="corpus", url="https://corpus.example/")

#: files that are not feeds: licences, an HTML page, XML of another kind, an empty one
NOT_FEEDS = frozenset({
    "README.md",
    "feed-rs-fixture/LICENSE-MIT",
    "feed-rs-fixture/xml/xml_sample_1.xml",
    "feed-rs-fixture/xml/xml_sample_2.xml",
    "feedparser-tests/LICENSE",
    "feedparser-tests/illformed/rss_empty_document.xml",
    "lemon24-reader-tests-data/LICENSE",
    "lemon24-reader-tests-data/sqlite_releases.html",
    "node-feedparser-test-feeds/LICENSE",
    "node-feedparser-test-feeds/notafeed.html",
})

UNSAFE_ELEMENTS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "svg",
    "math", "form", "input", "button", "textarea", "select", "link", "meta", "base",
    "noscript", "template",
})
UNSAFE_SCHEMES = ("javascript:", "vbscript:", "data:")
#: a "<" that starts a tag, a comment, a doctype or a processing instruction
TAG_RE = re.compile(r"<\s*/?\s*[A-Za-z!?]")
#: what browsers ignore inside a URL scheme ("jav\tascript:")
URL_NOISE_RE = re.compile(r"[\x00-\x20\x7f]+")

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"no corpus at {CORPUS} (the shared folder beside the repo)"
)


@dataclass
class Tally:
    files: int = 0
    items: int = 0
    sanitize_fragments: int = 0
    parse_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    counts = Tally()
    yield counts
    if counts.files:
        write_summary(request.config,
                      f"\ncorpus: {counts.files} files, {counts.items} items "
                      f"({counts.sanitize_fragments} HTML fields checked from sanitize/), "
                      f"{len(counts.parse_errors)} ParseError: "
                      f"{', '.join(counts.parse_errors)}")


def _declared_headers(content: bytes) -> dict[str, str]:
    """The HTTP headers a feedparser test file declares in its ``Header:`` lines."""
    head = content[:2048].decode("latin-1")
    pattern = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
    return {m.group(1): m.group(2) for m in pattern.finditer(head)}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file(path: Path, tally: Tally) -> None:
    rel = path.relative_to(CORPUS)
    content = path.read_bytes()
    url = f"https://corpus.example/{rel.as_posix()}"
    tally.files += 1
    try:
        feed = parse_feed(content, url, _declared_headers(content))
    except ParseError as e:
        tally.parse_errors.append(rel.as_posix())
        assert rel.as_posix() in NOT_FEEDS, f"ParseError on a feed: {e}"
        assert e.url == url and "\n" not in str(e)
        return
    assert rel.as_posix() not in NOT_FEEDS, "expected a ParseError"
    assert all("\n" not in w for w in feed.warnings)

    items = normalize_entries(SOURCE, feed, now=NOW)
    tally.items += len(items)
    # a poll detects the language only of what changed: the same answer, later
    later = normalize_entries(SOURCE, feed, now=NOW, detect=False)
    assert [with_language(i) for i in later] == items
    for item in items:
        _assert_publishable(item)

    # normalize leaves out entries with no link, title or text (an entry that is one
    # <img onabort=...>); what it would make of their fields must be clean too
    fragments = [sanitize_html(html_, e.base)
                 for e in feed.entries for html_ in (e.summary, e.content) if html_]
    for fragment in fragments:
        _assert_safe_html(fragment, "entry")
    for text in [feed.title, *(e.title for e in feed.entries)]:
        assert not TAG_RE.search(clean_title(text)), text
    if rel.is_relative_to(SANITIZE):
        tally.sanitize_fragments += len(fragments)


def test_sanitize_cases_were_checked(tally: Tally) -> None:
    """The safety checks are not vacuous: the injection cases reached them."""
    if tally.files < len(FILES):
        pytest.skip("counts the whole corpus run; run it with the corpus tests")
    assert tally.sanitize_fragments > 450


def _assert_publishable(item: Item) -> None:
    for name in ("summary_html", "content_html"):
        html_ = getattr(item, name)
        _assert_safe_html(html_, name)
        assert sanitize_html(html_, "https://corpus.example/") == html_, f"{name} not idempotent"
    for name in ("title", "author"):
        value = getattr(item, name) or ""
        assert not TAG_RE.search(value), f"{name} holds a tag: {value!r}"
        assert "\n" not in value and "\r" not in value, name
    assert item.title and len(item.title) <= MAX_TITLE
    for category in item.categories:
        assert not TAG_RE.search(category), category
    for url in [item.url, *(e.url for e in item.enclosures)]:
        assert url is None or urlsplit(url).scheme in ("http", "https"), url
    for name in ("guid", "title", "summary_html", "content_html", "text"):
        assert len(getattr(item, name).encode("utf-8", "surrogatepass")) <= MAX_FIELD, name
    for date in (item.published, item.updated):
        assert date is None or date.tzinfo is UTC


def _assert_safe_html(fragment: str, where: str) -> None:
    if not fragment.strip():
        return
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    for el in root.iter():
        if el is root:
            continue
        assert not isinstance(el, etree._Comment), f"{where}: comment survived"
        tag = str(el.tag).lower()
        assert tag not in UNSAFE_ELEMENTS, f"{where}: <{tag}> survived"
        assert tag in ALLOWED_TAGS, f"{where}: <{tag}> is not allowed"
        for name, value in el.attrib.items():
            attr = str(name).lower()
            assert not attr.startswith("on"), f"{where}: {attr}= on <{tag}>"
            assert attr in ALLOWED_ATTRIBUTES.get(tag, ()) or (tag, attr) == ("a", "rel"), (
                f"{where}: {attr}= on <{tag}> is not allowed")
            if attr in ("href", "src"):
                squeezed = URL_NOISE_RE.sub("", value).lower()
                assert not squeezed.startswith(UNSAFE_SCHEMES), f"{where}: {attr}={value!r}"
                assert urlsplit(value).scheme in ("http", "https", "mailto"), value
