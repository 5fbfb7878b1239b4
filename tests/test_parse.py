"""The parse stage against fixture files in tests/data/parse/.

Each case is an input file (``name.xml``, ``name.json``, ``name.html``) and, beside it,
``name.expected.json``: how to call the parser (``call``: feed, listing or page; ``url``,
``headers``, ``select``), then either ``error`` (a ParseError whose message contains
it) or the expected ``feed`` fields, ``warnings`` (each a substring, in order, and no
others), ``entries`` (every entry, listed fields only) or ``entry`` (for a page), and
optionally ``items`` (fields of ``normalize_entries`` on the result). A new case is
new files only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregator.errors import ParseError
from aggregator.models import (
    EntryData,
    FeedData,
    SelectRules,
    SourceDef,
    SourceKind,
)
from aggregator.normalize import normalize_entries
from aggregator.parse import parse_document, parse_feed, parse_listing, parse_page

DATA = Path(__file__).parent / "data" / "parse"
CASES = sorted(DATA.glob("*.expected.json"))
NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _input_for(expected: Path) -> Path:
    stem = expected.name.removesuffix(".expected.json")
    (found,) = [p for p in DATA.glob(stem + ".*") if p != expected]
    return found


def _plain(value: Any) -> Any:
    """Dataclass values as the JSON in the expectation files writes them."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _check_fields(actual: object, expected: dict[str, Any], what: str) -> None:
    fields = asdict(actual)  # type: ignore[call-overload]
    for key, want in expected.items():
        assert key in fields, f"{what}: no field {key!r}"
        assert _plain(fields[key]) == want, f"{what}.{key}"


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_fixture(case: Path) -> None:
    spec = json.loads(case.read_text(encoding="utf-8"))
    content = _input_for(case).read_bytes()
    url, headers = spec["url"], spec.get("headers")
    select = SelectRules(**spec["select"]) if "select" in spec else None
    call = spec["call"]

    def run() -> FeedData | EntryData:
        if call == "feed":
            return parse_feed(content, url, headers)
        if call == "listing":
            assert select is not None
            return parse_listing(content, url, select, headers)
        return parse_page(content, url, select, headers)

    if "error" in spec:
        with pytest.raises(ParseError) as info:
            run()
        assert spec["error"] in str(info.value)
        assert info.value.url == url
        return

    result = run()
    if call == "page":
        assert isinstance(result, EntryData)
        _check_fields(result, spec["entry"], "entry")
        return
    assert isinstance(result, FeedData)
    _check_fields(result, spec.get("feed", {}), "feed")
    if "warnings" in spec:
        assert len(result.warnings) == len(spec["warnings"]), result.warnings
        for got, want in zip(result.warnings, spec["warnings"], strict=True):
            assert want in got
    assert len(result.entries) == len(spec["entries"])
    for n, (entry, want) in enumerate(zip(result.entries, spec["entries"], strict=True)):
        _check_fields(entry, want, f"entries[{n}]")
    if "items" in spec:
        kind = SourceKind.HTML if call == "listing" else SourceKind.FEED
        items = normalize_entries(SourceDef(id="fixture", url=url, kind=kind), result, now=NOW)
        assert len(items) == len(spec["items"])
        for n, (item, want) in enumerate(zip(items, spec["items"], strict=True)):
            _check_fields(item, want, f"items[{n}]")


# -- what does not fit a fixture file --------------------------------------------------


def _rss(items: str, head: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>t</title>{head}{items}</channel></rss>").encode()


def test_max_items_keeps_the_first_of_50000() -> None:
    items = "".join(f"<item><title>Story {i}</title><guid>id-{i}</guid></item>"
                    for i in range(50_000))
    feed = parse_feed(_rss(items, head="<ttl>30</ttl>"), "https://example.com/big.xml",
                      max_items=1000)
    assert [e.guid for e in feed.entries] == [f"https://example.com/id-{i}" for i in range(1000)]
    assert feed.warnings == ("max_items is 1000: kept the first 1000 entries, dropped 49000 more",)
    assert feed.ttl == 1800


def test_max_items_with_repeated_guids_and_trailing_channel_data() -> None:
    # the cut before parsing must keep what follows the last item
    items = "".join(f'<item><guid isPermaLink="false">g{i // 2}</guid></item>'
                    for i in range(100))
    doc = _rss(items + "<language>de</language>")
    feed = parse_feed(doc, "https://example.com/f.xml", max_items=10)
    assert [e.guid for e in feed.entries] == [f"g{i}" for i in range(10)]
    assert feed.language == "de"
    assert not any("not well-formed" in w for w in feed.warnings)
    assert any("dropped 81 more" in w for w in feed.warnings)  # 19 read, 81 not


def test_parse_error_chains_the_cause() -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(b"this is not <xml", "https://example.com/f")
    assert "not a feed" in str(info.value)
    assert info.value.__cause__ is not None


@pytest.mark.parametrize("body", [b"[1, 2]", b'{"items": 3}', b"{not json"])
def test_json_that_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match="not a feed"):
        parse_feed(body, "https://example.com/feed.json", {"content-type": "application/json"})


def test_empty_json_feed_is_a_feed() -> None:
    feed = parse_feed(b'{"version": "https://jsonfeed.org/version/1", "items": []}',
                      "https://example.com/feed.json")
    assert feed.format == "json10"
    assert feed.entries == ()


def test_parse_document_dispatches_on_kind() -> None:
    page = b'<html><body><div class="e"><a href="/x">X</a></div></body></html>'
    rules = SelectRules(item="div.e", title="a", link="a")
    html_source = SourceDef(id="h", url="https://example.com/", kind=SourceKind.HTML,
                            select=rules)
    listing = parse_document(html_source, "https://example.com/", page, {}, max_items=5)
    assert listing.format == "html"
    assert listing.entries[0].link == "https://example.com/x"

    feed_source = SourceDef(id="f", url="https://example.com/rss")
    feed = parse_document(feed_source, "https://example.com/rss", _rss(""), None, max_items=5)
    assert feed.format == "rss20"

    with pytest.raises(ParseError, match="select"):
        parse_document(SourceDef(id="h2", url="https://example.com/", kind=SourceKind.HTML),
                       "https://example.com/", page, None, max_items=5)


def test_listing_whose_item_selector_matches_nothing() -> None:
    rules = SelectRules(item="div.gone", title="a", link="a")
    with pytest.raises(ParseError, match=r"div\.gone"):
        parse_listing(b"<html><body><p>Maintenance</p></body></html>",
                      "https://example.com/", rules)


def test_listing_max_items() -> None:
    page = "".join(f'<li><a href="/{i}">Story {i}</a></li>' for i in range(30))
    rules = SelectRules(item="li", title="a", link="a")
    feed = parse_listing(f"<ul>{page}</ul>".encode(), "https://example.com/", rules,
                         max_items=10)
    assert len(feed.entries) == 10
    assert feed.warnings == ("max_items is 10: kept the first 10 items, dropped 20 more",)


def test_listing_decodes_utf8_by_default_with_replacement() -> None:
    rules = SelectRules(item="li", title="a", link="a")
    feed = parse_listing('<ul><li><a href="/1">Côte d\'Ivoire</a></li></ul>'.encode()
                         + b"<p>\xff</p>", "https://example.com/", rules)
    assert feed.entries[0].title == "Côte d'Ivoire"


def test_page_that_is_empty() -> None:
    with pytest.raises(ParseError, match="empty"):
        parse_page(b"  \n", "https://example.com/p", None)


def test_the_body_decides_between_json_and_xml() -> None:
    rss = parse_feed(_rss("<item><title>x</title></item>"), "https://example.com/f",
                     {"content-type": "application/json"})
    assert rss.format == "rss20"
    json_feed = parse_feed(b'{"version": "https://jsonfeed.org/version/1.1", "items": []}',
                           "https://example.com/f", {"content-type": "text/xml"})
    assert json_feed.format == "json11"
