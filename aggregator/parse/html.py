"""Read HTML sources: listing pages through CSS selectors, and followed detail pages.

    bytes ─► decode (HTTP charset, <meta charset>, else UTF-8) ─► lxml.html
          ─► drop script/style ─► select.item ─► one EntryData per item

``parse_listing`` turns each ``select.item`` element of a listing page into an entry
(title, link, date text, summary HTML) and finds the next listing page.
``parse_page`` reads one followed page (full text, title, date). Links are made
absolute against the page URL, honouring ``<base href>``.

What it does not do: sanitize the HTML it extracts (nh3 in :mod:`aggregator.normalize`
does), parse dates (the text is kept for normalize), follow links or pages (the
pipeline decides what to fetch), or extract events.
"""

from __future__ import annotations

import codecs
import contextlib
import html
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
from cssselect import SelectorError
from lxml import etree
from lxml.cssselect import CSSSelector

from aggregator.errors import ParseError
from aggregator.models import EntryData, FeedData, SelectRules

__all__ = ["parse_listing", "parse_page"]

_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_META_CHARSET_RE = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?([\w.:-]+)""", re.I)
_XML_DECL_RE = re.compile(r"^\s*<\?xml[^>]*\?>")
#: WHATWG encoding rules: these labels mean windows-1252 in a browser, and
#: publishers write them while sending curly quotes in 0x80-0x9F.
_AS_WINDOWS_1252 = frozenset({"iso8859-1", "ascii"})  # codecs.lookup() names
#: where a page's text lives when the source names no content selector
_CONTENT_FALLBACKS = ("main", "article", "#content", "body")
_MAX_POSITIONS_LISTED = 10

_Selector = Callable[[Any], list[Any]]


def parse_listing(
    content: bytes,
    url: str,
    select: SelectRules,
    headers: Mapping[str, str] | None = None,
    *,
    max_items: int = 1000,
) -> FeedData:
    """Entries of a listing page, one per ``select.item`` element.

    Items without a title or an http(s) link are skipped with a warning. Raises
    :class:`ParseError` when the page is empty or no element matches ``select.item``
    (the page layout changed, or this is an error page).
    """
    doc, base = _load(content, url, headers)
    item_sel = _compile(select.item, url)
    title_sel = _compile(select.title, url)
    link_sel = _compile(select.link, url)
    date_sel = _compile(select.date, url) if select.date else None
    summary_sel = _compile(select.summary, url) if select.summary else None

    elements = item_sel(doc)
    if not elements:
        raise ParseError(url, f"no element matches the item selector {select.item!r}; "
                              "has the page layout changed?")
    warnings: list[str] = []
    entries: list[EntryData] = []
    skipped: list[int] = []
    for n, el in enumerate(elements, 1):
        if len(entries) >= max_items:
            warnings.append(f"max_items is {max_items}: kept the first {max_items} items, "
                            f"dropped {len(elements) - n + 1} more")
            break
        title = _text(_first(title_sel(el)))
        link = _href(_first(link_sel(el)), base)
        if not title or not link:
            skipped.append(n)
            continue
        date_el = _first(date_sel(el)) if date_sel else None
        summary_el = _first(summary_sel(el)) if summary_sel else None
        entries.append(EntryData(
            link=link,
            title=title,
            summary=_inner_html(summary_el) if summary_el is not None else None,
            base=base,
            published_text=_date_text(date_el),
        ))
    if skipped:
        shown = ", ".join(map(str, skipped[:_MAX_POSITIONS_LISTED]))
        more = ", …" if len(skipped) > _MAX_POSITIONS_LISTED else ""
        warnings.append(f"skipped {len(skipped)} of {len(elements)} items without a link "
                        f"or title (items {shown}{more})")

    next_page = None
    if select.next:
        next_page = _href(_first(_compile(select.next, url)(doc)), base)
        if next_page == url:
            next_page = None  # a pager pointing at itself would loop
    return FeedData(
        url=url,
        format="html",
        title=_text(_first(doc.xpath("//title"))),
        link=url,
        language=_language(doc),
        entries=tuple(entries),
        warnings=tuple(warnings),
        next_page=next_page,
    )


def parse_page(
    content: bytes,
    url: str,
    select: SelectRules | None,
    headers: Mapping[str, str] | None = None,
) -> EntryData:
    """The full text, title and date of one followed page.

    ``content`` is the inner HTML of ``select.content``, else of the first of
    ``<main>``, ``<article>``, ``#content``, ``<body>``.
    """
    doc, base = _load(content, url, headers)
    wanted = (select.content,) if select is not None and select.content else ()
    body = next((el for selector in wanted + _CONTENT_FALLBACKS
                 if (el := _first(_compile(selector, url)(doc))) is not None), None)

    # an <h1> or <time> in the text beats one in the site header or in a sidebar
    # of related stories
    scopes = [body, doc] if body is not None else [doc]
    title = next((t for s in scopes if (t := _text(_first(s.xpath(".//h1"))))), None)
    published = _str(_first(doc.xpath('//meta[@property="article:published_time"]/@content')))
    if not published:
        published = next((p for s in scopes if (p := _str(_first(s.xpath(".//time/@datetime"))))),
                         None)
    return EntryData(
        link=url,
        title=title or _text(_first(doc.xpath("//title"))),
        content=_inner_html(body) if body is not None else None,
        base=base,
        published_text=published,
        language=_language(doc),
    )


# -- helpers ---------------------------------------------------------------------------


def _load(content: bytes, url: str, headers: Mapping[str, str] | None) -> tuple[Any, str]:
    """The parsed page without script/style, and the base URL for its links."""
    text = _decode(content, headers)
    # lxml refuses str input that still carries an XML encoding declaration
    text = _XML_DECL_RE.sub("", text, count=1)
    if not text.strip():
        raise ParseError(url, "not a page: the document is empty")
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
    try:
        doc = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as e:
        raise ParseError(url, f"not a page: cannot read it as HTML ({e})") from e
    # their text is code, never content; nh3 drops them later, but titles and
    # dates are read as text here
    for el in list(doc.iter("script", "style", "template", "noscript")):
        el.drop_tree()
    base = _absolute(url, _first(doc.xpath("//base/@href"))) or url
    return doc, base


def _decode(content: bytes, headers: Mapping[str, str] | None) -> str:
    """HTML bytes to text: BOM, else HTTP charset, else <meta charset>, else UTF-8."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if content.startswith(bom):
            return content[len(bom):].decode(codec, "replace")
    content_type = next((v for k, v in (headers or {}).items()
                         if k.lower() == "content-type"), "")
    m = _HEADER_CHARSET_RE.search(content_type)
    label = m.group(1) if m else None
    if label is None:
        meta = _META_CHARSET_RE.search(content[:4096])
        label = meta.group(1).decode("ascii", "replace") if meta else None
    codec = "utf-8"
    if label:
        with contextlib.suppress(LookupError):
            codec = codecs.lookup(label).name
        if codec in _AS_WINDOWS_1252:
            codec = "cp1252"
        elif codec.startswith("utf-16"):
            codec = "utf-8"  # ASCII-compatible bytes that name utf-16 are not utf-16
    return content.decode(codec, "replace")


def _compile(selector: str, url: str) -> _Selector:
    try:
        return CSSSelector(selector, translator="html")
    except SelectorError as e:
        raise ParseError(url, f"bad CSS selector {selector!r}: {e}") from e


def _first(found: list[Any]) -> Any:
    return found[0] if found else None


def _text(el: Any) -> str | None:
    if el is None:
        return None
    return " ".join(el.text_content().split()) or None


def _href(el: Any, base: str) -> str | None:
    """The absolute http(s) href of ``el``, or of the first link inside it."""
    if el is None:
        return None
    href = el.get("href")
    if href is None:
        href = _first(el.xpath(".//a/@href"))
    return _absolute(base, href)


def _absolute(base: str, ref: object) -> str | None:
    """``ref`` resolved against ``base`` if that gives an http(s) URL, else None."""
    text = _str(ref)
    if text is None:
        return None
    try:
        absolute = urljoin(base, text)
        return absolute if urlsplit(absolute).scheme in ("http", "https") else None
    except ValueError:  # e.g. a broken IPv6 literal
        return None


def _date_text(el: Any) -> str | None:
    if el is None:
        return None
    # <time datetime="2024-05-01"> says exactly what the visible text only suggests
    return (_str(el.get("datetime")) or _str(_first(el.xpath(".//time/@datetime")))
            or _text(el))


def _inner_html(el: Any) -> str:
    parts = [html.escape(el.text, quote=False)] if el.text else []
    parts.extend(lxml.html.tostring(child, encoding="unicode", with_tail=True)
                 for child in el)
    return "".join(parts).strip()


def _language(doc: Any) -> str | None:
    return _str(doc.get("lang") or doc.get("{http://www.w3.org/XML/1998/namespace}lang"))


def _str(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None
