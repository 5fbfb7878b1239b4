"""OPML: ``sources.opml`` as rendered, and reading the exports of real feed readers.

Each case in tests/data/opml/ is ``name.opml`` and, beside it, ``name.expected.json``:
``description``, optionally ``base_url``, and either ``feeds`` (the rows
:func:`parse_opml` returns, in order) or ``error`` (the start of the one-line
:class:`ParseError` message). A new case is two new files.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from aggregator.config import SiteConfig
from aggregator.errors import ParseError
from aggregator.models import SelectRules, Source, SourceDef, SourceKind
from aggregator.parse.opml import OpmlFeed, parse_opml
from aggregator.publish.opml import render_opml

DATA = Path(__file__).parent / "data" / "opml"
CASES = sorted(DATA.glob("*.expected.json"))
SITE = SiteConfig(title="Desk & Co <news>", url="https://news.example.org/")
UPDATED = datetime(2026, 11, 28, 12, 0, 30, 123456, tzinfo=UTC)


def source(sid: str, url: str, title: str = "", *, kind: SourceKind = SourceKind.FEED,
           **kw: object) -> Source:
    select = SelectRules(item="li", title="a", link="a") if kind is SourceKind.HTML else None
    return Source(definition=SourceDef(id=sid, url=url, kind=kind, title=title, select=select),
                  **kw)  # type: ignore[arg-type]


SOURCES = [
    source("unodc", "https://www.unodc.org/feed.xml?lang=en&type=news", 'UNODC "news" & <events>'),
    source("europol", "https://www.europol.europa.eu/rss/news", "Europol",
           effective_url="https://www.europol.europa.eu/cms/rss/news"),
    source("un-news", "https://news.un.org/rss.xml", "UN News"),
    source("old", "https://old.example/rss", "Switched off", enabled=False),
    source("unodc-ms-news", "https://www.unodc.org/unodc/en/human-trafficking/news.html",
           "UNODC migrant smuggling news", kind=SourceKind.HTML),
    source("no-title", "https://untitled.example/feed"),
]


# -- reading: the data files ------------------------------------------------------------


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("expected_file", CASES,
                         ids=lambda p: p.name.removesuffix(".expected.json"))
def test_opml_case(expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    content = expected_file.with_name(
        expected_file.name.replace(".expected.json", ".opml")).read_bytes()
    base_url = expected.get("base_url")
    if "error" in expected:
        with pytest.raises(ParseError) as info:
            parse_opml(content, base_url=base_url, origin=expected_file.name)
        message = str(info.value)
        assert message.startswith(expected["error"]), expected["description"]
        assert "\n" not in message
        assert info.value.url == expected_file.name
        return
    feeds = parse_opml(content, base_url=base_url)
    assert [dataclasses.asdict(f) for f in feeds] == expected["feeds"], expected["description"]


def test_the_reader_shapes_are_all_there() -> None:
    names = {p.name.removesuffix(".expected.json") for p in CASES}
    assert {"feedly", "inoreader", "miniflux", "netnewswire", "thunderbird"} <= names


# -- reading: safety and errors ----------------------------------------------------------


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-7f3a", encoding="utf-8")
    return path


@pytest.mark.parametrize("template", [
    # general entity in text and in an attribute
    '<!DOCTYPE opml [<!ENTITY x SYSTEM "{uri}">]><opml><head><title>&x;</title></head>'
    '<body><outline text="&x;" xmlUrl="https://a.example/rss"/></body></opml>',
    # parameter entity that would pull the file into the DTD
    '<!DOCTYPE opml [<!ENTITY % p SYSTEM "{uri}"> %p;]><opml><body>'
    '<outline text="a" xmlUrl="https://a.example/rss"/></body></opml>',
], ids=["general-entity", "parameter-entity"])
def test_xxe_never_reads_the_file(secret: Path, template: str) -> None:
    content = template.replace("{uri}", secret.as_uri()).encode()
    with pytest.raises(ParseError, match="declares XML entities") as info:
        parse_opml(content)
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize("where", ["<head><title>&x;</title></head>",
                                   '<body><outline text="&x;" xmlUrl="https://a.example/"/></body>'],
                         ids=["in-text", "in-attribute"])
def test_xxe_in_utf16_is_refused_too(secret: Path, where: str) -> None:
    # the byte check cannot see "<!ENTITY" in UTF-16; the parser must not read it either
    doc = (f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY x SYSTEM '
           f'"{secret.as_uri()}">]><opml>{where}</opml>')
    with pytest.raises(ParseError) as info:
        parse_opml(doc.encode("utf-16"))
    assert "TOP-SECRET" not in str(info.value)


def test_internal_entities_in_utf16_are_refused() -> None:
    doc = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY x "injected">]>'
           '<opml><body><outline text="a&x;" xmlUrl="https://a.example/"/></body></opml>')
    with pytest.raises(ParseError, match="declares XML entities"):
        parse_opml(doc.encode("utf-16"))


def test_an_external_dtd_is_not_loaded(secret: Path) -> None:
    doc = (f'<?xml version="1.0"?><!DOCTYPE opml SYSTEM "{secret.as_uri()}">'
           '<opml><body><outline text="a" xmlUrl="https://a.example/rss"/></body></opml>')
    feeds = parse_opml(doc.encode())
    assert feeds == [OpmlFeed("https://a.example/rss", "a", None, None)]


def test_errors_are_chained_and_name_the_document() -> None:
    with pytest.raises(ParseError) as info:
        parse_opml(b"<opml><body>", base_url="https://lists.example/subs.opml")
    assert info.value.url == "https://lists.example/subs.opml"
    assert isinstance(info.value.__cause__, etree.XMLSyntaxError)
    with pytest.raises(ParseError) as info:
        parse_opml(b"<opml><body>", base_url="https://lists.example/subs.opml",
                   origin="/home/jane/subs.opml")
    assert info.value.url == "/home/jane/subs.opml"


def test_a_repair_that_does_not_help_reports_what_is_left() -> None:
    # the bare "&" is repaired; the missing end tag is what the user has to fix
    with pytest.raises(ParseError, match=r"not well-formed XML \(.*mismatch.*line 2"):
        parse_opml(b'<opml><body>\n<outline xmlUrl="http://a.example/?a=1&b=2"></body></opml>')


# -- writing ------------------------------------------------------------------------------


def test_render_is_opml_2_with_head_and_sorted_enabled_sources() -> None:
    root = etree.fromstring(render_opml(SITE, SOURCES, updated=UPDATED))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Desk & Co <news> — sources"
    assert root.findtext("head/dateModified") == "Sat, 28 Nov 2026 12:00:30 GMT"
    assert root.findtext("head/docs") == "http://opml.org/spec2.opml"
    outlines = root.findall("body/outline")
    assert [o.get("text") for o in outlines] == [
        "Europol", "no-title", "UN News", 'UNODC "news" & <events>',
        "UNODC migrant smuggling news"]  # by id: europol, no-title, un-news, unodc, unodc-ms-news
    assert all(len(o) == 0 for o in outlines)  # flat


def test_feed_sources_are_rss_outlines_at_their_current_address() -> None:
    root = etree.fromstring(render_opml(SITE, SOURCES, updated=UPDATED))
    by_text = {o.get("text"): o for o in root.iter("outline")}
    europol = by_text["Europol"]
    assert dict(europol.attrib) == {"type": "rss", "text": "Europol", "title": "Europol",
                                    "xmlUrl": "https://www.europol.europa.eu/cms/rss/news"}
    assert by_text['UNODC "news" & <events>'].get("xmlUrl") == (
        "https://www.unodc.org/feed.xml?lang=en&type=news")


def test_html_sources_are_link_outlines_without_xml_url() -> None:
    root = etree.fromstring(render_opml(SITE, SOURCES, updated=UPDATED))
    listing = next(o for o in root.iter("outline") if o.get("type") == "link")
    url = "https://www.unodc.org/unodc/en/human-trafficking/news.html"
    assert dict(listing.attrib) == {"type": "link", "text": "UNODC migrant smuggling news",
                                    "title": "UNODC migrant smuggling news", "url": url,
                                    "htmlUrl": url}


def test_round_trip_render_then_parse() -> None:
    feeds = parse_opml(render_opml(SITE, SOURCES, updated=UPDATED))
    assert feeds == [
        OpmlFeed("https://www.europol.europa.eu/cms/rss/news", "Europol", None, None),
        OpmlFeed("https://untitled.example/feed", "no-title", None, None),
        OpmlFeed("https://news.un.org/rss.xml", "UN News", None, None),
        OpmlFeed("https://www.unodc.org/feed.xml?lang=en&type=news", 'UNODC "news" & <events>',
                 None, None),
    ]  # the html source is listed for people, not offered as a feed


def test_render_escapes_markup_and_drops_characters_xml_cannot_hold() -> None:
    odd = source("odd", "https://odd.example/rss?a=1&b=<2>", "Bell\x07 and\nnew line ]]> &amp;")
    data = render_opml(SITE, [odd], updated=UPDATED)
    assert b"&amp;amp;" in data and b"\x07" not in data and b"]]&gt;" in data
    assert parse_opml(data) == [
        OpmlFeed("https://odd.example/rss?a=1&b=<2>", "Bell and new line ]]> &amp;", None, None)]


def test_render_is_deterministic_and_uses_the_date_given() -> None:
    first = render_opml(SITE, SOURCES, updated=UPDATED)
    assert render_opml(SITE, list(reversed(SOURCES)), updated=UPDATED) == first
    later = render_opml(SITE, SOURCES, updated=UPDATED + timedelta(days=1))
    assert later != first and b"Sun, 29 Nov 2026 12:00:30 GMT" in later
    local = UPDATED.astimezone(timezone(timedelta(hours=-5)))
    assert render_opml(SITE, SOURCES, updated=local) == first
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<opml")


def test_render_with_no_sources_still_imports() -> None:
    data = render_opml(SITE, [], updated=UPDATED)
    assert etree.fromstring(data).find("body") is not None
    assert parse_opml(data) == []
