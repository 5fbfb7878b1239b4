"""The normalize stage: table-driven cases for each helper, then whole entries."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import html as lxml_html

from aggregator.models import Enclosure, EntryData, FeedData, SourceDef
from aggregator.normalize import (
    MAX_FIELD,
    MAX_TITLE,
    canonical_url,
    choose_guid,
    clean_title,
    normalize_date,
    normalize_entries,
    plain_text,
    sanitize_html,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
UNODC = [["www.unodc.org", "unodc.org", "css.unodc.org"]]
BASE = "https://www.example.org/news/2024/item.html"

# -- canonical_url ---------------------------------------------------------------------

CANONICAL = [
    # (url, expected)
    ("http://www.unodc.org/unodc/en/", "https://unodc.org/unodc/en"),
    ("https://css.unodc.org/unodc/en", "https://unodc.org/unodc/en"),
    ("HTTP://UNODC.ORG/unodc/en/index.html", "https://unodc.org/unodc/en"),
    ("https://www.unodc.org/unodc/en/index.htm#top", "https://unodc.org/unodc/en"),
    ("https://example.org/a/index.php?id=3", "https://example.org/a?id=3"),
    ("http://Example.COM:80", "https://example.com/"),
    ("https://example.com:443/", "https://example.com/"),
    ("http://example.com:8080/x/", "https://example.com:8080/x"),
    ("https://example.com/story?utm_source=rss&utm_medium=feed&b=2&a=1",
     "https://example.com/story?a=1&b=2"),
    ("https://example.com/s?fbclid=1&gclid=2&dclid=3&msclkid=4&mc_cid=5&mc_eid=6&_ga=7"
     "&_hsenc=8&_hsmi=9&igshid=10&ref_src=11&yclid=12&UTM_Campaign=13&keep=yes",
     "https://example.com/s?keep=yes"),
    ("https://example.com/%7euser/%2f%c3%a9?q=%e2%82%ac", "https://example.com/~user/%2F%C3%A9?q=%E2%82%AC"),
    ("https://example.com/é path", "https://example.com/%C3%A9%20path"),
    ("https://example.com/100%", "https://example.com/100%25"),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("https://user:secret@example.com/a", "https://example.com/a"),
    ("https://example.com", "https://example.com/"),
    ("https://www.example.com/a//", "https://example.com/a"),
    ("  https://example.com/a  ", "https://example.com/a"),
    ("http://[2001:db8::1]:8080/x", "https://[2001:db8::1]:8080/x"),
    ("ftp://example.com/file", None),
    ("mailto:press@example.com", None),
    ("javascript:alert(1)", None),
    ("/relative/path", None),
    ("http://[::1", None),
    ("", None),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL)
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url, UNODC) == expected


def test_canonical_url_without_aliases_keeps_other_hosts_apart() -> None:
    assert canonical_url("https://css.unodc.org/x") == "https://css.unodc.org/x"
    assert canonical_url("https://www.unodc.org/x") == "https://unodc.org/x"


def test_canonical_url_alias_group_first_host_with_www() -> None:
    groups = [("www.un.org", "news.un.org")]
    assert canonical_url("https://news.un.org/en/story", groups) == "https://un.org/en/story"


def test_canonical_url_is_idempotent() -> None:
    for url, expected in CANONICAL:
        if expected:
            assert canonical_url(expected, UNODC) == expected, url


# -- clean_title -----------------------------------------------------------------------

TITLES = [
    ("Plain title", "Plain title"),
    ("Title\r\nBcc: victim@example.com", "Title Bcc: victim@example.com"),
    ("Subject\nContent-Type: text/html\r\n\r\n<script>x</script>", "Subject Content-Type: text/html"),
    ("&lt;script&gt;alert(1)&lt;/script&gt;News", "News"),
    ("&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;News", "News"),
    ("<b>Bold</b> &amp; <i>italic</i>", "Bold & italic"),
    ("Smuggling &lt;em&gt;networks&lt;/em&gt;", "Smuggling networks"),
    ("<p>One</p><p>Two</p>", "One Two"),
    ("AT&T", "AT&T"),
    ("Fewer < more > less", "Fewer < more > less"),
    ("  spaced\tout\u00a0words  ", "spaced out words"),
    ("nul\x00 and escape\x1b and line\u2028sep", "nul and escape and line sep"),
    ("<style>h1{}</style>Styled", "Styled"),
    ("<![CDATA[Hidden]]>Shown", "Shown"),
    ("", ""),
    (None, ""),
]


@pytest.mark.parametrize(("raw", "expected"), TITLES)
def test_clean_title(raw: str | None, expected: str) -> None:
    assert clean_title(raw) == expected


def test_clean_title_10kb_is_cut_at_a_word() -> None:
    title = clean_title("smuggling " * 1024)  # 10 KiB
    assert len(title) <= MAX_TITLE
    assert title.endswith("smuggling…")


def test_clean_title_deeply_escaped_has_no_tag_left() -> None:
    raw = "<b>x</b>"
    for _ in range(20):
        raw = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert "<" not in clean_title(raw) and ">" not in clean_title(raw)


# -- normalize_date --------------------------------------------------------------------

DATES = [
    # (parsed, text, expected)
    (None, "06/10/2010", datetime(2010, 10, 6, tzinfo=UTC)),
    (None, "06.10.2010 14:30", datetime(2010, 10, 6, 14, 30, tzinfo=UTC)),
    (None, "10/25/2010", datetime(2010, 10, 25, tzinfo=UTC)),  # only month-first works
    (None, "2013-04-26 15:41:29.0", datetime(2013, 4, 26, 15, 41, 29, tzinfo=UTC)),
    (None, "26 April 2013", datetime(2013, 4, 26, tzinfo=UTC)),
    (None, "Male, 7 April 2022 -", datetime(2022, 4, 7, tzinfo=UTC)),
    (None, "Vienna (Austria), 3rd March 2015: UNODC", datetime(2015, 3, 3, tzinfo=UTC)),
    (None, "April 7, 2022", datetime(2022, 4, 7, tzinfo=UTC)),
    (None, "5 de abril de 2021", datetime(2021, 4, 5, tzinfo=UTC)),
    (None, "1er mars 2020", datetime(2020, 3, 1, tzinfo=UTC)),
    (None, "7 апреля 2022 г.", datetime(2022, 4, 7, tzinfo=UTC)),
    (None, "Tue, 05 Mar 2024 09:30:00 +0100", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    (None, "Thu, 12 May 2016 10:00:00 EST", datetime(2016, 5, 12, 15, 0, tzinfo=UTC)),
    (None, "2024-03-05T09:30:00+01:00", datetime(2024, 3, 5, 8, 30, tzinfo=UTC)),
    (None, "2024-03-05T09:30:00Z", datetime(2024, 3, 5, 9, 30, tzinfo=UTC)),
    (None, "2024-03-05", datetime(2024, 3, 5, tzinfo=UTC)),
    (None, "2010/10/06", datetime(2010, 10, 6, tzinfo=UTC)),
    (None, "2010/10/06 08:15", datetime(2010, 10, 6, 8, 15, tzinfo=UTC)),
    (None, "1900-01-01", None),
    (None, "1989-12-31T23:59:59Z", None),
    (None, "2999-01-01", None),
    (None, "2024-06-04", None),  # more than two days after NOW
    (None, "2024-06-03", datetime(2024, 6, 3, tzinfo=UTC)),
    (None, "garbage", None),
    (None, "April 2013", None),  # no day: not a date we can place
    (None, "12", None),
    (None, "31/02/2020", None),
    (None, "", None),
    (None, None, None),
    # the parser's value wins over the text; naive is UTC; any zone becomes UTC
    (datetime(2020, 1, 1, 12, 0), "06/10/2010", datetime(2020, 1, 1, 12, 0, tzinfo=UTC)),
    (datetime(2020, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), None,
     datetime(2020, 1, 1, 10, 0, tzinfo=UTC)),
    (datetime(1900, 1, 1, tzinfo=UTC), "06/10/2010", None),
    (datetime(2999, 1, 1, tzinfo=UTC), None, None),
]


@pytest.mark.parametrize(("parsed", "text", "expected"), DATES)
def test_normalize_date(parsed: datetime | None, text: str | None,
                        expected: datetime | None) -> None:
    value = normalize_date(parsed, text, now=NOW)
    assert value == expected
    if value is not None:
        assert value.tzinfo is UTC


# -- sanitize_html ---------------------------------------------------------------------

SANITIZE = [
    # (html, expected)
    ("<p>Hello <b>world</b></p>", "<p>Hello <b>world</b></p>"),
    ("<script>alert(1)</script>ok", "ok"),
    ("<SCRIPT type=module>import x</SCRIPT>ok", "ok"),
    ("<style>p{color:red}</style>ok", "ok"),
    ("<iframe src='https://evil.example'>fallback</iframe>ok", "ok"),
    ("<object data='x.swf'><param name=a value=b></object>ok", "ok"),
    ("<embed src='x.swf'>ok", "ok"),
    ("<svg><script>alert(1)</script><text>drawn</text></svg>ok", "ok"),
    ("<math><mi>x</mi></math>ok", "ok"),
    ("<noscript><img src=lazy.png></noscript>ok", "ok"),
    ("<form action=/x><input name=q><button>Go</button></form>", " Go "),
    ("<meta http-equiv=refresh content='0;url=https://evil'>ok", "ok"),
    ("<p onclick='x()' onmouseover=y style='color:red' class=c id=i>p</p>", "<p>p</p>"),
    ("<img src=pic.png onerror=alert(1) alt=Pic width=10 height=20 class=x>",
     '<img src="https://www.example.org/news/2024/pic.png" alt="Pic" width="10" height="20">'),
    ('<a href="javascript:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href="JaVaScRiPt:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href="jav&#x09;ascript:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href="jav\nascript:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href="&#106;avascript:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href=" &#14;javascript:alert(1)">j</a>', '<a rel="noopener noreferrer nofollow">j</a>'),
    ('<a href="vbscript:msgbox(1)">v</a>', '<a rel="noopener noreferrer nofollow">v</a>'),
    ('<a href="data:text/html,<script>alert(1)</script>">d</a>',
     '<a rel="noopener noreferrer nofollow">d</a>'),
    ('<img src="data:image/png;base64,iVBORw0KGgo=">', "<img>"),
    ('<a href="../about.html" title="About">rel</a>',
     '<a href="https://www.example.org/news/about.html" title="About" '
     'rel="noopener noreferrer nofollow">rel</a>'),
    ('<a href="//cdn.example.net/x">p</a>',
     '<a href="https://cdn.example.net/x" rel="noopener noreferrer nofollow">p</a>'),
    ('<a href="mailto:press@example.org">m</a>',
     '<a href="mailto:press@example.org" rel="noopener noreferrer nofollow">m</a>'),
    ('<a href="x" target="_blank" rel="opener">t</a>',
     '<a href="https://www.example.org/news/2024/x" rel="noopener noreferrer nofollow">t</a>'),
    ('<base href="https://evil.example/"><a href="x">x</a>',
     '<a href="https://www.example.org/news/2024/x" rel="noopener noreferrer nofollow">x</a>'),
    ("<h1>Title</h1><h2>Sub</h2>", "<h2>Title</h2><h2>Sub</h2>"),
    ('<table><tr><th rowspan=2 style="x">h</th><td colspan=2 onclick=x>c</td></tr></table>',
     '<table><tbody><tr><th rowspan="2">h</th><td colspan="2">c</td></tr></tbody></table>'),
    ('<abbr title="UN Office on Drugs and Crime" lang=en>UNODC</abbr>',
     '<abbr title="UN Office on Drugs and Crime">UNODC</abbr>'),
    ("<div>Country: Libya</div><div>Source: UNHCR</div>", " Country: Libya  Source: UNHCR "),
    ("<!-- a comment --><p>c</p>", "<p>c</p>"),
    ("a < b & c", "a &lt; b &amp; c"),
    ("", ""),
]


@pytest.mark.parametrize(("html", "expected"), SANITIZE)
def test_sanitize_html(html: str, expected: str) -> None:
    assert sanitize_html(html, BASE) == expected


@pytest.mark.parametrize(("html", "expected"), SANITIZE)
def test_sanitize_html_is_idempotent(html: str, expected: str) -> None:
    once = sanitize_html(html, BASE)
    assert sanitize_html(once, BASE) == once


def test_sanitize_html_without_base_drops_relative_links() -> None:
    assert sanitize_html('<a href="x">x</a><img src="y">', None) == (
        '<a rel="noopener noreferrer nofollow">x</a><img>')
    assert sanitize_html('<a href="https://a.example/">a</a>', "not a url") == (
        '<a href="https://a.example/" rel="noopener noreferrer nofollow">a</a>')


# -- plain_text ------------------------------------------------------------------------

PLAIN = [
    ("<p>One</p><p>Two&nbsp;&amp; three</p>", "One Two & three"),
    ("line<br>break", "line break"),
    ("<ul><li>a</li><li>b</li></ul>", "a b"),
    ("in<b>line</b> stays", "inline stays"),
    ("<script>x()</script><style>p{}</style>text", "text"),
    ("  \n\t ", ""),
]


@pytest.mark.parametrize(("html", "expected"), PLAIN)
def test_plain_text(html: str, expected: str) -> None:
    assert plain_text(html) == expected


def test_ascii_text_without_markup_is_not_parsed_and_comes_out_the_same() -> None:
    """Stripping tags skips the HTML parser for ASCII text with no "<", "&", CR or NUL,
    the only characters parsing changes: every other character, alone and in company,
    comes back from the parser as it went in."""
    import random

    from aggregator.normalize import _HTML_SIGNIFICANT, _strip_tags
    from aggregator.normalize import _parsed_text as parsed

    inert = [chr(i) for i in range(128) if chr(i) not in _HTML_SIGNIFICANT]
    rnd = random.Random(4)
    texts = [t for c in inert for t in (c, f"a{c}b", c * 3, f" {c}", f"{c} x")]
    texts += ["".join(rnd.choice(inert) for _ in range(rnd.randint(0, 40))) for _ in range(3000)]
    for text in texts:
        assert _strip_tags(text) == parsed(text) == text
    for text in ("a\rb", "a\x00b", "a &amp; b", "x<b>y</b>", "café <i>x</i>"):
        assert _strip_tags(text) == parsed(text) != text


# -- whole entries ---------------------------------------------------------------------

SOURCE = SourceDef(id="unodc-press", url="https://www.unodc.org/feed.xml")


def _normalize(*entries: EntryData, language: str | None = None) -> list:
    feed = FeedData(url="https://www.unodc.org/feed.xml", format="rss20",
                    language=language, entries=entries)
    return normalize_entries(SOURCE, feed, now=NOW, host_aliases=UNODC)


def _hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


GUIDS = [
    # (entry, expected guid): guid, else canonical link, else hash of title + summary
    (EntryData(guid="  urn:x:1  ", link="http://www.unodc.org/a/", title="T"), "urn:x:1"),
    (EntryData(guid="g" * 512, title="T"), "g" * 512),
    (EntryData(guid="g" * 513, title="T"), _hash("g" * 513)),
    (EntryData(guid="   ", link="http://css.unodc.org/a/?utm_source=x", title="T"),
     "https://unodc.org/a"),
    (EntryData(link="http://www.unodc.org/a/index.html", title="T"), "https://unodc.org/a"),
    (EntryData(title="Some <b>Title</b>", summary="<p>The  Summary</p>",
               published_text="2024-01-01"), _hash("some title\nthe summary")),
    (EntryData(title="Only a title"), _hash("only a title\n")),
    (EntryData(link="ftp://example.com/x", title="T"), _hash("t\n")),
]


@pytest.mark.parametrize(("entry", "expected"), GUIDS)
def test_guid_fallback_order(entry: EntryData, expected: str) -> None:
    (item,) = _normalize(entry)
    assert item.guid == expected


def test_guid_hash_leaves_out_volatile_fields() -> None:
    a = EntryData(title="T", summary="S", published_text="2024-01-01", updated_text="x")
    b = EntryData(title="T", summary="S", published_text="2024-02-02", author="someone")
    assert _normalize(a)[0].guid == _normalize(b)[0].guid


def test_choose_guid_directly() -> None:
    assert choose_guid(None, None, "", "") == _hash("\n")
    assert choose_guid("", "https://e.com/", "t", "s") == "https://e.com/"


def test_item_fields() -> None:
    entry = EntryData(
        guid="press-1",
        link="/press/one.html?utm_campaign=x",
        title="<b>UNODC</b> &amp; partners\r\nmeet",
        summary='<p>Summary with <a href="more.html">more</a></p>',
        content="<h1>Full</h1><p>Text.</p><script>evil()</script>",
        base="https://www.unodc.org/unodc/en/press/feed.xml",
        published=None,
        published_text="Male, 7 April 2022 -",
        updated_text="2022-04-08T10:00:00Z",
        author="Press\nOffice <press@unodc.org>",
        categories=("Smuggling", "<b>Smuggling</b>", " ", "Libya"),
        enclosures=(Enclosure("/files/r.pdf", "application/pdf", 10),
                    Enclosure("javascript:alert(1)")),
        language="EN_gb",
    )
    (item,) = _normalize(entry, language="fr")
    assert item.source_id == "unodc-press"
    assert item.url == "https://www.unodc.org/press/one.html?utm_campaign=x"
    assert item.canonical_url == "https://unodc.org/press/one.html"
    assert item.title == "UNODC & partners meet"
    assert item.summary_html == ('<p>Summary with <a href="https://www.unodc.org/unodc/en/press/'
                                 'more.html" rel="noopener noreferrer nofollow">more</a></p>')
    assert item.content_html == "<h2>Full</h2><p>Text.</p>"
    assert item.text == "UNODC & partners meet Summary with more Full Text."
    assert item.published == datetime(2022, 4, 7, tzinfo=UTC)
    assert item.updated == datetime(2022, 4, 8, 10, 0, tzinfo=UTC)
    assert item.author == "Press Office"  # <press@unodc.org> reads as a tag and goes
    assert item.categories == ("Smuggling", "Libya")
    assert item.enclosures == (
        Enclosure("https://www.unodc.org/files/r.pdf", "application/pdf", 10),)
    assert item.language == "en"  # the primary subtag, checked against the text
    expected_hash = hashlib.sha256(
        b"unodc & partners meet\nunodc & partners meet summary with more full text."
    ).hexdigest()
    assert item.content_hash == expected_hash


def test_content_equal_to_summary_is_dropped_and_language_falls_back() -> None:
    (item,) = _normalize(EntryData(title="T", summary="<p>Same</p>", content="<p>Same</p>"),
                         language="fr")
    assert item.summary_html == "<p>Same</p>"
    assert item.content_html == ""
    assert item.language == "fr"


def test_published_falls_back_to_updated() -> None:
    (item,) = _normalize(EntryData(title="T", updated_text="2024-05-01T00:00:00Z"))
    assert item.published == item.updated == datetime(2024, 5, 1, tzinfo=UTC)


def test_untitled_entry_takes_its_text() -> None:
    words = "Smuggling of migrants " * 10
    (item,) = _normalize(EntryData(summary=f"<p>{words}</p>"))
    assert item.title.startswith("Smuggling of migrants Smuggling")
    assert len(item.title) <= 80 and item.title.endswith("…")
    (linked,) = _normalize(EntryData(link="https://example.com/x"))
    assert linked.title == "(untitled)"


def test_untitled_entry_with_escaped_script_text() -> None:
    (item,) = _normalize(EntryData(content="&lt;script&gt;evil&lt;/script&gt; content"))
    assert item.title == "content"


def test_entries_with_nothing_are_skipped_and_repeats_dropped() -> None:
    items = _normalize(
        EntryData(guid="only-a-guid", published_text="2024-01-01"),
        EntryData(summary="<script>only code</script>"),
        EntryData(link="https://www.unodc.org/a", title="first"),
        EntryData(link="https://unodc.org/a/", title="second copy of the same link"),
    )
    assert [i.title for i in items] == ["first"]


def test_caps_every_field_to_one_mib() -> None:
    huge = "<p>" + "<a href='x'>é</a> " * 200_000 + "</p>"  # ~3.8 MB of HTML
    (item,) = _normalize(EntryData(title="x" * 2 * MAX_FIELD, summary=huge, content=huge + "!",
                                   guid="g" * 2 * MAX_FIELD, author="a " * MAX_FIELD))
    for name in ("title", "summary_html", "content_html", "text", "guid", "author"):
        value = getattr(item, name)
        assert len(value.encode()) <= MAX_FIELD, name
    assert len(item.title) <= MAX_TITLE
    # the cut HTML is still whole HTML: every <a> closed, nothing escaped by accident
    doc = lxml_html.fragment_fromstring(item.summary_html, create_parent="div")
    assert doc.xpath("count(.//a)") > 1000
    assert sanitize_html(item.summary_html, "https://www.unodc.org/") == item.summary_html
