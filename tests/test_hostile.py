"""Hostile sources end to end (issue 7): a real server, the real poll, the store, the outputs.

Every case configures one source on a real HTTP server on 127.0.0.1 (``[fetch]
allow_private = true`` admits that address, and only that one), polls a good version
of its feed, then the hostile one, through :meth:`Service.poll` — fetch, parse,
normalize, analyze, store — under small limits (2 s, 1 MiB). Each ends one of two
ways: a clear one-line error recorded on the source (status "error", still enabled:
only 410 disables), or sanitized items kept. Either way the items stored before are
still there, unchanged.

The fixed documents are in ``tests/data/hostile/``, with what each must come to in
``cases.toml`` beside them; what is too big to keep in a file (bombs, a gigabyte,
50,000 entries, 5 MB descriptions) is made here, lazily where it is big.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import tomllib
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import lxml.html
import pytest
import sqlalchemy as sa

from aggregator.models import Item, Source, SourceOutcome, SourceStatus
from aggregator.normalize import MAX_FIELD, MAX_TITLE
from aggregator.service import Service
from aggregator.store import Store
from aggregator.store.schema import metadata
from tests.conftest import NOW
from tests.httpserver import (
    HTTPTestServer,
    Reply,
    drip,
    redirect,
    stall_after_headers,
    static,
    streamed,
)

DATA = Path(__file__).parent / "data" / "hostile"
CASES = tomllib.loads((DATA / "cases.toml").read_text(encoding="utf-8"))["case"]
SOURCE = "hostile"
MiB = 1024 * 1024
#: what ``[fetch]`` says in every case unless the case needs more room
LIMITS = {"timeout": 2, "connect_timeout": 1, "max_bytes": MiB, "max_redirects": 3,
          "max_items_per_fetch": 1000}
#: the first line of /etc/passwd: must never be read into the store or an output
PASSWD = Path("/etc/passwd").read_text(encoding="utf-8").splitlines()[0]
SECRET = "TOP-SECRET-d41d8cd98f00"

GOOD = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local desk</title><link>http://127.0.0.1/</link>
<description>the good version</description>
<item><title>Smugglers arrested in port raid</title><link>http://127.0.0.1/good-1</link>
<guid isPermaLink="false">good-1</guid><pubDate>Fri, 27 Nov 2026 09:00:00 GMT</pubDate>
<description>&lt;p&gt;Police arrested &lt;b&gt;five&lt;/b&gt; people.&lt;/p&gt;</description></item>
<item><title>Court convicts boat organisers</title><link>http://127.0.0.1/good-2</link>
<guid isPermaLink="false">good-2</guid><pubDate>Thu, 26 Nov 2026 09:00:00 GMT</pubDate>
<description>Three were sentenced.</description></item>
</channel></rss>"""


# -- the site under attack ------------------------------------------------------------------


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """One project with one source on the test server, and what it stored."""

    root: Path
    server: HTTPTestServer
    service: Service
    clock: Clock

    def serve(self, reply: Reply | Callable[..., Reply]) -> None:
        self.server.route("/feed.xml", reply)

    def poll(self) -> SourceOutcome:
        (outcome,) = self.service.poll(ids=[SOURCE]).outcomes
        return outcome

    def source(self) -> Source:
        return self.service.store.get_source(SOURCE)

    def items(self) -> dict[str, Item]:
        return {c.item.guid: c.item for c in self.service.store.iter_copies()
                if c.item.source_id == SOURCE}

    def good_first(self) -> dict[str, Item]:
        """Poll the good version; what it stored."""
        self.serve(static(GOOD))
        assert self.poll().error is None
        items = self.items()
        assert set(items) == {"good-1", "good-2"}
        return items

    def dump(self) -> str:
        """Every value in every table, as text: for strings that must be nowhere."""
        out: list[str] = []
        with self.service.store.engine.connect() as conn:
            for table in metadata.sorted_tables:
                out.extend(repr(tuple(row)) for row in conn.execute(sa.select(table)))
        return "\n".join(out)

    def publish(self) -> dict[str, bytes]:
        """Publish everything; every output file by its path under output/."""
        self.service.publish(force=True)
        out = self.root / "output"
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file()}


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as s:
        yield s


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database with the schema, copied for each test (migrating is slow)."""
    path = tmp_path_factory.mktemp("template") / "test.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def make_site(tmp_path: Path, server: HTTPTestServer,
              migrated: Path) -> Iterator[Callable[..., Site]]:
    opened: list[Service] = []

    def make(db_url: str | None = None, **fetch: Any) -> Site:
        root = tmp_path / "project"
        (root / "feeds").mkdir(parents=True)
        (root / "var").mkdir()
        shutil.copy(migrated, root / "var" / "test.db")
        (root / "feeds" / "hostile.toml").write_text(
            f'[[source]]\nid = "{SOURCE}"\nurl = "{server.url("/feed.xml")}"\nkind = "feed"\n')
        settings = {**LIMITS, **fetch}
        (root / "config.toml").write_text(
            "[site]\ntitle = \"Hostile test\"\n"
            f"[storage]\nurl = \"{db_url or 'sqlite:///var/test.db'}\"\n"
            "[fetch]\nallow_private = true\n"
            + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        clock = Clock()
        service = Service.open(root / "config.toml", clock=clock)
        opened.append(service)
        return Site(root, server, service, clock)

    yield make
    for service in opened:
        service.close()


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def assert_failed(site: Site, before: dict[str, Item], outcome: SourceOutcome,
                  pattern: str) -> str:
    """The poll failed with one clear line, kept the source enabled and lost nothing."""
    source = site.source()
    assert outcome.error is not None and outcome.status is SourceStatus.ERROR
    assert source.status is SourceStatus.ERROR and source.enabled
    assert source.disabled_reason is None and source.error_count == 1
    error = source.last_error or ""
    assert error == outcome.error and "\n" not in error and 0 < len(error) <= 300
    assert re.search(pattern, error), error
    assert site.items() == before
    return error


def assert_kept(site: Site, before: dict[str, Item], outcome: SourceOutcome) -> dict[str, Item]:
    """The poll succeeded; the items it added, the earlier ones unchanged."""
    assert outcome.error is None, outcome.error
    source = site.source()
    assert source.status is SourceStatus.OK and source.last_error is None
    items = site.items()
    assert {g: items.get(g) for g in before} == before
    return {g: i for g, i in items.items() if g not in before}



@dataclass
class Peak:
    bytes: int = 0


@contextlib.contextmanager
def peak_memory() -> Iterator[Peak]:
    """The peak of memory allocated (by any thread) inside the block, over what was before."""
    peak = Peak()
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


# -- what "nothing executable survives" means -------------------------------------------------

#: elements that run code, load active content or restyle the page
ACTIVE_TAGS = frozenset({"script", "iframe", "frame", "frameset", "object", "embed", "applet",
                         "style", "link", "meta", "base", "form", "svg", "math", "template"})
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "data", "poster",
                            "background", "xlink:href", "srcdoc", "srcset", "cite"})
ACTIVE_URL = re.compile(r"^(?:javascript|vbscript|data|file):", re.I)


def active_url(value: str) -> bool:
    # browsers ignore whitespace and control characters inside a scheme ("java\tscript:")
    return bool(ACTIVE_URL.match(re.sub(r"[\x00-\x20]+", "", html.unescape(value))))


def html_dangers(element: Any, *, allowed: frozenset[str] = frozenset()) -> list[str]:
    """What in an lxml element tree would run or load something in a browser."""
    found = []
    for el in element.iter():
        if not isinstance(el.tag, str):
            continue  # comments, processing instructions
        if el.tag.lower() in ACTIVE_TAGS - allowed:
            found.append(f"<{el.tag}>")
        for name, value in el.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{name}= on <{el.tag}>")
            elif name.lower() in URL_ATTRIBUTES and active_url(value):
                found.append(f"{name}={value!r} on <{el.tag}>")
            elif name.lower() == "style" and re.search(r"url\s*\(|expression", value, re.I):
                found.append(f"style={value!r}")
    return found


def fragment_dangers(text: str) -> list[str]:
    """A value that a reader may render as HTML (a title, a description, content_html)."""
    if "<" not in text and not active_url(text):
        return []
    if active_url(text):
        return [f"an active URL {text[:60]!r}"]
    root = lxml.html.fragment_fromstring(text, create_parent="div")
    return html_dangers(root)


def xml_dangers(data: bytes) -> list[str]:
    """Every text and attribute of an XML output, decoded once, as a reader would take it."""
    found = []
    for el in ElementTree.fromstring(data).iter():
        for value in [el.text or "", *el.attrib.values()]:
            found += [f"{el.tag}: {d}" for d in fragment_dangers(value)]
    return found


def json_strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from json_strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from json_strings(v, key)


def page_dangers(data: bytes) -> list[str]:
    doc = lxml.html.document_fromstring(data)
    head, body = doc.find("head"), doc.find("body")
    # the page's own <head> has its <style>, <meta> and <link rel="alternate">; none of
    # it comes from a feed. Everything a feed can reach is in the body.
    return (html_dangers(head, allowed=frozenset({"style", "meta", "link"})) if head is not None
            else []) + (html_dangers(body) if body is not None else [])


def output_fields(name: str, data: bytes) -> Iterator[str]:
    """The values ("fields") of one published file."""
    if name.endswith(".json"):
        yield from (v for _, v in json_strings(json.loads(data)))
    elif name.endswith((".xml", ".atom", ".opml")):
        for el in ElementTree.fromstring(data).iter():
            yield el.text or ""
            yield from el.attrib.values()
    elif name.endswith(".html"):
        for el in lxml.html.document_fromstring(data).iter():
            yield from (el.text or "", el.tail or "", *el.attrib.values())
    elif name.endswith(".ics"):  # a property's value is its lines unfolded
        yield from data.decode("utf-8").replace("\r\n ", "").split("\r\n")


def check_outputs(files: dict[str, bytes]) -> None:
    """Nothing executable in any published file, and no field of any over 1 MiB."""
    assert {"feed.xml", "atom.xml", "feed.json", "index.html"} <= set(files)
    for name, data in files.items():
        if name.endswith((".xml", ".atom")):
            dangers = xml_dangers(data)
        elif name.endswith(".json"):
            dangers = [f"{k}: {d}" for k, v in json_strings(json.loads(data))
                       for d in fragment_dangers(v)]
        elif name.endswith(".html"):
            dangers = page_dangers(data)
        else:
            dangers = []
        assert not dangers, f"{name}: {dangers}"
        longest = max((len(v.encode("utf-8")) for v in output_fields(name, data)), default=0)
        assert longest <= MAX_FIELD, f"{name}: a field of {longest} bytes"


def readable(name: str, data: bytes) -> str:
    """A published file as text, and as a reader decodes it (once and twice)."""
    text = data.decode("utf-8", "replace")
    if name.endswith(".json"):
        text += "\n".join(v for _, v in json_strings(json.loads(data)))
    once = html.unescape(text)
    return "\n".join((text, once, html.unescape(once)))


def check_item(item: Item) -> None:
    """A stored item: one-line plain-text title, safe HTML, http(s) links, bounded fields."""
    assert item.title and "\n" not in item.title and "\r" not in item.title
    assert len(item.title) <= MAX_TITLE
    for text in (item.title, item.author or "", *item.categories):
        assert "<" not in text and ">" not in text, text
        assert not fragment_dangers(text), text
    for markup in (item.summary_html, item.content_html):
        assert len(markup.encode("utf-8")) <= MAX_FIELD
        assert not fragment_dangers(markup), markup
    for url in (item.url, item.canonical_url, *(e.url for e in item.enclosures)):
        # a quote or bracket in a link would break out of a hand-built attribute
        assert url is None or re.match(r"https?://[^\s\"<>`]+$", url), url
    for enclosure in item.enclosures:
        assert not re.search(r"[\"'<>\s]", enclosure.type), enclosure.type
    assert len(item.text.encode("utf-8")) <= MAX_FIELD


def test_the_checks_see_what_they_look_for() -> None:
    """The checks above, on outputs that are wrong on purpose (and some that are fine)."""
    for bad in ['<script>alert(1)</script>', '<img src=x onerror="alert(1)">',
                '<a href="java&#x09;script:alert(1)">x</a>', '<a href=" JAVASCRIPT:x">x</a>',
                '<svg><a xlink:href="javascript:x">x</a></svg>', '<iframe src="x"></iframe>',
                '<p style="background:url(javascript:x)">x</p>', "javascript:alert(1)",
                '<img src="data:image/svg+xml,x">', "<math><mi>x</mi></math>"]:
        assert fragment_dangers(bad), bad
    for fine in ["&lt;script&gt;alert(1)&lt;/script&gt;", "plain text, javascript: in prose",
                 '<p><a href="https://example.org/" rel="nofollow">x</a><img src="http://x/"></p>']:
        assert not fragment_dangers(fine), fine
    escaped_once = b"<rss><channel><item><description>&lt;script&gt;x&lt;/script&gt;</description>"
    assert xml_dangers(escaped_once + b"</item></channel></rss>")
    escaped_twice = b"<rss><channel><item><description>&amp;lt;script&amp;gt;</description>"
    assert not xml_dangers(escaped_twice + b"</item></channel></rss>")
    page = b"<html><head><style>p{}</style></head><body><p onclick='x'>hi</p></body></html>"
    assert page_dangers(page) == ["onclick= on <p>"]
    files = {"feed.xml": b"<rss/>", "atom.xml": b"<feed/>", "index.html": b"<html></html>",
             "feed.json": json.dumps({"items": [{"content_html": "x" * (MAX_FIELD + 1)}]})
             .encode()}
    with pytest.raises(AssertionError, match=r"feed\.json: a field of"):
        check_outputs(files)


# -- documents: entities, formats, encodings, markup (tests/data/hostile/cases.toml) ---------


@pytest.mark.parametrize("case", CASES, ids=[c.get("name", c["file"]) for c in CASES])
def test_document(site: Site, case: dict[str, Any]) -> None:
    before = site.good_first()
    origin = site.server.url("")
    # the targets of external entities: they must never be requested
    site.server.route("/secret", static(SECRET.encode(), content_type="text/plain"))
    site.server.route("/secret.dtd", static(f'<!ENTITY secret "{SECRET}">'.encode(),
                                            content_type="application/xml-dtd"))
    body = (DATA / case["file"]).read_bytes().replace(b"@ORIGIN@", origin.encode())
    site.serve(static(body, content_type=case.get("content_type",
                                                  "application/rss+xml; charset=utf-8")))
    with peak_memory() as peak:
        outcome = site.poll()
    assert peak.bytes < 64 * MiB

    if case["expect"] == "error":
        assert_failed(site, before, outcome, case["error"])
    else:
        new = assert_kept(site, before, outcome)
        assert sorted(i.title for i in new.values()) == sorted(case["titles"])
        for item in new.values():
            check_item(item)
        for pattern in case.get("warnings", []):
            assert any(re.search(pattern, w) for w in outcome.warnings), outcome.warnings
    assert site.server.paths() == ["/feed.xml", "/feed.xml"]  # no entity was fetched

    files = site.publish()
    check_outputs(files)
    stored = site.dump()
    for never in (PASSWD, SECRET, *case.get("never", [])):
        assert never not in stored
        assert not [name for name, data in files.items() if never in readable(name, data)]


# -- transport: bombs, endless bodies, slow servers, redirects ------------------------------


def gzip_bomb(inflated: int) -> Callable[[], Iterator[bytes]]:
    """A gzip body that inflates to ``inflated`` bytes, made while it is sent.

    After a full flush deflate forgets what came before, so the block that one MiB of
    spaces compresses to can simply be repeated: about a kilobyte per MiB, no matter
    how many.
    """
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = z.compress(b"<rss version=\"2.0\"><channel><title>") + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(b" " * MiB) + z.flush(zlib.Z_FULL_FLUSH)
    assert z.compress(b" " * MiB) + z.flush(zlib.Z_FULL_FLUSH) == block

    def pieces() -> Iterator[bytes]:
        yield head
        for _ in range(inflated // MiB):
            yield block

    return pieces


class Endless:
    """``total`` bytes of one endless feed entry, made while sent; counts what went out."""

    def __init__(self, total: int) -> None:
        self.total, self.sent = total, 0

    def __call__(self) -> Iterator[bytes]:
        piece = b"<p>and on and on</p>" * 3277  # 64 KiB, about
        yield b'<rss version="2.0"><channel><item><guid>endless</guid><description>'
        while self.sent < self.total:
            self.sent += len(piece)
            yield piece


def test_a_gzip_bomb_stops_at_max_bytes(site: Site) -> None:
    before = site.good_first()
    bomb = gzip_bomb(1024 * MiB)
    assert sum(len(p) for p in bomb()) < 2 * MiB  # a gigabyte, inflated
    site.serve(streamed(bomb, headers={"Content-Encoding": "gzip"}))
    with peak_memory() as peak:
        outcome = site.poll()
    assert_failed(site, before, outcome, r"passed the limit of 1048576 bytes \(\[fetch\] max_bytes\)")
    assert peak.bytes < 32 * MiB


def test_a_stray_gzip_bomb_stops_at_max_bytes(site: Site) -> None:
    """A gzip body without Content-Encoding: the parser inflates it, within max_bytes too."""
    before = site.good_first()
    data = b"".join(gzip_bomb(64 * MiB)())
    assert len(data) < MiB
    site.serve(static(data, content_type="application/rss+xml"))
    with peak_memory() as peak:
        outcome = site.poll()
    assert_failed(site, before, outcome, r"^not a feed: gzip-compressed body over 1 MiB")
    assert peak.bytes < 32 * MiB


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_gigabyte_body_stops_at_max_bytes(site: Site, declared: bool) -> None:
    before = site.good_first()
    body = Endless(1024 * MiB)
    site.serve(streamed(body, content_length=1024 * MiB if declared else None))
    with peak_memory() as peak:
        outcome = site.poll()
    if declared:  # refused on its Content-Length, before reading any of it
        assert_failed(site, before, outcome, r"^the body is 1073741824 bytes, over the limit "
                                             r"of 1048576 \(\[fetch\] max_bytes\)$")
    else:
        assert_failed(site, before, outcome, r"passed the limit of 1048576 bytes")
    assert peak.bytes < 32 * MiB
    site.server.stop()  # the handler gives up at its next piece
    assert body.sent < 64 * MiB  # far from a gigabyte: the client hung up


def test_a_drip_of_one_byte_a_second_times_out(make_site: Callable[..., Site]) -> None:
    site = make_site(timeout=1)
    before = site.good_first()
    site.serve(drip(GOOD, interval=0.5))  # every read answers in time; the whole never does
    assert_failed(site, before, site.poll(), r"^no complete answer within 1 s \(\[fetch\] timeout\)$")


def test_headers_then_a_stall_times_out(make_site: Callable[..., Site]) -> None:
    site = make_site(timeout=1)
    before = site.good_first()
    site.serve(stall_after_headers(len(GOOD)))
    assert_failed(site, before, site.poll(),
                  r"^(no complete answer within 1 s \(\[fetch\] timeout\)"
                  r"|127\.0\.0\.1 stopped answering: .*)$")


def test_a_redirect_loop_is_cut(site: Site) -> None:
    before = site.good_first()
    site.serve(redirect("/loop-a"))
    site.server.route("/loop-a", redirect("/loop-b", 301))
    site.server.route("/loop-b", redirect("/feed.xml", 307))
    assert_failed(site, before, site.poll(), r"^redirect loop: .*/feed\.xml was already visited$")
    assert site.server.paths()[1:] == ["/feed.xml", "/loop-a", "/loop-b"]


def test_an_endless_redirect_chain_is_cut(site: Site) -> None:
    before = site.good_first()

    def next_hop(request: Any) -> Reply:
        n = int(request.path.partition("=")[2] or 0)
        return redirect(f"/chain?n={n + 1}")

    site.serve(next_hop)
    site.server.route("/chain", next_hop)
    assert_failed(site, before, site.poll(), r"^more than 3 redirects \(\[fetch\] max_redirects\)$")
    assert len(site.server.paths()) == 1 + 4


@pytest.mark.parametrize(("target", "why"), [
    ("file:///etc/passwd", r"only http:// and https:// URLs are fetched"),
    ("ftp://127.0.0.1/feed.xml", r"only http:// and https:// URLs are fetched"),
    ("http://169.254.169.254/latest/meta-data/", r"169\.254\.169\.254 is a link-local"),
    ("http://[::ffff:169.254.169.254]/latest/meta-data/", r"is a link-local"),
    ("http://2852039166/latest/meta-data/", r"169\.254\.169\.254 is a link-local"),
    ("http://10.0.0.1/feed.xml", r"10\.0\.0\.1 is a private address \(a redirect off the configured host"),
    ("http://127.0.0.2:{port}/feed.xml", r"127\.0\.0\.2 is a loopback address \(a redirect off the configured host"),
    ("http://localhost:{port}/feed.xml", r"is a loopback address \(a redirect off the configured host"),
    ("http://0.0.0.0:{port}/feed.xml", r"0\.0\.0\.0 is a multicast or unspecified address"),
], ids=["file", "ftp", "metadata", "metadata-ipv6-mapped", "metadata-decimal", "private",
        "other-loopback", "localhost", "unspecified"])
def test_redirects_off_the_configured_host_are_refused(site: Site, connects: list[Any],
                                                      target: str, why: str) -> None:
    """allow_private admits 127.0.0.1 as configured, and no other private host (DESIGN §4)."""
    before = site.good_first()
    connects.clear()
    site.serve(redirect(target.format(port=site.server.port)))
    error = assert_failed(site, before, site.poll(), why)
    assert error.startswith("refused ")
    assert site.server.paths() == ["/feed.xml", "/feed.xml"]
    assert {a[:2] for a in connects} <= {("127.0.0.1", site.server.port)}


# -- entries: many, repeated, long, broken ------------------------------------------------


def rss(*items: str) -> bytes:
    return ('<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            "<title>Hostile</title><link>http://127.0.0.1/</link><description>d</description>\n"
            + "\n".join(items) + "\n</channel></rss>").encode("utf-8")


def entry(guid: str | None = None, *, title: str | None = None, link: str | None = None,
          description: str | None = None, date: str | None = None, extra: str = "") -> str:
    parts = [f'<guid isPermaLink="false">{guid}</guid>' if guid is not None else "",
             f"<title>{title}</title>" if title is not None else "",
             f"<link>{link}</link>" if link is not None else "",
             f"<description>{description}</description>" if description is not None else "",
             f"<pubDate>{date}</pubDate>" if date is not None else "", extra]
    return "<item>" + "".join(parts) + "</item>"


def test_fifty_thousand_entries_keep_max_items(make_site: Callable[..., Site]) -> None:
    # 200, not the default 1,000: storing a thousand new copies takes seconds, and the
    # limit is the same code whatever its value
    site = make_site(max_bytes=16 * MiB, max_items_per_fetch=200)
    before = site.good_first()
    site.serve(static(rss(*(entry(f"many-{n}", title=f"Entry number {n}")
                            for n in range(50_000)))))
    with peak_memory() as peak:
        outcome = site.poll()
    new = assert_kept(site, before, outcome)
    assert set(new) == {f"many-{n}" for n in range(200)}  # the first max_items_per_fetch
    assert [w for w in outcome.warnings if "max_items is 200: kept the first 200" in w]
    assert peak.bytes < 128 * MiB


def test_repeated_guids_give_one_item_each(site: Site) -> None:
    before = site.good_first()
    site.serve(static(rss(
        entry("dup", title="First of the repeated"),
        *(entry("dup", title=f"Repeat {n}") for n in range(50)),
        entry(None, title="No guid, a link", link="http://127.0.0.1/same"),
        entry(None, title="No guid, the same link", link="http://127.0.0.1/same/"),
        entry("other", title="Another one"),
    )))
    outcome = site.poll()
    new = assert_kept(site, before, outcome)
    assert sorted(i.title for i in new.values()) == ["Another one", "First of the repeated",
                                                     "No guid, a link"]
    assert new["dup"].title == "First of the repeated"
    assert [w for w in outcome.warnings if "50 entries repeated an earlier guid" in w]


def test_titles_are_one_line_of_plain_text_at_most_1024_characters(site: Site) -> None:
    before = site.good_first()
    site.serve(static(rss(
        entry("crlf", title="Boat seized&#13;&#10;Bcc: victim@example.org&#13;&#10;&#13;&#10;"
                            "Subject: buy now&#x2029;Cc: x@example.org&#x2028;To: y&#x0b;z",
              extra="<author>a@example.org&#13;&#10;Bcc: b@example.org (Ann&#10;Lee)</author>"
                    "<category>ports&#13;&#10;Bcc: c@example.org</category>"),
        entry("long-words", title="smugglers " * 1000),
        entry("long-word", title="x" * 10_000),
        entry("long-markup", title="&lt;b&gt;" * 3000 + "bold" + "&lt;/b&gt;" * 3000),
    )))
    new = assert_kept(site, before, site.poll())
    for item in new.values():
        check_item(item)
        for text in (item.title, item.author or "", *item.categories):
            assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", text), repr(text)
    assert new["crlf"].title == ("Boat seized Bcc: victim@example.org Subject: buy now "
                                 "Cc: x@example.org To: y z")
    assert new["crlf"].categories == ("ports Bcc: c@example.org",)
    assert len(new["long-words"].title) <= MAX_TITLE and new["long-words"].title.endswith("…")
    assert len(new["long-word"].title) == MAX_TITLE
    assert new["long-markup"].title == "bold"
    files = site.publish()
    check_outputs(files)
    for story in json.loads(files["feed.json"])["items"]:
        assert "\n" not in story["title"] and "\r" not in story["title"]
        assert len(story["title"]) <= MAX_TITLE
    for title in ElementTree.fromstring(files["feed.xml"]).iter("title"):
        assert title.text and "\n" not in title.text and "\r" not in title.text


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_a_5_mb_description_is_cut_to_1_mib_everywhere(
        make_site: Callable[..., Site], request: pytest.FixtureRequest, db: str) -> None:
    db_url = request.getfixturevalue("pg_url") if db == "postgres" else None
    site = make_site(db_url, max_bytes=16 * MiB)
    before = site.good_first()
    five, over = 5 * MiB, 3 * MiB // 2  # the description, and every other field
    words = "Smugglers moved people across the border at night. "
    site.serve(static(rss(entry(
        "huge", title="A very long report", link="http://127.0.0.1/huge",
        description=html.escape("<p>" + words * (five // len(words)) + "</p>"),
        extra=("<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
               + html.escape("<p>" + "Boats left the coast before dawn. " * (over // 34)
                             + "</p>") + "</content:encoded>"
               + f"<category>{'c' * over}</category><author>{'a' * over}</author>"
               f'<enclosure url="http://127.0.0.1/{"e" * over}" type="audio/mpeg"/>')))))
    with peak_memory() as peak:
        outcome = site.poll()
    new = assert_kept(site, before, outcome)
    item = new["huge"]
    check_item(item)
    assert MiB // 2 < len(item.summary_html.encode("utf-8")) <= MAX_FIELD
    assert MiB // 2 < len(item.content_html.encode("utf-8")) <= MAX_FIELD
    assert item.enclosures == ()  # a link longer than 16 KiB leads nowhere
    # one run of letters: feedparser's own e-mail search in it would take days
    assert item.author == "a" * (MAX_TITLE - 1) + "…"
    assert item.categories == ("c" * (MAX_TITLE - 1) + "…",)
    assert peak.bytes < 512 * MiB
    check_outputs(site.publish())


def test_missing_guid_link_and_date(site: Site) -> None:
    before = site.good_first()
    site.serve(static(rss(
        entry(None, title="Only a title"),
        entry(None, link="http://127.0.0.1/only-a-link"),
        entry(None, description="Only a description, which becomes the title."),
        entry("only-a-guid"),
        "<item></item>",
        entry("guid-and-title", title="A guid and a title"),
    )))
    outcome = site.poll()
    new = assert_kept(site, before, outcome)
    by_title = {i.title: i for i in new.values()}
    # an entry with a guid and nothing else says nothing: left out
    assert set(by_title) == {"Only a title", "(untitled)", "A guid and a title",
                             "Only a description, which becomes the title."}
    untitled = by_title["(untitled)"]
    assert untitled.url == "http://127.0.0.1/only-a-link"
    assert untitled.guid == untitled.canonical_url == "https://127.0.0.1/only-a-link"
    assert by_title["Only a title"].guid.startswith("sha256:")
    assert all(i.published is None for i in new.values())  # the store dates them first seen
    stories = {s.title: s for s in site.service.store.list_stories(now=NOW)}
    assert all(stories[t].published == NOW for t in by_title)
    for item in new.values():
        check_item(item)
    check_outputs(site.publish())


def test_implausible_dates_are_the_time_first_seen(site: Site) -> None:
    before = site.good_first()
    soon = NOW + timedelta(hours=12)
    site.serve(static(rss(
        entry("d-1900", title="From 1900", date="Mon, 01 Jan 1900 00:00:00 GMT"),
        entry("d-1970", title="From the epoch", date="Thu, 01 Jan 1970 00:00:00 GMT"),
        entry("d-2999", title="From 2999", date="Tue, 01 Jan 2999 00:00:00 GMT"),
        entry("d-9999", title="From 9999", date="Fri, 31 Dec 9999 23:59:59 +0000"),
        entry("d-10000", title="From 10000", date="Sat, 01 Jan 10000 00:00:00 GMT"),
        entry("d-week", title="Next week", date=format_datetime(NOW + timedelta(days=7))),
        entry("d-junk", title="Junk date", date="the day after tomorrow, maybe"),
        entry("d-soon", title="In twelve hours", date=format_datetime(soon)),
    )))
    new = assert_kept(site, before, site.poll())
    dated = {g: i.published for g, i in new.items()}
    assert dated.pop("d-soon") == soon  # a publisher's clock or time zone a little off
    assert set(dated.values()) == {None}
    stories = {s.title: s for s in site.service.store.list_stories(now=NOW)}
    assert stories["From 2999"].published == NOW

    # a day later the far-future story has sunk below what is new
    site.clock.now = NOW + timedelta(days=1)
    site.serve(static(GOOD.replace(b"</channel>", entry(
        "later", title="A later story",
        date=format_datetime(NOW + timedelta(hours=20))).encode() + b"</channel>")))
    assert site.poll().error is None
    files = site.publish()
    check_outputs(files)
    items = json.loads(files["feed.json"])["items"]
    assert items[0]["title"] == "A later story"
    latest = NOW + timedelta(days=1)
    for story in items:
        published = datetime.fromisoformat(story["date_published"])
        assert datetime(1990, 1, 1, tzinfo=UTC) <= published <= latest, story["title"]
