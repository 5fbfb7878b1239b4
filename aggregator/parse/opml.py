"""Read an OPML subscription list (a feed reader's export) into :class:`OpmlFeed` rows.

    bytes ─► refuse entity declarations ─► lxml (no entities, no network, no huge trees)
          ─► on a syntax error: repair bare "&" and HTML entities, undeclared cp1252, retry
          ─► root must be <opml> ─► every <outline> with an xmlUrl, at any depth
          ─► http(s) only, resolved against ``base_url``, first of each URL kept

What it does: reads what real readers export (Feedly, Inoreader, Miniflux, FreshRSS,
NetNewsWire, Thunderbird, older hand-made files). It does not need ``type="rss"``,
takes ``title`` else ``text`` else the URL as the title, matches attribute and
element names in any case (``xmlUrl``, ``xmlurl``, ``XMLURL``), ignores namespaced
attributes (``fz:…``, ``miniflux:…``) and namespaces on elements, and lets lxml honour
a BOM and the ``<?xml encoding=…?>`` declaration. The category of a feed is the titles
of the folders (outlines without an ``xmlUrl``) it sits in, outermost first, joined
by "/". The same URL listed twice (a feed in two folders) is kept once, the first time.

Safety: entities are never expanded from outside the document (no XXE), the parser
never touches the network, and a document that declares entities at all is refused
(OPML has no use for them, and it stops entity-expansion bombs before parsing).

What it does not do: fetch anything (feeds, or ``type="include"`` outlines), check that
a URL is a feed, canonicalize URLs, or turn rows into sources (the caller does, with
its own ids and policy). A document that is not OPML raises
:class:`~aggregator.errors.ParseError` (``"not an OPML file: …"``, one line); an OPML
file with no feeds in it is not an error and gives an empty list.
"""

from __future__ import annotations

import codecs
import html.entities
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from aggregator.errors import ParseError

__all__ = ["OpmlFeed", "parse_opml"]


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription found in an OPML file."""

    url: str
    title: str
    html_url: str | None
    #: the enclosing folders' titles joined by "/" ("News/Europe"), None at the top
    category: str | None


_ENTITY_DECL_RE = re.compile(rb"<!ENTITY", re.I)
_XML_ENCODING_RE = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
_NAMED_REF_RE = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")
_BARE_AMP_RE = re.compile(rb"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_UTF8 = frozenset({"utf-8", "utf8"})
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
               codecs.BOM_UTF32_BE)


def parse_opml(content: bytes, *, base_url: str | None = None,
               origin: str | None = None) -> list[OpmlFeed]:
    """The feeds listed in ``content``, in document order, each URL once.

    ``base_url`` resolves relative URLs (without it they are skipped). ``origin``
    names the document in errors (a path or URL; ``base_url`` when not given).
    """
    where = origin or base_url or "OPML file"
    root = _parse_xml(content, where)
    if _local_name(root) != "opml":
        raise ParseError(where, f"not an OPML file: the root element is <{_tag(root)}>, "
                                "not <opml>")
    feeds: dict[tuple[str, str, str, str], OpmlFeed] = {}
    for feed in _outlines(root, (), base_url):
        feeds.setdefault(_url_key(feed.url), feed)
    return list(feeds.values())


# -- XML -------------------------------------------------------------------------------


def _parse_xml(content: bytes, where: str) -> Any:
    if not content.strip():
        raise ParseError(where, "not an OPML file: the document is empty")
    if _ENTITY_DECL_RE.search(content):
        raise _entities_refused(where)
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as e:
        repaired = _repaired(content)
        if repaired is None:
            raise _not_xml(where, e) from e
        try:
            root = etree.fromstring(repaired, _parser())
        except etree.XMLSyntaxError as e2:
            # the error left after the repair is the one that stops us (repairs add no
            # lines, so its line number is the file's)
            raise _not_xml(where, e2) from e2
    if root is None:
        raise ParseError(where, "not an OPML file: no root element")
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise _entities_refused(where)  # declared in a UTF-16 document the check missed
    return root


def _parser() -> etree.XMLParser:
    # a fresh parser per document: lxml parsers keep state and are not thread-safe
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                           load_dtd=False, dtd_validation=False, remove_comments=True,
                           remove_pis=True)


def _repaired(content: bytes) -> bytes | None:
    """What hand-made and old exports get wrong, fixed; None when nothing was changed.

    A bare "&" in a URL (``?a=1&b=2``) is escaped, HTML entities (``&nbsp;``) become
    character references, and bytes that are not UTF-8 in a document that declares
    UTF-8 (or nothing) are read as windows-1252.
    """
    if content.startswith(_UTF16_BOMS) or b"\x00" in content[:4]:
        return None  # not ASCII-compatible: byte patterns would corrupt it
    fixed = content
    declared = _XML_ENCODING_RE.match(fixed)
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    if encoding in _UTF8:
        try:
            fixed.decode("utf-8")
        except UnicodeDecodeError:
            bom = codecs.BOM_UTF8 if fixed.startswith(codecs.BOM_UTF8) else b""
            fixed = bom + fixed[len(bom):].decode("cp1252", "replace").encode("utf-8")
    fixed = _NAMED_REF_RE.sub(_named_ref, fixed)
    fixed = _BARE_AMP_RE.sub(b"&amp;", fixed)
    return fixed if fixed != content else None


def _named_ref(m: re.Match[bytes]) -> bytes:
    name = m.group(1)
    if name in _XML_ENTITIES:
        return m.group(0)
    codepoint = html.entities.name2codepoint.get(name.decode("ascii"))
    if codepoint is None:
        return b"&amp;" + name + b";"  # not an entity: the text as written
    return b"&#%d;" % codepoint


def _not_xml(where: str, e: etree.XMLSyntaxError) -> ParseError:
    # libxml2's message ends with the line and column already
    message = " ".join(str(e.msg or e).split())
    return ParseError(where, f"not an OPML file: not well-formed XML ({message})")


def _entities_refused(where: str) -> ParseError:
    return ParseError(where, "not an OPML file: it declares XML entities (<!ENTITY>), "
                             "which OPML never uses; refused")


# -- outlines --------------------------------------------------------------------------


def _outlines(parent: Any, folders: tuple[str, ...], base_url: str | None) -> Iterator[OpmlFeed]:
    """Feeds below ``parent``, depth first in document order (``<body>`` looked into)."""
    for el in parent:
        if not isinstance(el.tag, str):
            continue  # comments, processing instructions, unexpanded entities
        name = _local_name(el)
        if name == "head":
            continue
        if name != "outline":
            yield from _outlines(el, folders, base_url)  # <body>, or a stray wrapper
            continue
        attrs = _attributes(el)
        title = _text(attrs.get("title")) or _text(attrs.get("text"))
        xml_url = attrs.get("xmlurl", "").strip()
        if xml_url:
            url = _http_url(xml_url, base_url)
            if url is not None:
                yield OpmlFeed(url=url, title=title or url,
                               html_url=_http_url(attrs.get("htmlurl", ""), base_url),
                               category="/".join(folders) or None)
            # a feed is not a folder: anything nested in it keeps the same category
            yield from _outlines(el, folders, base_url)
        else:
            yield from _outlines(el, (*folders, title) if title else folders, base_url)


def _attributes(el: Any) -> dict[str, str]:
    """Attributes without a namespace, names lower-cased (``xmlUrl`` = ``xmlurl``)."""
    found: dict[str, str] = {}
    for key, value in el.attrib.items():
        if not key.startswith("{"):
            found.setdefault(key.lower(), value)
    return found


def _http_url(value: str, base_url: str | None) -> str | None:
    value = value.strip()
    if not value:
        return None
    if base_url:
        value = urljoin(base_url, value)
    try:
        parts = urlsplit(value)
    except ValueError:
        return None  # "http://[::1" and friends
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def _url_key(url: str) -> tuple[str, str, str, str]:
    """Two spellings of one URL (host case, a fragment) are one feed."""
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query)


def _text(value: str | None) -> str:
    return " ".join(value.split()) if value else ""


def _local_name(el: Any) -> str:
    return _tag(el).lower()


def _tag(el: Any) -> str:
    return str(etree.QName(el).localname)
