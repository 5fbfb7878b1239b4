"""The feedparser-rs fast path (``aggregator.parse.fast``) gives what feedparser gives.

Every document is parsed twice through :func:`parse_feed`, with the fast path and
without it, and the two :class:`FeedData` must be equal in every field of the feed and
of every entry (or both raise the same :class:`ParseError`): every file of the shared
real-world corpus (``../shared/corpus``, skipped without it), every feed document of
``tests/data`` and the shipped snapshots, and the cases below where feedparser-rs reads
a document differently from feedparser (each must be declined or converted to the
same result). Equality alone would hold if the fast path declined everything, so the
tally also asserts how much of it took the fast path, and that nothing failed there.
"""

from __future__ import annotations

import json
import random
import re
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import pytest
from feedparser.datetimes import _parse_date

from aggregator.errors import ParseError
from aggregator.models import FeedData
from aggregator.parse import fast, parse_feed
from aggregator.parse.feed import from_struct
from tests.conftest import write_summary

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file()) if CORPUS.is_dir() else []


@dataclass
class Tally:
    fast: list[str] = field(default_factory=list)
    declined: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    counts = Tally()
    yield counts
    if counts.fast or counts.declined:
        write_summary(request.config,
                      f"\nfast path: {len(counts.fast)} documents, declined "
                      f"{sum(counts.declined.values())}: "
                      + "; ".join(f"{n} {reason}"
                                  for reason, n in counts.declined.most_common()))


_REASONS = [  # (how a decline reason starts, what the tally calls it)
    ("not well-formed", "not well-formed XML (feedparser warns)"),
    ("feedparser-rs lost", "feedparser-rs lost a text field"),
    ("feedparser-rs", "feedparser-rs says malformed"),
    ("an element inside", "markup inside a text field"),
    ("element", "an element outside the vocabulary"),
    ("attribute", "an attribute outside the vocabulary"),
    ("type", "a text type other than text or html"),
    ("two", "a field given twice"),
    ("<", "an empty-element tag in an RSS item"),
    ("encoding", "an encoding feedparser would guess at"),
    ("UTF-16", "UTF-16 or UTF-32"),
    ("a DOCTYPE", "a DOCTYPE"),
    ("not XML", "not XML"),
]


def _reason(text: str) -> str:
    """A decline reason as the tally groups it."""
    if text.startswith("element") and text.endswith(" in None"):
        return "not RSS 0.9x/1.0/2.0 or Atom 1.0"
    return next((name for start, name in _REASONS if text.startswith(start)), text)


def _differences(a: object, b: object, path: str = "") -> list[str]:
    if is_dataclass(a) and is_dataclass(b) and type(a) is type(b):
        return [d for f in fields(a)  # type: ignore[arg-type]
                for d in _differences(getattr(a, f.name), getattr(b, f.name),
                                      f"{path}.{f.name}")]
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return [d for n, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _differences(x, y, f"{path}[{n}]")]
    return [] if a == b else [f"{path}: fast {a!r:.300} != feedparser {b!r:.300}"]


def _parse(content: bytes, url: str, headers: dict[str, str], **kw: Any) -> FeedData | str:
    try:
        return parse_feed(content, url, headers, **kw)
    except ParseError as e:
        return f"ParseError: {e}"


def both_ways(monkeypatch: pytest.MonkeyPatch, content: bytes, url: str,
              headers: dict[str, str] | None = None, tally: Tally | None = None,
              name: str = "", **kw: Any) -> str | None:
    """Parse both ways and assert the results are equal; the decline reason, or None
    when the fast path gave the result."""
    seen: list[FeedData | str] = []
    attempt = fast.attempt

    def recording(*args: Any) -> FeedData | str:
        seen.append(attempt(*args))
        return seen[-1]

    monkeypatch.setattr(fast, "attempt", recording)
    monkeypatch.setattr(fast, "ENABLED", True)
    quick = _parse(content, url, dict(headers or {}), **kw)
    monkeypatch.setattr(fast, "ENABLED", False)
    slow = _parse(content, url, dict(headers or {}), **kw)
    monkeypatch.setattr(fast, "ENABLED", True)
    diffs = _differences(quick, slow)
    assert not diffs, "\n".join(diffs[:20])
    reason = None if not seen or isinstance(seen[0], FeedData) else seen[0]
    if tally is not None:
        if not seen:
            tally.declined["JSON Feed, empty or not XML (before the hook)"] += 1
        elif reason is None:
            tally.fast.append(name)
        else:
            tally.declined[_reason(reason)] += 1
            if reason.startswith("failed"):
                tally.failed.append(f"{name}: {reason}")
    return reason


# -- the shared corpus -----------------------------------------------------------------


def _declared_headers(content: bytes) -> dict[str, str]:
    """The HTTP headers a feedparser test file declares in its ``Header:`` lines."""
    head = content[:2048].decode("latin-1")
    pattern = re.compile(r"^Header:\s*([\w-]+):\s*(.*?)\s*$", re.M)
    return {m.group(1): m.group(2) for m in pattern.finditer(head)}


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file(path: Path, tally: Tally, monkeypatch: pytest.MonkeyPatch) -> None:
    content = path.read_bytes()
    rel = path.relative_to(CORPUS).as_posix()
    both_ways(monkeypatch, content, f"https://corpus.example/{rel}",
              _declared_headers(content), tally, rel)


def test_the_corpus_took_the_fast_path(tally: Tally) -> None:
    """Equality is not vacuous: a third of the corpus (which is mostly feedparser's own
    tests of its oddities) took the fast path, and nothing failed in it."""
    if len(tally.fast) + sum(tally.declined.values()) < len(CORPUS_FILES) or not CORPUS_FILES:
        pytest.skip("counts the whole corpus run; run it with the corpus tests")
    assert not tally.failed
    assert len(tally.fast) > 650
    real_world = [n for n in tally.fast if not n.startswith("feedparser-tests/")]
    assert len(real_world) > 25


# -- the project's own documents -------------------------------------------------------


def _snapshots(root: Path) -> list[tuple[Path, str, dict[str, str]]]:
    out = []
    for index in sorted(root.glob("*/index.toml")):
        for response in tomllib.loads(index.read_text(encoding="utf-8")).get("response", []):
            path = index.parent / response["file"]
            if path.suffix in (".xml", ".json", ".rss", ".atom"):
                out.append((path, response["url"],
                            {"content-type": response.get("content_type", "")}))
    return out


def _project_documents() -> list[tuple[Path, str, dict[str, str]]]:
    docs = _snapshots(ROOT / "feeds" / "snapshots") + _snapshots(DATA / "eval" / "snapshots")
    for expected in sorted((DATA / "parse").glob("*.expected.json")):
        spec = json.loads(expected.read_text(encoding="utf-8"))
        if spec["call"] == "feed":
            stem = expected.name.removesuffix(".expected.json")
            (path,) = [p for p in (DATA / "parse").glob(stem + ".*") if p != expected]
            docs.append((path, spec["url"], spec.get("headers") or {}))
    hostile = tomllib.loads((DATA / "hostile" / "cases.toml").read_text(encoding="utf-8"))
    for case in hostile["case"]:
        docs.append((DATA / "hostile" / case["file"], "http://127.0.0.1:8000/feed.xml",
                     {"content-type": case.get("content_type",
                                               "application/rss+xml; charset=utf-8")}))
    docs.append((DATA / "fetch" / "feed.xml", "https://www.unodc.org/feed.xml", {}))
    return docs


PROJECT = _project_documents()


@pytest.mark.parametrize(("path", "url", "headers"), PROJECT,
                         ids=[f"{p.relative_to(ROOT)}:{n}" for n, (p, _, _) in enumerate(PROJECT)])
def test_project_document(path: Path, url: str, headers: dict[str, str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    content = path.read_bytes().replace(b"@ORIGIN@", b"http://127.0.0.1:8000")
    both_ways(monkeypatch, content, url, headers)


def test_the_shipped_sources_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    for path, url, headers in _snapshots(ROOT / "feeds" / "snapshots"):
        if path.suffix == ".xml":
            assert both_ways(monkeypatch, path.read_bytes(), url, headers) is None, path


# -- where feedparser-rs reads differently ---------------------------------------------

URL = "https://news.example.org/feeds/rss.xml"
NS = ('xmlns:dc="http://purl.org/dc/elements/1.1/" '
      'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom"')


def rss(items: str, channel: str = "<title>T</title><link>https://news.example.org/</link>",
        root: str = "", encoding: str = "utf-8") -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0" {NS}{root}>'
            f"<channel>{channel}{items}</channel></rss>").encode(
                "utf-8" if encoding == "utf-8" else encoding)


def atom(entries: str, feed: str = "<title>T</title>", root: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:foo="http://foo.example/"{root}>'
            f"{feed}{entries}</feed>").encode()


FAST = "fast"  # the case must take the fast path
EITHER = "either"  # equal results whichever path

CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    # feedparser-rs blanks links to loopback and private addresses
    "private-link": (lambda: rss("<item><title>a</title><link>http://127.0.0.1/x</link>"
                                 "</item>"), EITHER),
    "private-channel-link": (lambda: rss("", "<title>T</title><link>http://10.0.0.1/</link>"),
                             EITHER),
    # ...reads past <category/> in an RSS item, swallowing the link
    "empty-element-in-item": (lambda: rss("<item><category/><title>a</title>"
                                          "<link>https://x.example/a</link></item>"), EITHER),
    "empty-category": (lambda: rss('<item><title>a</title><category/><foo:x xmlns:foo="'
                                   'http://foo.example/">zzz</foo:x></item>'), EITHER),
    # ...fills an empty summary in from the content, an empty updated from published
    "empty-summary": (lambda: atom('<entry><id>urn:a</id><summary type="html"/>'
                                   '<content type="html">&lt;p&gt;C&lt;/p&gt;</content>'
                                   "</entry>"), FAST),
    "cdata-empty-summary": (lambda: rss("<item><title>a</title><description><![CDATA[]]>"
                                        "</description><content:encoded>C</content:encoded>"
                                        "</item>"), FAST),
    "empty-updated": (lambda: atom("<entry><id>urn:a</id><updated></updated><published>"
                                   "2024-03-05T09:30:00Z</published></entry>"), FAST),
    # ...reads an Atom person's name by its local name, whatever its namespace
    "foreign-name": (lambda: atom("<entry><id>urn:a</id><author><name>N</name>"
                                  "<foo:name>X</foo:name></author></entry>"), EITHER),
    # expat turns CR LF into LF (and a tab in an attribute value into a space)
    "crlf": (lambda: rss("<item><title>a\r\nb</title><description>line\r\nline\rline"
                         '</description><enclosure url="https://x/a\tb.mp3"/></item>'), FAST),
    # feedparser reads guids and ids as URLs, takes a permalink guid as the link
    "guid-as-url": (lambda: rss('<item><guid>/stories/1</guid></item><item><guid '
                                'isPermaLink="false">/stories/2</guid></item>'), FAST),
    "atom-id-as-link": (lambda: atom("<entry><id>/entries/1</id><title>t</title></entry>"),
                        FAST),
    # ...repairs UTF-8 read as Latin-1 and maps C1 controls to Windows-1252
    "demoronize": (lambda: rss("<item><title>don\u0092t \u00e2\u0080\u00a6</title></item>"),
                   FAST),
    # ...applies xml:base and xml:lang element by element
    "base-and-lang": (lambda: rss('<item xml:base="sub/" xml:lang="fr"><title>a</title>'
                                  "<link>page</link><description>d</description></item>"
                                  "<item><title>b</title><link>other</link></item>",
                                  root=' xml:base="https://cdn.example.org/x/" xml:lang="en_GB"'),
                      FAST),
    "base-with-spaces": (lambda: atom('<entry xml:base=" https://x.example/s "><id>i</id>'
                                      "<summary>s</summary><link href='a'/></entry>"), FAST),
    # ...decodes by the declaration when no charset is given
    "latin-1": (lambda: rss("<item><title>caf\u00e9 \u00fcber</title></item>",
                            encoding="iso-8859-1"), FAST),
    "charset-overrides-declaration": (lambda: rss("<item><title>caf\u00e9</title></item>",
                                                  encoding="iso-8859-1"), EITHER),
    # feedparser-rs drops categories past 100 by default
    "many-categories": (lambda: rss("<item><title>a</title>" + "".join(
        f"<category>c{n}</category>" for n in range(150)) + "</item>"), FAST),
    # feedparser takes type="html" for text/html, and the last alternate link
    "atom-links": (lambda: atom('<entry><id>i</id><link rel="alternate" type="html" '
                                'href="/a"/><link href="/b" type="application/pdf"/><link '
                                'rel="enclosure" href="/e.mp3" length="12"/></entry>'), FAST),
    "repeated-guids": (lambda: rss("".join(f"<item><guid>g{n % 3}</guid><title>{n}</title>"
                                           "</item>" for n in range(7))), FAST),
    # what expat rejects and feedparser-rs accepts: feedparser warns, so declined
    "after-the-root": (lambda: rss("<item><title>a</title></item>") + b"<junk/>", EITHER),
    "undeclared-prefix": (lambda: rss("<item><title>a</title><x:y>z</x:y></item>"), EITHER),
    "control-character": (lambda: rss("<item><title>a\x01</title></item>"), EITHER),
    "bad-utf-8": (lambda: rss("<item><title>a</title></item>").replace(b"<title>a",
                                                                      b"<title>\xff"), EITHER),
    "doctype": (lambda: b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]>'
                + rss("<item><title>&e;</title></item>").split(b"?>", 1)[1], EITHER),
    "inline-xhtml": (lambda: atom('<entry><id>i</id><content type="xhtml"><div xmlns='
                                  '"http://www.w3.org/1999/xhtml"><br/></div></content>'
                                  "</entry>"), EITHER),
    "media-title": (lambda: rss('<item><title>a</title><media:content url="https://x/v.mp4">'
                                "<media:title>b</media:title></media:content></item>"),
                    EITHER),
}


@pytest.mark.parametrize("name", CASES)
def test_case(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    make, expect = CASES[name]
    headers = {"content-language": "de"} if "lang" in name else {}
    if name == "charset-overrides-declaration":
        headers = {"content-type": "application/rss+xml; charset=utf-8"}
    reason = both_ways(monkeypatch, make(), URL, headers)
    if expect == FAST:
        assert reason is None, reason


def test_max_items_cut_and_the_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    items = "".join(f"<item><guid>g{n}</guid><title>{n}</title></item>" for n in range(3000))
    assert both_ways(monkeypatch, rss(items), URL, max_items=10) is None


def test_documents_over_max_bytes_go_to_feedparser(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "MAX_BYTES", 1000)
    body = rss("".join(f"<item><title>{n}</title></item>" for n in range(100)))
    assert both_ways(monkeypatch, body, URL) == "larger than MAX_BYTES"


def test_dates_as_feedparser_reads_them() -> None:
    """The fast date parser agrees with feedparser's on the two common forms, in range
    and out of it (it hands the latter to feedparser's)."""
    rng = random.Random(8)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
              "Dec"]
    for _ in range(3000):
        y = rng.choice([1899, 1900, 1999, 2024, 2100, 9001])
        mo, d = rng.randint(0, 13), rng.randint(0, 32)
        h, mi, s = rng.randint(0, 25), rng.randint(0, 61), rng.randint(0, 61)
        if rng.random() < 0.5:
            zone = rng.choice(["Z", "z", "+00:00", "-05:30", "+14:00", "-24:00", "+05:60"])
            frac = rng.choice(["", ".5"])
            text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{zone}"
        else:
            zone = rng.choice(["GMT", "UT", "Z", "+0000", "-0500", "+0530", "-2400", "+0560"])
            day = rng.choice(["Mon, ", "Sun, ", ""])
            text = f"{day}{d} {months[(mo - 1) % 12]} {y:04d} {h:02d}:{mi:02d}:{s:02d} {zone}"
        assert fast._date(text) == from_struct(_parse_date(text)), text


def test_urls_as_feedparser_joins_them() -> None:
    """The shortcut for URLs that come back unchanged agrees with urljoin."""
    from feedparser.urls import _urljoin

    from aggregator.parse.feed import _join

    rng = random.Random(9)
    pieces = ["http://", "https://", "HTTP://", "urn:", "tag:", "mailto:", "//", "/", "a",
              "b.example", "?", "#", ";", "@", ":8080", "..", ".", "%20", " ", "\t", "[::1]",
              "x=1&y=2", "\u00e9", "\\", "", "http:///x", "&amp;", "\x00"]
    bases = ["https://feed.example/a/b?x=1", "http://feed.example/", "", "HTTPS://X.example/y",
             "ftp://f/", "urn:x", " http://ex.com/s "]
    for _ in range(20000):
        url = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        base = rng.choice(bases)
        assert fast._urljoin(base, url) == _urljoin(base, url), (base, url)
        assert fast._join(base, url) == _join(base, url), (base, url)
