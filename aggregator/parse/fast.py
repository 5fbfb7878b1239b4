"""A fast path for RSS and Atom: feedparser-rs, where it reads a document as feedparser does.

    bytes ─► decode as feedparser would ─► gate (one expat pass) ─► feedparser-rs ─► FeedData
                          │                       │                        │
                          └──── declined: None, and :mod:`.feed` runs feedparser ◄─┘

feedparser costs ~0.5 ms per entry and is the floor of a poll (issue 8); feedparser-rs
(Rust) reads the same documents an order of magnitude faster, but not the same way:
it matches elements by prefix where feedparser matches namespaces, reads past
``<link/>`` in an RSS item, fills an empty summary in from the content and an empty
``<updated>`` from ``<published>``, blanks links to private addresses, keeps
undeclared prefixes and bytes after the root, and has none of feedparser's habits
(guids resolved as URLs, base64 titles, cp1252 "demoronizing", a title inside
``<media:content>`` taken as the entry's). So nothing here trusts it beyond what was
checked, and :func:`parse` answers only when the result is the one
:func:`aggregator.parse.feed.parse_feed` would get from feedparser; otherwise it
declines and feedparser runs, as before.

What decides, all before feedparser-rs runs except the last:

- the encoding: the charset parameter, else the XML declaration, else UTF-8, as
  feedparser chooses; a document that is not in it (feedparser would guess and warn),
  UTF-16/32, or with a DOCTYPE (feedparser rewrites those) is declined;
- the gate, one expat pass with the same namespace handling as feedparser's own
  strict pass: the document is well-formed, and every element is in the vocabulary
  below, in its place, with only the attributes listed; elements of namespaces
  neither parser knows may be leaves anywhere. Text fields have no child elements
  (no inline XHTML: feedparser re-serializes it), xml:lang and xml:base appear only
  on the root, the channel and an entry; the gate notes the attributes the converter
  needs (links, enclosures, Atom categories) and where each text field is written;
- feedparser-rs itself: not bozo, the same version, the same number of entries, and
  every text field it left empty written empty in the document.

The converter then applies feedparser's rules (base URLs and languages in scope,
guid-as-link, date parsing, the "UTF-8 read as Latin-1" repair) and the same
:mod:`.feed` helpers as the feedparser path. ``tests/test_parse_fast.py`` holds it to
that: every corpus file both ways, field by field.

Bounds: documents over :data:`MAX_BYTES` are left to feedparser (feedparser-rs
truncates text at 10 MiB); feedparser-rs gets the exact entry count as its entry
limit (it allocates that up front) and collection limits it cannot reach (its
defaults would silently drop categories past 100). Entries past ``max_items`` were
already cut from the bytes by :mod:`.feed`.

Set :data:`ENABLED` to False to parse everything with feedparser.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.parsers import expat

from feedparser.datetimes import _parse_date
from feedparser.encodings import RE_XML_DECLARATION, RE_XML_PI_ENCODING
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin as _feedparser_urljoin
from feedparser.urls import make_safe_absolute_uri

from aggregator.models import EntryData, FeedData
from aggregator.parse import feed as _fp

try:
    import feedparser_rs
except ImportError:  # no wheel for this platform: feedparser reads everything
    feedparser_rs = None  # type: ignore[assignment]

__all__ = ["ENABLED", "MAX_BYTES", "attempt", "parse"]

#: the switch: False sends every document to feedparser
ENABLED = feedparser_rs is not None
#: larger documents are left to feedparser (feedparser-rs cuts text fields at 10 MiB)
MAX_BYTES = 10 * 1024 * 1024


def parse(content: bytes, url: str, hdrs: Mapping[str, str], max_items: int,
          warnings: list[str], cut: int) -> FeedData | None:
    """What feedparser's path would return for ``content``, or None to let it run.

    ``content`` is the document as :mod:`.feed` hands it to feedparser (inflated,
    stripped, entries past ``max_items`` cut: ``cut`` of them); ``hdrs`` the response
    headers, lower-cased; ``warnings`` those found so far (not changed here).
    """
    result = attempt(content, url, hdrs, max_items, warnings, cut)
    return result if isinstance(result, FeedData) else None


def attempt(content: bytes, url: str, hdrs: Mapping[str, str], max_items: int,
            warnings: list[str], cut: int) -> FeedData | str:
    """:func:`parse`, saying why when it declines (the reason, a string)."""
    if feedparser_rs is None:
        return "feedparser-rs is not installed"
    try:
        return _convert(content, url, hdrs, max_items, list(warnings), cut)
    except _Declined as e:
        return str(e)
    except BaseException as e:
        # a bug here, or a panic in feedparser-rs (pyo3 raises those as a
        # BaseException), must not cost the poll: feedparser still reads the document
        if not isinstance(e, Exception) and type(e).__name__ != "PanicException":
            raise
        return f"failed: {type(e).__name__}: {e}"


class _Declined(Exception):
    """The fast path cannot be sure it gets feedparser's result."""


# -- the vocabulary --------------------------------------------------------------------
#
# Element names as expat reports them with namespace processing: "local" without a
# namespace, "uri local" in a default namespace, "uri local prefix" with a prefix
# (feedparser-rs reads "dc:creator" only when written with that prefix).

_A = "http://www.w3.org/2005/Atom "
_R1 = "http://purl.org/rss/1.0/ "
_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "media": "http://search.yahoo.com/mrss/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "atom": "http://www.w3.org/2005/Atom",
    "atom10": "http://www.w3.org/2005/Atom",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "feedburner": "http://rssnamespace.org/feedburner/ext/1.0",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "georss": "http://www.georss.org/georss",
    "thr": "http://purl.org/syndication/thread/1.0",
    "admin": "http://webns.net/mvcb/",
    "creativeCommons": "http://backend.userland.com/creativeCommonsRssModule",
}


def _q(name: str) -> str:
    """'dc:creator' as expat names it (namespace URI, local name, prefix)."""
    prefix, _, local = name.partition(":")
    return f"{_NS[prefix]} {local} {prefix}"


_XML_LANG = "http://www.w3.org/XML/1998/namespace lang xml"
_XML_BASE = "http://www.w3.org/XML/1998/namespace base xml"
_RDF_ABOUT = _q("rdf:about")
_RDF_RESOURCE = _q("rdf:resource")

# parent → {child: (role, allowed attributes)}; the role says what the converter
# reads from it ("" : nothing)
_Spec = dict[str, tuple[str, frozenset[str]]]
_NONE: frozenset[str] = frozenset()
_TYPE = frozenset({"type"})
#: what an element that opens a scope (the root, a channel, an entry) may carry
_SCOPE_ATTRS = frozenset({_XML_LANG, _XML_BASE})
_LINK_ATTRS = frozenset({"href", "rel", "type", "title", "hreflang", "length",
                         _q("thr:count"), _q("thr:updated")})
_MEDIA_ATTRS = frozenset({
    "url", "type", "fileSize", "medium", "width", "height", "duration", "expression",
    "bitrate", "isDefault", "framerate", "samplingrate", "channels", "lang"})


_MEDIA_CHILDREN: _Spec = {
    _q("media:content"): ("media", _MEDIA_ATTRS),
    _q("media:thumbnail"): ("", frozenset({"url", "width", "height", "time"})),
    _q("media:player"): ("", frozenset({"url", "width", "height"})),
    _q("media:credit"): ("", frozenset({"role", "scheme"})),
    _q("media:copyright"): ("", frozenset({"url"})),
    _q("media:hash"): ("", frozenset({"algo"})),
    _q("media:rating"): ("", frozenset({"scheme"})),
}


def _leaves(*names: str) -> _Spec:
    return {n: ("", _NONE) for n in names}


_ITUNES_CHANNEL: _Spec = {
    _q("itunes:image"): ("", frozenset({"href"})),
    _q("itunes:category"): ("", frozenset({"text"})),
    _q("itunes:owner"): ("", _NONE),
    **_leaves(*(_q("itunes:" + n) for n in (
        "author", "summary", "subtitle", "explicit", "type", "block", "complete",
        "new-feed-url", "keywords"))),
}
_ITUNES_ITEM: _Spec = {
    _q("itunes:image"): ("", frozenset({"href"})),
    **_leaves(*(_q("itunes:" + n) for n in (
        "duration", "explicit", "episodeType", "episode", "season", "block", "subtitle",
        "title", "order", "isClosedCaptioned"))),
}
_RSS_ITEM: _Spec = {
    "title": ("title", _NONE), "link": ("link", _NONE), "description": ("summary", _NONE),
    "author": ("author", _NONE), "category": ("category", frozenset({"domain"})),
    "comments": ("", _NONE), "enclosure": ("enclosure", frozenset({"url", "type", "length"})),
    "guid": ("guid", frozenset({"isPermaLink"})), "pubDate": ("published", _NONE),
    "source": ("", frozenset({"url"})),
    _q("content:encoded"): ("content", _NONE), _q("dc:creator"): ("author", _NONE),
    _q("dc:date"): ("dcdate", _NONE), _q("dc:subject"): ("category", _NONE),
    _q("atom:link"): ("atomlink", _LINK_ATTRS), _q("atom10:link"): ("atomlink", _LINK_ATTRS),
    **_MEDIA_CHILDREN, _q("media:group"): ("", _NONE),
    **_leaves(_q("wfw:commentRss"), _q("wfw:commentRSS"), _q("wfw:comment"),
              _q("slash:comments"), _q("slash:department"), _q("slash:section"),
              _q("slash:hit_parade"), _q("feedburner:origLink"),
              _q("feedburner:origEnclosureLink"), _q("dc:language"), _q("dc:publisher"),
              _q("dc:rights"), _q("dc:identifier"), _q("dc:format"), _q("dc:type"),
              _q("dc:source"), _q("dc:contributor"), _q("georss:point"),
              _q("creativeCommons:license")),
    **_ITUNES_ITEM,
}
_RSS_CHANNEL: _Spec = {
    "title": ("title", _NONE), "link": ("link", _NONE), "language": ("language", _NONE),
    "ttl": ("ttl", _NONE),
    **_leaves("description", "copyright", "managingEditor", "webMaster", "pubDate",
              "lastBuildDate", "generator", "docs", "author", "rating"),
    "category": ("", frozenset({"domain"})),
    "image": ("", _NONE), "textInput": ("", _NONE), "skipHours": ("", _NONE),
    "skipDays": ("", _NONE),
    "cloud": ("", frozenset({"domain", "port", "path", "registerProcedure", "protocol"})),
    "item": ("entry", _SCOPE_ATTRS),
    _q("atom:link"): ("atomlink", _LINK_ATTRS), _q("atom10:link"): ("atomlink", _LINK_ATTRS),
    _q("sy:updatePeriod"): ("syperiod", _NONE), _q("sy:updateFrequency"): ("syfrequency", _NONE),
    _q("dc:language"): ("language", _NONE),
    _q("feedburner:info"): ("", frozenset({"uri"})),
    _q("admin:errorReportsTo"): ("", frozenset({_RDF_RESOURCE})),
    _q("admin:generatorAgent"): ("", frozenset({_RDF_RESOURCE})),
    **_leaves(_q("sy:updateBase"), _q("dc:rights"), _q("dc:publisher"), _q("dc:creator"),
              _q("dc:date"), _q("dc:subject"), _q("dc:contributor"),
              _q("creativeCommons:license"), _q("feedburner:feedburnerHostname"),
              _q("feedburner:emailServiceId"), _q("feedburner:browserFriendly"),
              _q("georss:point"), _q("itunes:name"), _q("itunes:email"),
              _q("media:keywords"), _q("media:description")),
    _q("media:copyright"): ("", frozenset({"url"})),
    _q("media:thumbnail"): ("", frozenset({"url", "width", "height", "time"})),
    _q("media:rating"): ("", frozenset({"scheme"})),
    _q("media:credit"): ("", frozenset({"role", "scheme"})),
    _q("media:category"): ("", frozenset({"scheme", "label"})),
    _q("feedburner:feedFlare"): ("", frozenset({"href", "src"})),
    **_ITUNES_CHANNEL,
}
_ATOM_ENTRY: _Spec = {
    _A + "title": ("title", _TYPE), _A + "id": ("guid", _NONE),
    _A + "updated": ("updated", _NONE), _A + "published": ("published", _NONE),
    _A + "summary": ("summary", _TYPE), _A + "content": ("content", _TYPE),
    _A + "link": ("atomlink", _LINK_ATTRS),
    _A + "category": ("atomcategory", frozenset({"term", "scheme", "label"})),
    _A + "rights": ("", _TYPE), _A + "author": ("atomauthor", _NONE),
    _A + "contributor": ("", _NONE),
    **_MEDIA_CHILDREN, _q("media:group"): ("", _NONE),
    **_leaves(_q("thr:total"), _q("georss:point"), _q("feedburner:origLink"),
              _q("dc:language"), _q("dc:publisher"), _q("dc:rights"), _q("dc:identifier")),
    _q("thr:in-reply-to"): ("", frozenset({"ref", "href", "type", "source"})),
}
_ATOM_FEED: _Spec = {
    _A + "title": ("title", _TYPE), _A + "link": ("atomlink", _LINK_ATTRS),
    _A + "id": ("guid", _NONE), **_leaves(_A + "updated", _A + "icon", _A + "logo"),
    _A + "subtitle": ("", _TYPE), _A + "rights": ("", _TYPE),
    _A + "generator": ("", frozenset({"uri", "version"})),
    _A + "category": ("", frozenset({"term", "scheme", "label"})),
    _A + "author": ("", _NONE), _A + "contributor": ("", _NONE),
    _A + "entry": ("entry", _SCOPE_ATTRS),
    **_leaves(_q("feedburner:info"), _q("feedburner:emailServiceId"),
              _q("feedburner:feedburnerHostname"), _q("georss:point")),
}
_ATOM_PERSON = _leaves(_A + "name", _A + "email", _A + "uri")
_IMAGE = _leaves("url", "title", "link", "width", "height", "description")

_CHILDREN: dict[str | None, _Spec] = {
    None: {"rss": ("", frozenset({"version", *_SCOPE_ATTRS})), _A + "feed": ("", _SCOPE_ATTRS),
           _q("rdf:RDF"): ("", _SCOPE_ATTRS)},
    "rss": {"channel": ("", _SCOPE_ATTRS)},
    "channel": _RSS_CHANNEL,
    "item": _RSS_ITEM,
    "image": _IMAGE,
    "textInput": _leaves("title", "description", "name", "link"),
    "skipHours": _leaves("hour"),
    "skipDays": _leaves("day"),
    _q("itunes:owner"): _leaves(_q("itunes:name"), _q("itunes:email")),
    _q("media:group"): _MEDIA_CHILDREN,
    _q("media:content"): {k: v for k, v in _MEDIA_CHILDREN.items() if v[0] != "media"},
    _q("itunes:category"): {_q("itunes:category"): ("", frozenset({"text"}))},
    _A + "feed": _ATOM_FEED,
    _A + "entry": _ATOM_ENTRY,
    _A + "author": _ATOM_PERSON,
    _A + "contributor": _ATOM_PERSON,
    _q("rdf:RDF"): {_R1 + "channel": ("", frozenset({_RDF_ABOUT, *_SCOPE_ATTRS})),
                    _R1 + "item": ("entry", frozenset({_RDF_ABOUT, *_SCOPE_ATTRS})),
                    _R1 + "image": ("", frozenset({_RDF_ABOUT})),
                    _R1 + "textinput": ("", frozenset({_RDF_ABOUT}))},
    _R1 + "channel": {
        _R1 + "title": ("title", _NONE), _R1 + "link": ("link", _NONE),
        _R1 + "description": ("", _NONE), _R1 + "items": ("", _NONE),
        _R1 + "image": ("", frozenset({_RDF_RESOURCE})),
        _R1 + "textinput": ("", frozenset({_RDF_RESOURCE})),
        _q("dc:language"): ("language", _NONE),
        _q("sy:updatePeriod"): ("syperiod", _NONE),
        _q("sy:updateFrequency"): ("syfrequency", _NONE),
        _q("admin:errorReportsTo"): ("", frozenset({_RDF_RESOURCE})),
        _q("admin:generatorAgent"): ("", frozenset({_RDF_RESOURCE})),
        **_leaves(_q("dc:rights"), _q("dc:publisher"), _q("dc:creator"), _q("dc:date"),
                  _q("sy:updateBase"), _q("dc:subject"), _q("dc:contributor")),
    },
    _R1 + "items": {_q("rdf:Seq"): ("", _NONE)},
    _q("rdf:Seq"): {_q("rdf:li"): ("", frozenset({_RDF_RESOURCE, "resource"}))},
    _R1 + "image": _leaves(_R1 + "title", _R1 + "url", _R1 + "link"),
    _R1 + "textinput": _leaves(_R1 + "title", _R1 + "description", _R1 + "name", _R1 + "link"),
    _R1 + "item": {
        _R1 + "title": ("title", _NONE), _R1 + "link": ("link", _NONE),
        _R1 + "description": ("summary", _NONE), _q("content:encoded"): ("content", _NONE),
        _q("dc:creator"): ("author", _NONE), _q("dc:date"): ("dcdate", _NONE),
        _q("dc:subject"): ("category", _NONE),
        **_leaves(_q("dc:language"), _q("dc:publisher"), _q("dc:rights"),
                  _q("dc:identifier"), _q("dc:format"), _q("dc:type"), _q("dc:source"),
                  _q("dc:contributor"), _q("slash:comments"), _q("slash:department"),
                  _q("slash:section"), _q("slash:hit_parade"), _q("wfw:commentRss"),
                  _q("feedburner:origLink")),
    },
}
_MEDIA_GROUP = _q("media:group")
_ATOM_NAMES = frozenset(name.split(" ")[1] for spec in _CHILDREN.values() for name in spec
                        if name.startswith(_A))
_ENTRY_OR_CHANNEL = frozenset({"item", "channel", _A + "entry", _A + "feed", _R1 + "item",
                               _R1 + "channel"})
_ENTRY_ELEMENTS = frozenset({"item", _A + "entry", _R1 + "item"})
_CHANNEL_ELEMENTS = frozenset({"channel", _A + "feed", _R1 + "channel"})
_NO_ATTRS: dict[str, str] = {}
#: roles whose text the converter takes from feedparser-rs: the gate notes where each
#: is written, because feedparser-rs fills some in from others when they are empty
#: and blanks links to private addresses
_TEXT_ROLES = frozenset({"title", "link", "summary", "content", "author", "guid",
                         "published", "updated", "dcdate", "language", "ttl", "syperiod",
                         "syfrequency"})
#: elements of an RSS 2.0 item that may be written <x/>: feedparser-rs reads past the
#: end of the others (<link/>, <guid/>, <category/>) and swallows what follows
_EMPTY_OK = frozenset({
    "#foreign", "enclosure", _q("atom:link"), _q("atom10:link"), _q("media:content"),
    _q("media:thumbnail"), _q("media:credit"), _q("media:copyright"), _q("media:rating"),
    _q("media:group"), _q("itunes:image")})
#: roles an entry may hold more than once
_MANY = frozenset({"category", "atomcategory", "enclosure", "atomlink", "media"})

#: namespaces one of the two parsers gives a meaning to, and prefixes feedparser-rs
#: reads whatever namespace they are bound to: an element in one of these is only
#: read when the vocabulary above lists it
_KNOWN_URIS = frozenset(
    uri.lower() for uri in (
        *_NS.values(), *_FeedParserMixin.namespaces,
        "http://www.itunes.com/dtds/podcast-1.0.dtd", "http://podcastindex.org/namespace/1.0",
        "http://purl.org/syndication/thread/1.0", "http://backend.userland.com/rss2",
    )
)
_KNOWN_PREFIXES = frozenset({
    "dc", "dcterms", "content", "media", "itunes", "podcast", "georss", "gml", "geo", "slash",
    "thr", "wfw", "sy", "syn", "atom", "atom10", "creativeCommons", "cc", "rdf", "feedburner",
    "admin", "psc", "xhtml", "xml", "rss", "xlink",
})
#: element names without a namespace that feedparser (any case) or feedparser-rs
#: (iTunes elements written without their prefix) read
_KNOWN_PLAIN = frozenset(
    {name.split("_", 2)[2] for name in dir(_FeedParserMixin)
     if name.startswith(("_start_", "_end_")) and name.count("_") == 2}
    | {"duration", "explicit", "image", "episode", "episodetype", "season", "keywords",
       "summary", "subtitle", "owner", "block", "complete", "new-feed-url", "order", "type",
       "isclosedcaptioned"}
)
#: attribute names feedparser reads (it drops the namespace of an attribute it does
#: not know: "foo:href" is an "href")
_KNOWN_ATTRS = frozenset({
    "href", "url", "uri", "rel", "type", "length", "term", "label", "scheme", "domain", "lang",
    "base", "mode", "src", "ispermalink", "filesize", "about", "resource", "lastmod",
    "version", "text", "medium", "width", "height", "title", "hreflang", "isdefault",
    "expression", "name", "email", "count", "updated", "ref",
})
_TEXT_TYPES = {"text": "text/plain", "text/plain": "text/plain", "html": "text/html",
               "text/html": "text/html"}



_UNSET: Any = object()


class _Entry:
    """What the gate saw of one entry."""

    __slots__ = ("about", "base", "categories", "enclosures", "guid", "lang", "media",
                 "permalink", "roles", "scope", "spans", "texts", "types")

    def __init__(self, attrs: dict[str, str]) -> None:
        self.about = attrs.get(_RDF_ABOUT)  # RSS 1.0: the guid
        self.lang = attrs.get(_XML_LANG)
        self.base = attrs.get(_XML_BASE)
        #: role → how many elements have it
        self.roles: dict[str, int] = {}
        self.permalink: str | None = None  # the guid's isPermaLink
        #: title, summary, content → the type attribute, as feedparser maps it
        self.types: dict[str, str] = {}
        #: RSS enclosures and links, in document order: (is an RSS enclosure, attributes)
        self.enclosures: list[tuple[bool, dict[str, str]]] = []
        self.media: list[dict[str, str]] = []
        self.categories: list[str | None] = []  # Atom: term, else label
        #: role → where its text is written: (start, end) byte offsets
        self.spans: dict[str, tuple[int, int]] = {}
        self.scope: tuple[str | None, str] = (None, "")  # language and base in the entry
        self.guid: str | None = _UNSET
        self.texts: _Texts

    def scope_attrs(self) -> dict[str, str]:
        out = {}
        if self.lang is not None:
            out[_XML_LANG] = self.lang
        if self.base is not None:
            out[_XML_BASE] = self.base
        return out


class _Gate:
    """The expat pass: raises _Declined at the first thing it cannot vouch for."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.parser = parser = expat.ParserCreate(namespace_separator=" ")
        parser.namespace_prefixes = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.StartNamespaceDeclHandler = self.namespace
        self.stack: list[str | None] = [None]
        self.entries: list[_Entry] = []
        self.entry: _Entry | None = None
        self.root: str | None = None
        self.root_attrs: dict[str, str] = {}
        self.channel_attrs: dict[str, str] = {}
        self.channel_roles: dict[str, int] = {}
        self.channel_spans: dict[str, tuple[int, int]] = {}
        self.channel_links: list[dict[str, str]] = []
        self.ns_version = ""
        #: a text element being read: (its role, the entry or None, its start byte)
        self.open: tuple[str, _Entry | None, int] | None = None

    def run(self) -> None:
        try:
            self.parser.Parse(self.body, True)
        except expat.ExpatError as e:
            raise _Declined(f"not well-formed XML: {expat.ErrorString(e.code)}") from None

    def namespace(self, prefix: str | None, uri: str) -> None:
        # feedparser takes the version from the first of these it sees declared
        if self.ns_version or not uri:
            return
        low = uri.lower()
        if prefix is None and low == "http://my.netscape.com/rdf/simple/0.9/":
            self.ns_version = "rss090"
        elif low == "http://purl.org/rss/1.0/":
            self.ns_version = "rss10"
        elif low == "http://www.w3.org/2005/atom":
            self.ns_version = "atom10"

    def start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1]
        allowed = _CHILDREN.get(parent)
        if allowed is None:
            raise _Declined(f"an element inside {parent}")
        spec = allowed.get(name)
        if spec is None:
            self._foreign(name, parent)
            return
        self.stack.append(name)
        role, allowed_attrs = spec
        for key in attrs:
            if key not in allowed_attrs:
                rest = key.partition(" ")[2]
                # feedparser drops the namespace of an attribute it does not know
                if not rest or rest.partition(" ")[0].lower() in _KNOWN_ATTRS:
                    raise _Declined(f"attribute {key} on {name}")
        if parent is None:
            self.root = name
            self.root_attrs = attrs
            return
        if name in _CHANNEL_ELEMENTS:
            self.channel_attrs = attrs
        if not role:
            return
        if role == "entry":
            self.entry = _Entry(attrs)
            self.entries.append(self.entry)
        elif parent in _ENTRY_ELEMENTS or parent == _MEDIA_GROUP:
            self._entry_child(role, attrs)
        elif parent in _CHANNEL_ELEMENTS:
            self.channel_roles[role] = self.channel_roles.get(role, 0) + 1
            if role in _TEXT_ROLES:
                self.open = (role, None, self.parser.CurrentByteIndex)
            if role == "atomlink":
                if "href" not in attrs:
                    raise _Declined("a link without href")
                self.channel_links.append(attrs)
            elif "type" in attrs and attrs["type"].lower() not in _TEXT_TYPES:
                raise _Declined(f"type {attrs['type']!r}")

    def _foreign(self, name: str, parent: str | None) -> None:
        uri, _, rest = name.partition(" ")
        if rest:
            local, _, prefix = rest.partition(" ")
            # (feedparser-rs reads some Atom elements by local name, whatever the
            # namespace: a foo:name in an author is its name)
            if (uri.lower() in _KNOWN_URIS or prefix in _KNOWN_PREFIXES
                    or (local in _ATOM_NAMES and parent and parent.startswith(_A))):
                raise _Declined(f"element {name} in {parent}")
        elif name.lower() in _KNOWN_PLAIN or parent not in _ENTRY_OR_CHANNEL:
            raise _Declined(f"element {name} in {parent}")
        self.stack.append("#foreign")  # a leaf: neither parser reads it

    def _entry_child(self, role: str, attrs: dict[str, str]) -> None:
        entry = self.entry
        assert entry is not None
        entry.roles[role] = entry.roles.get(role, 0) + 1
        if role in _TEXT_ROLES:
            self.open = (role, entry, self.parser.CurrentByteIndex)
            if "type" in attrs:
                ctype = _TEXT_TYPES.get(attrs["type"].lower())
                if ctype is None:  # xhtml, base64, other media types
                    raise _Declined(f"type {attrs['type']!r}")
                entry.types[role] = ctype
            if role == "guid":
                entry.permalink = attrs.get("isPermaLink")
        elif role == "atomlink":
            if "href" not in attrs:
                raise _Declined("a link without href")
            entry.enclosures.append((False, attrs))
        elif role == "enclosure":
            entry.enclosures.append((True, attrs))
        elif role == "media":
            entry.media.append(attrs)
        elif role == "atomcategory":
            entry.categories.append(_fp._str(attrs.get("term")) or _fp._str(attrs.get("label")))
            self.open = (role, entry, self.parser.CurrentByteIndex)

    def end(self, name: str) -> None:
        if self.stack.pop() not in _EMPTY_OK and self.stack[-1] == "item":
            at = self.parser.CurrentByteIndex
            if self.body[at - 2:at] == b"/>":
                raise _Declined(f"<{name}/> in an RSS item")
        if self.open is not None:
            role, entry, start = self.open
            self.open = None
            span = (self.body.find(b">", start) + 1, self.parser.CurrentByteIndex)
            if role == "atomcategory":
                if span[0] != span[1]:  # feedparser makes a term of its text
                    raise _Declined("an Atom category with text")
            elif entry is not None:
                entry.spans[role] = span
            else:
                self.channel_spans[role] = span


# -- decoding and the checks -----------------------------------------------------------

_VERSIONS = frozenset({"rss091u", "rss092", "rss093", "rss094", "rss10", "rss20", "atom10"})
_UTF8 = frozenset({"utf-8", "utf8"})
_HEAD_END_RE = re.compile(rb"<\w")


def _utf8(content: bytes, hdrs: Mapping[str, str]) -> bytes:
    """The document in UTF-8, decoded as feedparser decodes it (the charset parameter,
    else the XML declaration, else UTF-8), with its declaration saying so."""
    if b"\x00" in content[:4]:
        raise _Declined("UTF-16 or UTF-32")
    body = content.removeprefix(b"\xef\xbb\xbf")
    if not body.startswith(b"<"):
        raise _Declined("not XML")
    m = _fp._CHARSET_RE.search(hdrs.get("content-type", ""))
    http_encoding = m.group(1) if m else ""
    declared = ""
    if m := RE_XML_PI_ENCODING.match(body):
        try:
            declared = m.group(1).decode("utf-8").lower()
        except UnicodeDecodeError:
            raise _Declined("encoding: the declaration is not UTF-8") from None
    encoding = http_encoding or declared or "utf-8"
    if encoding.lower() == "gb2312":
        encoding = "gb18030"
    if encoding.lower() in _UTF8 and declared in ("", *_UTF8):
        return body  # the gate's expat pass checks that it is UTF-8
    if len(body) != len(content):
        raise _Declined(f"encoding: a UTF-8 BOM on a document in {encoding}")
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        # feedparser would try other encodings, and warn
        raise _Declined(f"encoding: not {encoding}") from None
    if RE_XML_DECLARATION.search(text):
        text = RE_XML_DECLARATION.sub("<?xml version='1.0' encoding='utf-8'?>", text)
    return text.encode("utf-8")


def _checked(content: bytes, hdrs: Mapping[str, str]) -> tuple[bytes, _Gate]:
    body = _utf8(content, hdrs)
    if b"\x00" in body:
        raise _Declined("a NUL byte")
    head_end = _HEAD_END_RE.search(body)
    head = body[: head_end.start()] if head_end else body
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise _Declined("a DOCTYPE (feedparser rewrites it)")
    if b"\r" in body:  # XML's end-of-line handling, which feedparser-rs leaves out
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    gate = _Gate(body)
    gate.run()
    return body, gate


def _version(gate: _Gate) -> str:
    """The version feedparser reports (from the root, or a namespace declared first)."""
    if gate.root == "rss":
        if gate.ns_version.startswith("rss"):
            return gate.ns_version
        v = gate.root_attrs.get("version", "")
        return {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}.get(
            v) or ("rss20" if v.startswith("2.") else "rss")
    if gate.root == _A + "feed":
        return gate.ns_version or "atom"
    return gate.ns_version


# -- the conversion --------------------------------------------------------------------

_AMP_REF_RE = re.compile("&([A-Za-z0-9_]+);")
_C1_RE = re.compile("[\x80-\x9f]")
#: URLs that urljoin returns as they are, against any base: absolute http(s) URLs in
#: the form urlunparse(urlparse(url)) gives back (no whitespace, no empty query or
#: fragment, no ;params, no brackets), and URNs and tag URIs (never relative)
_PLAIN_URL_RE = re.compile(
    r"https?://[!$%&'()*+,\-.0-9:=@A-Z_a-z~]+(?:/[!$%&'()*+,\-./0-9:=@A-Z_a-z~]*)?"
    r"(?:\?[!$%&'()*+,\-./0-9:;=?@A-Z_a-z~]+)?(?:#[!#$%&'()*+,\-./0-9:;=?@A-Z_a-z~]+)?"
    r"|(?:urn|tag):[!#$%&'()*+,\-.0-9:;=?@A-Z_a-z~][!#$%&'()*+,\-./0-9:;=?@A-Z_a-z~]*")


def _urljoin(base: str, url: str) -> str:
    """feedparser's _urljoin (urllib's urljoin, after it drops extra slashes), without
    the parsing when the URL comes back unchanged anyway."""
    return url if _PLAIN_URL_RE.fullmatch(url) else _feedparser_urljoin(base, url)


def _join(base: str, url: str | None) -> str | None:
    """:func:`aggregator.parse.feed._join`, likewise."""
    return url if url and _PLAIN_URL_RE.fullmatch(url) else _fp._join(base, url)


#: element content without text: whitespace, comments, empty CDATA sections
#: (atomic and possessive: linear on any input)
_BLANK_RE = re.compile(rb"(?>\s|<!--.*?-->|<!\[CDATA\[\s*\]\]>|<\?.*?\?>)*+", re.S)


def _convert(content: bytes, url: str, hdrs: Mapping[str, str], max_items: int,
             warnings: list[str], cut: int) -> FeedData:
    if len(content) > MAX_BYTES:
        raise _Declined("larger than MAX_BYTES")
    body, gate = _checked(content, hdrs)
    # what the document alone decides, before the costlier parse
    version = _version(gate)
    if version not in _VERSIONS:
        raise _Declined(f"version {version!r}")
    for role, n in gate.channel_roles.items():
        if n > 1 and role != "atomlink":
            raise _Declined(f"two {role} elements in the channel")
    room = len(body) // 4 + 1  # more than the document can hold of anything
    limits = feedparser_rs.ParserLimits(
        max_feed_size_bytes=MAX_BYTES, max_entries=max(1, len(gate.entries)),
        max_links_per_feed=room, max_links_per_entry=room, max_authors=room,
        max_contributors=room, max_tags=room, max_content_blocks=room, max_enclosures=room)
    d = feedparser_rs.parse_with_limits(body, limits=limits, sanitize_html=False,
                                        resolve_relative_uris=False)
    if d.bozo:
        raise _Declined(f"feedparser-rs: {d.bozo_exception}")
    if d.version != version:
        raise _Declined(f"version {d.version!r}, feedparser's {version!r}")
    if len(d.entries) != len(gate.entries):
        raise _Declined(f"{len(d.entries)} entries, the document has {len(gate.entries)}")

    # the language and base URL in scope, as feedparser tracks them element by element:
    # the root, the channel, an entry (in the channel in RSS 2.0, in the root in Atom
    # and RSS 1.0), then the child elements that hold the text
    header_lang = hdrs.get("content-language") or None
    top = _step(gate.root_attrs, header_lang,
                make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or "")
    atom = version == "atom10"
    channel = top if atom else _step(gate.channel_attrs, *top)
    base = _step(_NO_ATTRS, *channel)[1]
    entry_parent = channel if version in ("rss091u", "rss092", "rss093", "rss094", "rss20") \
        else top
    pairs = list(zip(d.entries, gate.entries, strict=True))
    plain = _step(_NO_ATTRS, *_step(_NO_ATTRS, *entry_parent))
    for _, g in pairs:
        attrs = g.scope_attrs()
        g.scope = _step(_NO_ATTRS, *_step(attrs, *entry_parent)) if attrs else plain
        g.texts = _Texts(body, g.roles, g.spans)
    entries = _fp._take_entries(pairs, lambda p: _guid(p, version),
                                lambda p: _entry(p, url, version),
                                max_items, warnings, cut)

    feed = d.feed
    text = _Texts(body, gate.channel_roles, gate.channel_spans)
    if gate.channel_roles.get("language"):
        language: str | None = text("language", feed.language)
    elif (root_lang := gate.root_attrs.get(_XML_LANG)) and version != "rss10":
        # (feedparser names the RDF root "rdf:rdf", and so never reads its xml:lang)
        language = root_lang.replace("_", "-")
    else:
        language = header_lang.replace("_", "-") if header_lang else None
    if atom:
        link = _alternate(gate.channel_links, base)
        if link is None and (gid := text("guid", feed.id, fix=False)):
            link = _fix(_urljoin(base, gid))  # the id stands in for the link
    else:
        if any(_is_alternate(x) for x in gate.channel_links):
            raise _Declined("an alternate atom:link in an RSS channel")
        link = text("link", feed.link, fix=False)
        if link:
            link = _fix(_urljoin(base, link)) or ""
            if "&" in link:
                link = _AMP_REF_RE.sub(r"&\g<1>", link)
    return FeedData(
        url=url,
        format=version,
        title=_fp._str(text("title", feed.title)),
        link=_join(url, link),
        language=_fp._str(language) or _fp._str(header_lang),
        entries=entries,
        ttl=_ttl(text, feed),
        warnings=tuple(warnings),
    )


class _Texts:
    """Text fields from feedparser-rs, held to the bytes: None when the document has no
    such element, "" when it is empty, and declined when feedparser-rs lost the text."""

    __slots__ = ("body", "roles", "spans")

    def __init__(self, body: bytes, roles: Mapping[str, int],
                 spans: Mapping[str, tuple[int, int]]) -> None:
        self.body, self.roles, self.spans = body, roles, spans

    def written(self, role: str) -> bytes:
        return self.body[slice(*self.spans[role])].strip()

    def blank(self, role: str) -> bool:
        start, end = self.spans[role]
        return _BLANK_RE.fullmatch(self.body, start, end) is not None

    def __call__(self, role: str, value: str | None, *, fix: bool = True) -> str | None:
        if not self.roles.get(role):
            return None
        if self.blank(role):
            return ""  # feedparser-rs may have filled it in from another element
        value = value.strip() if value else value
        if not value:  # a link to a private address, a date it could not parse
            raise _Declined(f"feedparser-rs lost the {role}")
        return _fix(value) if fix else value


def _step(attrs: Mapping[str, str], lang: str | None, base: str) -> tuple[str | None, str]:
    """xml:lang and xml:base one element down, as feedparser's unknown_starttag has it."""
    if _XML_LANG in attrs:
        lang = attrs[_XML_LANG] or None
    xml_base = attrs.get(_XML_BASE) or base
    if not base:
        return lang, _urljoin(base, xml_base)
    return lang, make_safe_absolute_uri(base, xml_base) or base


def _fix(text: str | None) -> str | None:
    """What feedparser does to every text value: undo UTF-8 read as Latin-1, then map
    C1 controls to the Windows-1252 characters they stand for."""
    if not text or text.isascii():
        return text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1_RE.search(text) else text


def _is_alternate(attrs: Mapping[str, str]) -> bool:
    """A link feedparser takes as the page (rel and type lower-cased, as it reads them)."""
    rel = attrs.get("rel", "alternate").lower()
    ctype = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
    return rel == "alternate" and ctype in _fp._HTML_TYPES


def _alternate(links: list[dict[str, str]], base: str) -> str | None:
    href = None
    for attrs in links:  # the last one wins
        if _is_alternate(attrs):
            href = _urljoin(base, attrs["href"])
    return href


def _guid(pair: tuple[Any, _Entry], version: str) -> str | None:
    e, g = pair
    if g.guid is _UNSET:
        if version == "rss10":
            g.guid = _fp._str(g.about)
        else:
            gid = g.texts("guid", e.id, fix=False)
            if gid and (version == "atom10" or g.permalink in (None, "true")):
                gid = _urljoin(g.scope[1], gid)  # feedparser reads a permalink as a URL
            g.guid = _fp._str(_fix(gid))
    return g.guid


def _entry(pair: tuple[Any, _Entry], doc_url: str, version: str) -> EntryData:
    try:
        return _entry_data(pair, doc_url, version)
    except (TypeError, ValueError, AttributeError) as e:
        # the feedparser path skips an entry it cannot convert, with a warning; this
        # one may not fail in the same places
        raise _Declined(f"an entry: {type(e).__name__}: {e}") from None


def _entry_data(pair: tuple[Any, _Entry], doc_url: str, version: str) -> EntryData:
    e, g = pair
    roles, text = g.roles, g.texts
    for role, n in roles.items():
        if n > 1 and role not in _MANY:
            raise _Declined(f"two {role} elements in an entry")
    if roles.get("published") and roles.get("dcdate"):
        raise _Declined("pubDate and dc:date")
    atom = version == "atom10"
    lang, base = g.scope

    content = content_type = None
    if roles.get("content"):
        content_type = g.types.get("content", "text/plain" if atom else "text/html")
        content = _fp._as_html(text("content", e.content[0].value if e.content else None),
                               content_type)
    if roles.get("summary"):
        summary_text = text("summary", e.summary)
        if (summary_text and roles.get("content") and e.content
                and e.summary == e.content[0].value
                and text.written("summary") != text.written("content")):
            raise _Declined("feedparser-rs filled the summary in from the content")
        summary = _fp._as_html(summary_text,
                               g.types.get("summary", "text/plain" if atom else "text/html"))
    elif content_type in ("text/plain", "text/html"):
        summary = content  # feedparser copies the content
    else:
        summary = None

    links = [attrs for is_rss, attrs in g.enclosures if not is_rss]
    if atom:
        link = _alternate(links, base)
    else:
        if any(_is_alternate(x) for x in links):
            raise _Declined("an alternate atom:link in an RSS item")
        link = text("link", e.link, fix=False)
        if link:
            link = _fix(_urljoin(base, link)) or ""
            if "&" in link:
                link = _AMP_REF_RE.sub(r"&\g<1>", link.replace("&amp;", "&"))
    guid = _guid(pair, version)
    if link is None and roles.get("guid") and (atom or g.permalink in (None, "true")):
        link = guid  # a permalink guid stands in for the link

    published = text("published", e.published)
    if roles.get("updated"):
        updated = text("updated", e.updated)
        if (published and updated == published
                and text.written("updated") != text.written("published")):
            raise _Declined("feedparser-rs filled updated in from published")
    else:
        updated = text("dcdate", e.updated or e.published)

    if atom:
        author = None
        if roles.get("atomauthor") and (person := e.author_detail) is not None:
            author = _fp._str(person.name) or _fp._str(person.email)
    else:
        author = _rss_author(text("author", e.author))

    if atom:
        categories = _fp._unique(g.categories)
    else:
        categories = _fp._unique(_fp._str(_fix(t.term)) for t in e.tags or ())

    entry_base = doc_url
    if roles.get("summary") or roles.get("content"):  # the base of summary_detail
        entry_base = _fp._str(base) or doc_url
    enclosures = []
    for is_rss, x in g.enclosures:
        if is_rss:
            enclosures.append((x.get("url"), x.get("type", "").lower(), x.get("length")))
        elif x.get("rel", "").lower() == "enclosure":
            enclosures.append((_urljoin(base, x["href"]), x.get("type", "text/html").lower(),
                               x.get("length")))
    enclosures += [(x.get("url"), x.get("type", "").lower(), x.get("fileSize"))
                   for x in g.media]
    has_detail = roles.get("summary") or roles.get("content") or roles.get("title")
    return EntryData(
        guid=guid,
        link=_join(entry_base, link),
        title=_fp._str(text("title", e.title)),
        summary=summary,
        content=content,
        base=entry_base,
        published=_date(published),
        published_text=_fp._str(published),
        updated=_date(updated),
        updated_text=_fp._str(updated),
        author=author,
        categories=categories,
        enclosures=_fp._enclosures(enclosures, entry_base),
        language=lang.replace("_", "-") if lang and has_detail else None,
    )


def _rss_author(author: str | None) -> str | None:
    """The name feedparser makes of an RSS author ("jane@example.org (Jane Doe)"), with
    its linear e-mail pattern (see :mod:`.feed`)."""
    if not author:
        return None
    name, _email = _fp.split_author(author)
    return _fp._str(name) or _fp._str(author)


#: the two date forms nearly every feed uses, read here when every part is in range;
#: anything else goes to feedparser's own date parser (the same answer, 10x slower)
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|([+-])(\d\d):(\d\d))")
_RFC822_RE = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d\d?) "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) "
    r"(?:GMT|UTC?|Z|([+-])(\d\d)(\d\d))")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _date(text: str | None) -> datetime | None:
    """The date feedparser's ``_parse_date`` gives, as an aware UTC datetime."""
    if not text:
        return None
    if m := _RFC3339_RE.fullmatch(text):
        y, mo, d, h, mi, s, sign, oh, om = m.groups()
        month = int(mo)
    elif m := _RFC822_RE.fullmatch(text):
        d, mon, y, h, mi, s, sign, oh, om = m.groups()
        month = _MONTHS[mon]
    else:
        return _fp.from_struct(_parse_date(text))
    try:
        # out of range (feedparser rolls 24:00 and February 30 over): its parser
        if not (1900 <= int(y) <= 9000 and int(h) < 24 and int(mi) < 60 and int(s) < 60):
            raise ValueError
        value = datetime(int(y), month, int(d), int(h), int(mi), int(s), tzinfo=UTC)
        if sign:
            if int(oh) > 23 or int(om) > 59:
                raise ValueError
            offset = timedelta(hours=int(oh), minutes=int(om))
            value = value - offset if sign == "+" else value + offset
    except ValueError:
        return _fp.from_struct(_parse_date(text))
    return value


def _ttl(text: _Texts, feed: Any) -> float | None:
    """The polling hint, from the same fields :func:`aggregator.parse.feed._ttl_seconds`
    reads."""
    syn = feed.syndication
    return _fp.ttl_seconds(text("ttl", feed.ttl),
                           text("syperiod", syn.update_period if syn else None),
                           text("syfrequency", syn.update_frequency if syn else None))
