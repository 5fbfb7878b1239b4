"""Parse one feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed) into :class:`FeedData`.

    bytes ─► gunzip if the server compressed twice ─┬─ JSON Feed, read by hand
                                                    └─ entries far past max_items cut
                                                       from the bytes ─► fast path
                                                       (parse.fast), else feedparser
          ─► one conversion to EntryData: first ``max_items``, repeated guids dropped

This module and :mod:`aggregator.parse.fast` (feedparser-rs, for the documents it
reads exactly as feedparser does; ~8x faster) are the only ones that import a feed
parser; nothing downstream sees a ``FeedParserDict``. What it does:

- keeps what the publisher wrote: titles raw (they may hold markup), summary and
  content as HTML (text-only fields are escaped here), dates both as parsed and as
  written, each entry's base URL (its xml:base, else the document URL);
- treats a malformed document as triage: what was recovered is kept and the reason
  goes to ``FeedData.warnings``; :class:`ParseError` only when the document is not a
  feed at all and yields nothing.
- keeps hostile documents bounded: a stray gzip layer inflates to ``max_bytes`` at
  most, entries far past ``max_items`` are cut before feedparser sees them, and
  feedparser's quadratic author e-mail search is replaced by a linear one.

What it does not do: sanitize HTML, clean titles, choose guids, judge dates or
canonicalize URLs (all :mod:`aggregator.normalize`), fetch anything, or read HTML
listings (:mod:`aggregator.parse.html`).
"""

from __future__ import annotations

import html
import json
import math
import re
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit
from xml.sax import SAXParseException

import feedparser
from feedparser.exceptions import CharacterEncodingOverride, CharacterEncodingUnknown
from feedparser.mixin import _FeedParserMixin
from feedparser.util import FeedParserDict

from aggregator.errors import ParseError
from aggregator.models import Enclosure, EntryData, FeedData
from aggregator.parse import fast

__all__ = ["parse_feed"]

T = TypeVar("T")

#: a gzip body is inflated to at most this much unless the caller says less (the
#: poll passes ``[fetch] max_bytes``): a compression bomb stops here
MAX_INFLATED = 32 * 1024 * 1024

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_TEXT_TYPES = frozenset({"text/plain", "text"})
_JSON_TYPES = ("application/feed+json", "application/json")
_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?([\w.:-]+)""", re.I)
_HTML_START_RE = re.compile(
    rb"^(?:\xef\xbb\xbf)?(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html[\s>]|head[\s>])", re.I | re.S
)
# <item>, <entry>, <rss:item>, <atom:entry> (not <items>, RSS 1.0's table of contents)
_ENTRY_START_RE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_ENTRY_END_RE = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>|"
                           rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\b[^>]*/>")
_SY_PERIODS = {
    "hourly": 3600.0,
    "daily": 86400.0,
    "weekly": 7 * 86400.0,
    "monthly": 30 * 86400.0,
    "yearly": 365 * 86400.0,
}


def parse_feed(
    content: bytes,
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    max_items: int = 1000,
    max_bytes: int = MAX_INFLATED,
) -> FeedData:
    """Parse a feed document fetched from ``url``.

    ``headers`` are the HTTP response headers (any case); the content type and its
    charset choose the decoding. Raises :class:`ParseError` when the body is not a
    feed at all (empty, an HTML page, JSON without ``items``). ``max_bytes`` bounds
    a body that arrives gzip-compressed without saying so, once inflated: the fetch
    could only count its compressed bytes.
    """
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    warnings: list[str] = []
    # whitespace before <?xml is common (PHP) and makes the strict parser give up
    content = _inflate_stray_gzip(content, url, warnings, max_bytes).lstrip(b" \t\r\n")
    if not content:
        raise ParseError(url, "not a feed: the document is empty")
    # the body decides before the header: servers mislabel feeds both ways
    first = content.removeprefix(b"\xef\xbb\xbf")[:1]
    media_type = hdrs.get("content-type", "").split(";", 1)[0].strip().lower()
    if first == b"{" or (first != b"<" and media_type in _JSON_TYPES):
        return _parse_json_feed(content, url, max_items, warnings)
    return _parse_xml_feed(content, url, hdrs, max_items, warnings)


# -- XML feeds through feedparser ------------------------------------------------------


def _parse_xml_feed(
    content: bytes, url: str, hdrs: dict[str, str], max_items: int, warnings: list[str]
) -> FeedData:
    response_headers = {
        "content-type": _xml_content_type(hdrs.get("content-type", "")),
        # feedparser resolves <link> and xml:base against this
        "content-location": url,
    }
    if hdrs.get("content-language"):
        response_headers["content-language"] = hdrs["content-language"]
    content, cut = _cut_excess_entries(content, max_items)
    # feedparser-rs, where it reads the document as feedparser would (see .fast)
    if fast.ENABLED and (quick := fast.parse(content, url, hdrs, max_items, warnings, cut)):
        return quick
    # We sanitize with nh3 and resolve links ourselves: feedparser's own passes
    # are 30-50% of its time and would be thrown away.
    d = feedparser.parse(
        content,
        sanitize_html=False,
        resolve_relative_uris=False,
        response_headers=response_headers,
    )
    raw_entries: list[Any] = d.get("entries") or []
    version: str = d.get("version") or ""
    bozo_exc: BaseException | None = d.get("bozo_exception") if d.get("bozo") else None

    if not raw_entries and not version:
        reason = _not_a_feed_reason(content, bozo_exc)
        if bozo_exc is not None:
            raise ParseError(url, reason) from bozo_exc
        raise ParseError(url, reason)

    entries = _take_entries(raw_entries, _xml_guid, lambda e: _xml_entry(e, url), max_items,
                            warnings, cut)
    if bozo_exc is not None:
        warnings.insert(0, f"{_bozo_reason(bozo_exc)} — recovered {len(raw_entries)} entries")

    feed = d.get("feed") or {}
    return FeedData(
        url=url,
        format=version or "unknown",
        title=_str(feed.get("title")),
        link=_join(url, feed.get("link")),
        language=_str(feed.get("language")) or _str(hdrs.get("content-language")),
        entries=entries,
        ttl=_ttl_seconds(feed),
        warnings=tuple(warnings),
    )


def _cut_excess_entries(content: bytes, max_items: int) -> tuple[bytes, int]:
    """Remove entries far past ``max_items`` from the bytes, before feedparser sees them.

    feedparser needs ~0.2 ms per entry and cannot stop early: 50,000 entries cost
    8 s to keep 1,000. Entries are siblings, so cutting from the start of one entry
    to the end of the last one leaves a well-formed document with the feed's own
    tail (``</channel></rss>``, trailing metadata). A margin beyond ``max_items``
    leaves room for repeated guids. Returns the bytes and how many entries were cut.
    """
    keep = max_items + max(10, max_items // 10)
    starts = _ENTRY_START_RE.finditer(content)
    cut_at = next(islice(starts, keep, None), None)
    if cut_at is None:
        return content, 0
    last_end = deque(_ENTRY_END_RE.finditer(content, cut_at.start()), maxlen=1)
    if not last_end:
        return content, 0
    cut = 1 + sum(1 for _ in starts)
    return content[: cut_at.start()] + content[last_end[0].end():], cut


def _xml_content_type(content_type: str) -> str:
    """The content type handed to feedparser: application/xml, keeping the charset.

    feedparser follows RFC 3023: text/xml without a charset is read as us-ascii and
    a missing Content-Type as iso-8859-1 (which never fails, so UTF-8 turns into
    mojibake). RFC 7303 replaced that: charset parameter, then BOM, then the XML
    declaration, then UTF-8, whatever the media type. application/xml gets exactly
    that from feedparser.
    """
    m = _CHARSET_RE.search(content_type)
    return f"application/xml; charset={m.group(1)}" if m else "application/xml"


def _xml_guid(e: Mapping[str, Any]) -> str | None:
    return _str(e.get("id"))


def _xml_entry(e: dict[str, Any], doc_url: str) -> EntryData:
    summary_detail: Mapping[str, Any] = e.get("summary_detail") or {}
    contents: Sequence[Mapping[str, Any]] = e.get("content") or []
    first_content = contents[0] if contents else {}
    base = _str(summary_detail.get("base")) or _str(first_content.get("base")) or doc_url

    content = None
    for c in contents:
        content = _as_html(c.get("value"), c.get("type"))
        if content:
            break
    summary_value = e.get("summary")
    summary_type = summary_detail.get("type")
    if summary_type is None and contents and summary_value == first_content.get("value"):
        # feedparser copied the content into summary (no summary_detail then)
        summary_type = first_content.get("type")
    summary = _as_html(summary_value, summary_type)

    detail = summary_detail or first_content or e.get("title_detail") or {}
    author_detail = e.get("author_detail") or {}
    published, published_text = _date_pair(e, "published")
    updated, updated_text = _date_pair(e, "updated")
    return EntryData(
        guid=_xml_guid(e),
        link=_join(base, e.get("link")),
        title=_str(e.get("title")),
        summary=summary,
        content=content,
        base=base,
        published=published,
        published_text=published_text,
        updated=updated,
        updated_text=updated_text,
        author=_str(author_detail.get("name")) or _str(e.get("author")),
        categories=_unique(_str(t.get("term")) or _str(t.get("label"))
                           for t in e.get("tags") or ()),
        enclosures=_enclosures(
            [(x.get("href"), x.get("type"), x.get("length"))
             for x in e.get("links") or () if x.get("rel") == "enclosure"]
            + [(x.get("url"), x.get("type"), x.get("filesize") or x.get("fileSize"))
               for x in e.get("media_content") or ()],
            base,
        ),
        language=_str(detail.get("language")),
    )


def _date_pair(e: dict[str, Any], key: str) -> tuple[datetime | None, str | None]:
    # dict.get, not FeedParserDict.get: the latter maps a missing "updated" to
    # "published" (with a DeprecationWarning), and we want each as written.
    return from_struct(dict.get(e, key + "_parsed")), _str(dict.get(e, key))


def from_struct(parsed: object) -> datetime | None:
    """feedparser's parsed date (a UTC ``struct_time``) as an aware datetime, or None."""
    if isinstance(parsed, time.struct_time):
        try:
            return datetime(*parsed[:6], tzinfo=UTC)
        except (ValueError, OverflowError):
            pass
    return None


def _ttl_seconds(feed: Mapping[str, Any]) -> float | None:
    return ttl_seconds(feed.get("ttl"), feed.get("sy_updateperiod"),
                       feed.get("sy_updatefrequency"))


def ttl_seconds(ttl: Any, period: Any, frequency: Any) -> float | None:
    """The publisher's polling hint: RSS <ttl> (minutes), else sy:updatePeriod/Frequency."""
    minutes = _number(ttl)
    if minutes is not None and minutes > 0:
        return minutes * 60
    seconds = _SY_PERIODS.get((_str(period) or "").lower())
    if seconds is None:
        return None
    times = _number(frequency)
    return seconds / times if times and times > 0 else seconds


def _bozo_reason(exc: BaseException) -> str:
    return " ".join(_describe_bozo(exc).split())  # warnings are one line each


def _describe_bozo(exc: BaseException) -> str:
    if isinstance(exc, SAXParseException):
        return f"not well-formed XML (line {exc.getLineNumber()}: {exc.getMessage()})"
    if isinstance(exc, CharacterEncodingOverride):
        return f"wrong encoding declared ({exc})"
    if isinstance(exc, CharacterEncodingUnknown):
        return "unknown encoding, read as UTF-8 with replacement characters"
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


def _not_a_feed_reason(content: bytes, exc: BaseException | None) -> str:
    if _HTML_START_RE.match(content[:4096]):
        return "not a feed: looks like an HTML page"
    if isinstance(exc, SAXParseException):
        return f"not a feed: {_bozo_reason(exc)}, and no entries could be recovered"
    return "not a feed: no RSS, Atom or JSON Feed document found"


def _inflate_stray_gzip(content: bytes, url: str, warnings: list[str], limit: int) -> bytes:
    """Undo a second gzip layer (servers that compress a .gz file again, or twice).

    At most ``limit`` bytes come out: a megabyte of gzip can be a gigabyte inflated.
    """
    if not content.startswith(b"\x1f\x8b"):
        return content
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, limit)
    except zlib.error as e:
        raise ParseError(url, "not a feed: gzip-compressed body that cannot be "
                              "decompressed") from e
    if inflater.unconsumed_tail:
        raise ParseError(url, f"not a feed: gzip-compressed body over {_size(limit)} when "
                              "decompressed")
    warnings.append("body was gzip-compressed without Content-Encoding; decompressed it")
    return out


# -- feedparser's author pattern, in linear time ----------------------------------------

# feedparser looks for an e-mail address in RSS author text (<author>, <dc:creator>,
# <managingEditor>, <itunes:author>, …) with an unanchored pattern that starts again at
# every character of a run of address characters: time quadratic in the run (20 KB of
# letters: 2 s; a 5 MB author: days, with the poll's event loop blocked). Allowed to
# start only where such a run starts, the same pattern finds the same leftmost address
# (from inside a run it would reach the same "@" and fail or match the same way) in
# linear time. Below, feedparser 6.0's method with that one change.
_AUTHOR_EMAIL_RE = re.compile(
    r"(?<![a-zA-Z0-9_\-.+])"
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)


def split_author(author: str) -> tuple[str, str | None]:
    """feedparser's split of an author line ("jane@example.org (Jane Doe)") into name
    and e-mail, with the linear e-mail pattern."""
    email = None
    if emailmatch := _AUTHOR_EMAIL_RE.search(author):
        email = emailmatch.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        if author and author[0] == "(":
            author = author[1:]
        if author and author[-1] == ")":
            author = author[:-1]
        author = author.strip()
    return author, email


def _sync_author_detail(self: Any, key: str = "author") -> None:
    context = self._get_context()
    detail = context.get(f"{key}s", [FeedParserDict()])[-1]
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name and email:
            context[key] = f"{name} ({email})"
        elif name:
            context[key] = name
        elif email:
            context[key] = email
        return
    author = context.get(key)
    if not author:
        return
    author, email = split_author(author)
    if author or email:
        context.setdefault(f"{key}_detail", detail)
    if author:
        detail["name"] = author
    if email:
        detail["email"] = email


assert hasattr(_FeedParserMixin, "_sync_author_detail"), "feedparser changed: see above"
_FeedParserMixin._sync_author_detail = _sync_author_detail


# -- JSON Feed 1.0 / 1.1 (feedparser cannot read it) ------------------------------------


def _parse_json_feed(content: bytes, url: str, max_items: int,
                     warnings: list[str]) -> FeedData:
    try:
        doc = json.loads(content)
    except ValueError as e:
        raise ParseError(url, f"not a feed: invalid JSON ({e})") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError(url, "not a feed: JSON without an items list")
    version = _str(doc.get("version")) or ""
    fmt = "json11" if version.endswith("/1.1") else "json10" if version.endswith("/1") else "json"
    language = _str(doc.get("language"))
    feed_author = _json_author(doc)
    items = doc["items"]
    bad = sum(1 for i in items if not isinstance(i, dict))
    if bad:
        warnings.append(f"skipped {bad} item(s) that are not JSON objects")
        items = [i for i in items if isinstance(i, dict)]
    return FeedData(
        url=url,
        format=fmt,
        title=_str(doc.get("title")),
        link=_join(url, doc.get("home_page_url")),
        language=language,
        entries=_take_entries(items, _json_guid,
                              lambda i: _json_entry(i, url, feed_author), max_items, warnings),
        warnings=tuple(warnings),
    )


def _json_guid(item: Mapping[str, Any]) -> str | None:
    gid = item.get("id")
    # the spec says string; numbers are common in the wild (but True is not an id)
    if isinstance(gid, int | float) and not isinstance(gid, bool):
        return str(gid)
    return _str(gid)


def _json_author(obj: Mapping[str, Any]) -> str | None:
    """Names of ``authors`` (1.1), else of ``author`` (1.0), joined."""
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj.get("author")]
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _json_entry(item: Mapping[str, Any], doc_url: str, feed_author: str | None) -> EntryData:
    content = _str(item.get("content_html"))
    if content is None:
        content = _as_html(_str(item.get("content_text")), "text/plain")
    tags = item.get("tags")
    attachments = item.get("attachments")
    published_text = _str(item.get("date_published"))
    updated_text = _str(item.get("date_modified"))
    return EntryData(
        guid=_json_guid(item),
        link=_join(doc_url, _str(item.get("url")) or item.get("external_url")),
        title=_str(item.get("title")),
        summary=_as_html(_str(item.get("summary")), "text/plain"),
        content=content,
        base=doc_url,
        published=_rfc3339(published_text),
        published_text=published_text,
        updated=_rfc3339(updated_text),
        updated_text=updated_text,
        author=_json_author(item) or feed_author,
        categories=_unique(_str(t) for t in tags) if isinstance(tags, list) else (),
        enclosures=_enclosures(
            [(a.get("url"), a.get("mime_type"), a.get("size_in_bytes"))
             for a in attachments if isinstance(a, dict)]
            if isinstance(attachments, list) else [],
            doc_url,
        ),
        language=_str(item.get("language")),
    )


def _rfc3339(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None  # normalize tries harder with the text
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


# -- shared helpers --------------------------------------------------------------------


def _take_entries(
    raw: Sequence[T],
    guid_of: Callable[[T], str | None],
    convert: Callable[[T], EntryData],
    max_items: int,
    warnings: list[str],
    cut_before_parsing: int = 0,
) -> tuple[EntryData, ...]:
    """Convert the first ``max_items`` entries, keeping the first of each repeated guid.

    Entries past the limit are never converted. ``cut_before_parsing`` counts those
    that :func:`_cut_excess_entries` removed from the bytes, for the warning.
    """
    out: list[EntryData] = []
    seen: set[str] = set()
    consumed = repeated = failed = 0
    for r in raw:
        if len(out) >= max_items:
            break
        consumed += 1
        guid = guid_of(r)
        if guid is not None:
            if guid in seen:
                repeated += 1
                continue
            seen.add(guid)
        try:
            out.append(convert(r))
        except (TypeError, ValueError, AttributeError) as e:
            # one malformed entry must not cost the others
            failed += 1
            if failed == 1:
                warnings.append(f"skipped entry {consumed}: {type(e).__name__}: {e}")
    if failed > 1:
        warnings.append(f"skipped {failed} malformed entries in all")
    if repeated:
        warnings.append(f"{repeated} entries repeated an earlier guid; kept the first of each")
    dropped = len(raw) - consumed + cut_before_parsing
    if dropped:
        warnings.append(f"max_items is {max_items}: kept the first {len(out)} entries, "
                        f"dropped {dropped} more")
    return tuple(out)


def _as_html(value: object, content_type: object) -> str | None:
    """Summary/content as HTML: text is escaped; other media types (images, base64) dropped."""
    text = _str(value)
    if text is None:
        return None
    ctype = str(content_type or "text/html").lower()
    if ctype in _TEXT_TYPES:
        return html.escape(text, quote=False)
    return text if ctype in _HTML_TYPES else None


def _enclosures(
    raw: Iterable[tuple[object, object, object]], base: str
) -> tuple[Enclosure, ...]:
    out: dict[str, Enclosure] = {}
    for href, ctype, length in raw:
        absolute = _join(base, href)
        if absolute is None or absolute in out or not _is_http(absolute):
            continue
        size = _number(length)
        out[absolute] = Enclosure(
            url=absolute,
            type=_str(ctype) or "",
            length=int(size) if size is not None and size >= 0 else None,
        )
    return tuple(out.values())


def _join(base: str, ref: object) -> str | None:
    """``ref`` made absolute against ``base``; None when missing or unparseable."""
    text = _str(ref)
    try:
        return urljoin(base, text) if text else None
    except ValueError:  # e.g. a broken IPv6 literal: the link is lost, not the entry
        return None


def _is_http(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:
        return False


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _str(value: object) -> str | None:
    """A stripped non-empty string, or None (feeds put anything anywhere)."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None
