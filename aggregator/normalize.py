"""The normalize stage: parsed entries in, :class:`~aggregator.models.Item` copies out.

    FeedData.entries ─► link + canonical URL ─► sanitized HTML ─► plain text
                     ─► one-line title ─► dates (aware UTC, plausible) ─► guid, hash

What it does: gives every entry a stable identity (guid, else canonical link, else a
hash of its title and summary), a dedup key (:func:`canonical_url`), HTML that is
safe to publish as it is (:func:`sanitize_html`: nh3, a small tag set, links
resolved and marked nofollow), a single-line title, plain text for matching, dates
as aware UTC or None, and caps on every field.

What it does not do: any I/O (pure, the clock is ``now``), decide which copies are
duplicates (dedupe does, with ``canonical_url`` and ``content_hash``), tag, or
choose a fallback date (a None date means "use first seen", which the store knows).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import string
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote, urljoin, urlsplit

import nh3
from dateutil import parser as dateutil_parser

from aggregator.language import detect_language, primary
from aggregator.models import Enclosure, EntryData, FeedData, Item, SourceDef

__all__ = [
    "canonical_url",
    "choose_guid",
    "clean_title",
    "normalize_date",
    "normalize_entries",
    "plain_text",
    "sanitize_html",
]

#: no string field of an Item is longer than this, in UTF-8 bytes
MAX_FIELD = 1024 * 1024
MAX_TITLE = 1024
MAX_GUID = 512
#: a longer link is not one anybody can follow; the entry is kept without it
MAX_URL = 16 * 1024
#: more categories or enclosures than this are a broken or hostile feed
MAX_CATEGORIES = 100
MAX_ENCLOSURES = 100
#: the length of a title made from the text of an untitled entry
UNTITLED_LENGTH = 80
#: dates outside [EARLIEST, now + FUTURE_SLACK] are typos or placeholders
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=2)

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "_ga", "_hsenc",
    "_hsmi", "igshid", "ref_src", "yclid",
})
TRACKING_PREFIXES = ("utm_",)
INDEX_FILES = frozenset({"index.html", "index.htm", "index.php"})

ALLOWED_TAGS = frozenset({
    "p", "br", "a", "strong", "em", "b", "i", "u", "blockquote", "q", "ul", "ol", "li",
    "h2", "h3", "h4", "h5", "h6", "pre", "code", "img", "figure", "figcaption",
    "table", "thead", "tbody", "tr", "th", "td", "hr", "sub", "sup", "abbr", "cite",
    "dl", "dt", "dd",
})
ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "img": frozenset({"src", "alt", "title", "width", "height"}),
    "td": frozenset({"colspan", "rowspan"}),
    "th": frozenset({"colspan", "rowspan"}),
    "abbr": frozenset({"title"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"
#: elements whose text is code, a fallback or a drawing, never readable content
CLEAN_CONTENT_TAGS = frozenset({
    "script", "style", "template", "iframe", "svg", "math", "noembed", "noframes",
    # parsed as raw text: its <img> fallbacks would show as literal markup
    "noscript",
})

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PCT_RE = re.compile(r"%([0-9A-Fa-f]{2})")
_LONE_PCT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&'()*+,;=%"
_QUERY_SAFE = "/?:@!$'()*+,;%"
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: dropped from a link, as browsers drop them (a line break inside an href)
_URL_IGNORED_RE = re.compile("[\t\r\n]")
#: never valid in a URL (RFC 3986): percent-encoded
_URL_UNSAFE_RE = re.compile('[\x00-\x20\x7f"<>`]')
_TOKEN = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
#: type/subtype and parameters (RFC 9110 §8.3.1), a quoted value without quotes inside
_MEDIA_TYPE_RE = re.compile(
    rf'{_TOKEN}/{_TOKEN}(?:\s*;\s*{_TOKEN}=(?:{_TOKEN}|"[^"\\]*"))*')
#: a space before block-level tags, so "<p>a</p><p>b</p>" reads "a b", not "ab"
_BLOCK_TAG_RE = re.compile(
    r"<(?=/?(?:p|div|br|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|blockquote|pre|hr"
    r"|section|article|header|footer|aside|figure|figcaption|address)\b)",
    re.I,
)
#: block elements nh3 unwraps: a space before each keeps "<div>a</div><div>b</div>"
#: from becoming "ab". Only tags that never survive, so a second pass adds nothing.
_UNWRAPPED_BLOCK_RE = re.compile(
    r"<(?=/?(?:div|section|article|header|footer|aside|address|main|nav|center|details"
    r"|summary|form|fieldset)\b)",
    re.I,
)
_LANGUAGE_RE = re.compile(r"^[a-z]{1,8}(?:-[a-z0-9]{1,8})*$")
_MAX_TITLE_PASSES = 10

#: in ASCII text, the only characters HTML parsing changes or drops: without them
#: stripping tags is the identity (most titles, authors and categories)
_HTML_SIGNIFICANT = ("<", "&", "\r", "\x00")

# tags=set(): every tag goes, its text stays (except CLEAN_CONTENT_TAGS); comments go
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags=set(CLEAN_CONTENT_TAGS),
                            attributes={}, link_rel=None)


# -- the stage -------------------------------------------------------------------------


def normalize_entries(
    source: SourceDef,
    feed: FeedData,
    *,
    now: datetime,
    host_aliases: Sequence[Sequence[str]] = (),
    detect: bool = True,
) -> list[Item]:
    """One Item per usable entry of ``feed``, in document order.

    Entries with no link, no title and no text are left out, and so is an entry
    whose guid repeats an earlier one (entries without a guid get their canonical
    link as guid, and two may share it).

    ``detect=False`` leaves each item's language at what the feed declares (its
    primary subtag): :func:`with_language` then detects it for the items that need it,
    with the very answer ``detect=True`` gives.
    """
    items: list[Item] = []
    seen: set[str] = set()
    for entry in feed.entries:
        item = _normalize_entry(source.id, feed, entry, now, host_aliases, detect)
        if item is not None and item.guid not in seen:
            seen.add(item.guid)
            items.append(item)
    return items


def _normalize_entry(
    source_id: str,
    feed: FeedData,
    entry: EntryData,
    now: datetime,
    host_aliases: Sequence[Sequence[str]],
    detect: bool,
) -> Item | None:
    base = entry.base or feed.url
    link = _http_url(entry.link, base)
    canonical = canonical_url(link, host_aliases) if link else None

    summary, places = split_publisher_metadata(entry.summary)
    summary_html = _sanitized_field(summary, base)
    content_html = _sanitized_field(entry.content, base)
    if content_html == summary_html:
        content_html = ""
    summary_text = plain_text(summary_html)
    body_text = " ".join(t for t in (summary_text, plain_text(content_html)) if t)
    title = clean_title(entry.title)
    if not (link or title or body_text):
        return None
    text = _cut_utf8(" ".join(t for t in (title, body_text) if t), MAX_FIELD)
    if not title:
        # clean_title again: escaped markup in the text is still markup in a title
        title = clean_title(truncate(body_text, UNTITLED_LENGTH)) or "(untitled)"

    declared = _language(entry.language) or _language(feed.language)
    updated = normalize_date(entry.updated, entry.updated_text, now=now)
    # Atom only requires <updated>; it is the best date such an entry has
    published = normalize_date(entry.published, entry.published_text, now=now) or updated
    return Item(
        source_id=source_id,
        guid=choose_guid(entry.guid, canonical, title, summary_text or body_text),
        url=link,
        canonical_url=canonical,
        title=title,
        summary_html=summary_html,
        content_html=content_html,
        text=text,
        author=clean_title(entry.author) or None,
        published=published,
        updated=updated,
        categories=_unique(clean_title(c) for c in (*entry.categories, *places))[:MAX_CATEGORIES],
        enclosures=tuple(
            Enclosure(url=url, type=_media_type(e.type), length=e.length)
            for e in entry.enclosures[:MAX_ENCLOSURES]
            if (url := _http_url(e.url, base))
        ),
        language=(detect_language(text, declared) if detect else primary(declared)),
        content_hash=_sha256(_fold(title) + "\n" + _fold(text)),
    )


def with_language(item: Item) -> Item:
    """``item`` normalized with ``detect=False``, its language detected."""
    return replace(item, language=detect_language(item.text, item.language))


#: ReliefWeb opens descriptions with <div class="tag country">Country: Libya</div> and
#: <div class="tag source">Source: UNODC</div>: metadata, not text
_METADATA_DIV_RE = re.compile(
    r'\A\s*<div\s+class="tag\s+([a-z-]+)"\s*>\s*([^<:]{1,40}):\s*([^<]{0,500})</div>', re.I)


def split_publisher_metadata(html_: str | None) -> tuple[str | None, tuple[str, ...]]:
    """Take leading publisher metadata blocks off an HTML summary.

    Returns the rest of the HTML and the places they named (as categories, which
    tagging reads); the source and theme blocks are dropped.
    """
    if not html_:
        return html_, ()
    places: list[str] = []
    while m := _METADATA_DIV_RE.match(html_):
        if m.group(1).lower() == "country":
            places.extend(p.strip() for p in m.group(3).split(",") if p.strip())
        html_ = html_[m.end():]
    return html_, tuple(places)


def choose_guid(guid: str | None, canonical: str | None, title: str, text: str) -> str:
    """The copy's stable identity: the entry's guid, else its canonical link, else a hash.

    The hash covers the title and summary text only, never dates or counters that a
    publisher changes without changing the story.
    """
    guid = (guid or "").strip()
    if guid:
        return guid if len(guid) <= MAX_GUID else "sha256:" + _sha256(guid)
    if canonical:
        return canonical if len(canonical) <= MAX_GUID else "sha256:" + _sha256(canonical)
    return "sha256:" + _sha256(_fold(title) + "\n" + _fold(text))


# -- URLs ------------------------------------------------------------------------------


def canonical_url(url: str | None, host_aliases: Sequence[Sequence[str]] = ()) -> str | None:
    """The dedup key of a link: one spelling for every way of writing the same page.

    https, lower-case IDNA host without ``www.`` (alias groups map to their first
    host), no default port, fragment, tracking parameters or credentials, the query
    sorted, no trailing slash or final ``index.html``, percent-encoding normalized.
    Not a URL to fetch: the https it claims may not exist. None for non-http(s).
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = _host(parts.hostname)
    host = _alias_map(_freeze(host_aliases)).get(host, host)
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    # the scheme's own default port goes, and so does 443: the key says https
    if port is not None and port not in (443, 80 if scheme == "http" else 443):
        host = f"{host}:{port}"

    path = _normalize_percent(parts.path, _PATH_SAFE) or "/"
    head, _, last = path.rpartition("/")
    if last.lower() in INDEX_FILES:
        path = head + "/"
    path = path.rstrip("/") or "/"

    pairs = []
    for pair in parts.query.split("&"):
        name, eq, value = pair.partition("=")
        key = unquote(name).lower()
        if not pair or key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
            continue
        pairs.append((_normalize_percent(name, _QUERY_SAFE), eq,
                      _normalize_percent(value, _QUERY_SAFE + "=")))
    query = "&".join(n + eq + v for n, eq, v in sorted(pairs))
    return f"https://{host}{path}" + (f"?{query}" if query else "")


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    # an over-long or empty label fails IDNA: keep it as written, it still compares
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    return host[4:] if host.startswith("www.") else host


def _freeze(groups: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(g) for g in groups)


@lru_cache(maxsize=32)
def _alias_map(groups: tuple[tuple[str, ...], ...]) -> dict[str, str]:
    """Each alias host (as :func:`_host` spells it) to its group's first host."""
    aliases: dict[str, str] = {}
    for group in groups:
        if group:
            first = _host(group[0])
            aliases.update((_host(h), first) for h in group)
    return aliases


def _normalize_percent(component: str, safe: str) -> str:
    """Decode %XX of unreserved characters, upper-case the rest, encode what must be."""
    component = _LONE_PCT_RE.sub("%25", component)

    def fix(m: re.Match[str]) -> str:
        char = chr(int(m.group(1), 16))
        return char if char in _UNRESERVED else "%" + m.group(1).upper()

    return quote(_PCT_RE.sub(fix, component), safe=safe)


def _http_url(url: str | None, base: str | None) -> str | None:
    """``url`` made absolute, if it is http(s) and of a followable length.

    Characters no URL may hold (spaces, quotes, angle brackets, controls) are
    percent-encoded as a browser would: a link goes on into attributes of feeds and
    pages, and a consumer that builds markup by hand must never meet a quote in one
    (``http://x/a.mp3"onerror="alert(1)`` stays a harmless, unusual path).
    """
    if not url or not url.strip():
        return None
    try:
        absolute = urljoin(base or "", _URL_IGNORED_RE.sub("", url.strip()))
        scheme = urlsplit(absolute).scheme
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    absolute = _URL_UNSAFE_RE.sub(lambda m: f"%{ord(m.group()):02X}", absolute)
    return absolute if scheme in ("http", "https") and len(absolute) <= MAX_URL else None


def _media_type(value: str | None) -> str:
    """An enclosure's type when it is a media type ("audio/mpeg", parameters kept), else "".

    Feeds put anything there (``audio/mpeg" onload="…``); the type goes on into
    attributes of every output, so what is not a media type is dropped.
    """
    kind = clean_title(value)
    return kind if len(kind) <= 255 and _MEDIA_TYPE_RE.fullmatch(kind) else ""


# -- HTML and text ---------------------------------------------------------------------


def sanitize_html(html_: str, base: str | None) -> str:
    """``html_`` reduced to a safe subset, with relative links made absolute.

    Allowed: :data:`ALLOWED_TAGS` (``h1`` becomes ``h2``: the page owns its
    heading), :data:`ALLOWED_ATTRIBUTES`, URLs with :data:`URL_SCHEMES` only. Links get
    ``rel="noopener noreferrer nofollow"``; script and style go with their content;
    comments go. Idempotent: sanitizing the output again returns it unchanged.
    """
    if not html_:
        return ""
    cleaned = _cleaner(base).clean(_UNWRAPPED_BLOCK_RE.sub(" <", html_))
    # nh3 escapes every "<" of text and attribute values, so what is left of
    # "<h1" is a tag; h1 has no allowed attributes, so the tag is exactly <h1>
    return cleaned.replace("<h1>", "<h2>").replace("</h1>", "</h2>")


@lru_cache(maxsize=256)
def _cleaner(base: str | None) -> nh3.Cleaner:
    """One cleaner per base URL (nh3 fixes the base at construction; feeds reuse few)."""
    if base:
        try:
            if urlsplit(base).scheme in ("http", "https"):
                return _new_cleaner(("rewrite_with_base", base))
        except ValueError:  # a base no URL parser accepts
            pass
    return _new_cleaner("deny")  # no base: a relative link would lead nowhere


def _new_cleaner(url_relative: nh3.UrlRelative) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS) | {"h1"},
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        # "*": nothing, else nh3 allows its defaults (lang, title) on every tag
        attributes={"*": set()} | {tag: set(a) for tag, a in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative=url_relative,
    )


def plain_text(html_: str) -> str:
    """The readable text of ``html_``, entities decoded, whitespace collapsed to spaces."""
    if not html_:
        return ""
    return " ".join(_CONTROL_RE.sub(" ", _strip_tags(html_)).split())


def _strip_tags(html_: str) -> str:
    if html_.isascii() and not any(c in html_ for c in _HTML_SIGNIFICANT):
        return html_  # what parsing and serializing it would give back
    return _parsed_text(html_)


def _parsed_text(html_: str) -> str:
    """The text of ``html_`` through the HTML parser (what :func:`_strip_tags` skips)."""
    return html.unescape(_TEXT_CLEANER.clean(_BLOCK_TAG_RE.sub(" <", html_)))


def clean_title(raw: str | None) -> str:
    """A title as one line of plain text, at most :data:`MAX_TITLE` characters.

    Tags are stripped and entities decoded until nothing changes: escaped markup
    in a title is still markup (``&lt;script&gt;x&lt;/script&gt;News`` is "News").
    Control characters and line breaks become spaces (no header injection).
    """
    return truncate(markup_free_text(raw), MAX_TITLE)


def markup_free_text(raw: str | None) -> str:
    """One line of plain text with no markup left, escaped markup included.

    For plain-text fields that readers are known to render as HTML anyway (titles,
    JSON Feed summaries): tags are stripped and entities decoded until nothing
    changes.
    """
    if not raw:
        return ""
    text = raw[:MAX_FIELD]  # bounds the work on a hostile field
    for _ in range(_MAX_TITLE_PASSES):
        stripped = _strip_tags(text)
        if stripped == text:
            break
        text = stripped
    else:
        # still changing after many passes: escaping nested on purpose
        text = text.replace("<", "").replace(">", "")
    return " ".join(_CONTROL_RE.sub(" ", text).split())


def _sanitized_field(value: str | None, base: str) -> str:
    if not value:
        return ""
    limit = MAX_FIELD
    out = sanitize_html(_cut_utf8(value, limit), base)
    # sanitizing may lengthen (rel attributes, escapes): cut more, clean again
    while len(out.encode("utf-8")) > MAX_FIELD:
        limit = limit * 9 // 10
        out = sanitize_html(_cut_utf8(out, limit), base)
    return out


# -- dates -----------------------------------------------------------------------------


_MONTH_NAMES = (
    "january jan janvier janv enero ene января январь",
    "february feb février fevrier févr fevr febrero февраля февраль",
    "march mar mars marzo марта март",
    "april apr avril avr abril апреля апрель",
    "may mai mayo мая май",
    "june jun juin junio июня июнь",
    "july jul juillet juil julio июля июль",
    "august aug août aout agosto августа август",
    "september sep sept septembre septiembre setiembre сентября сентябрь",
    "october oct octobre octubre октября октябрь",
    "november nov novembre noviembre ноября ноябрь",
    "december dec décembre decembre déc diciembre dic декабря декабрь",
)  # English, French, Spanish, Russian: the languages UNODC listings carry
_MONTHS = {name: n for n, names in enumerate(_MONTH_NAMES, 1) for name in names.split()}
_MONTH_RE = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))
# "7 April 2022", "1er mars 2020", "5 de abril de 2021", "7 апреля 2022 г."
_DAY_MONTH_YEAR_RE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º)?\.?\s+(?:de\s+)?({_MONTH_RE})\.?,?\s+(?:de\s+)?(\d{{4}})\b",
    re.I,
)
# "April 7, 2022"
_MONTH_DAY_YEAR_RE = re.compile(
    rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I
)
# "06/10/2010", "06.10.2010 14:30" (day first, as UNODC and most of the world write),
# "2010/10/06" (year first is always year-month-day)
_TIME = r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
_NUMERIC_DMY_RE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})" + _TIME)
_NUMERIC_YMD_RE = re.compile(r"^(\d{4})[./](\d{1,2})[./](\d{1,2})" + _TIME)


def normalize_date(
    parsed: datetime | None, text: str | None, *, now: datetime
) -> datetime | None:
    """An aware UTC datetime, or None when there is none or it is implausible.

    ``parsed`` (what the feed parser understood) wins; else ``text`` is read:
    day-first numeric dates, ISO 8601 (also ``2013-04-26 15:41:29.0``), RFC 822,
    written dates (``26 April 2013``) also inside a dateline ("Male, 7 April 2022 -").
    Naive times are UTC. Before 1990 or more than two days after ``now``: None.
    """
    value = _utc(parsed) if parsed is not None else _parse_date_text(text)
    if value is None or value < EARLIEST or value > _utc(now) + FUTURE_SLACK:
        return None
    return value


def _parse_date_text(text: str | None) -> datetime | None:
    text = " ".join((text or "").split())[:200]
    if not text:
        return None
    for read in (_numeric_date, _iso_date, _rfc822_date, _written_date, _fallback_date):
        try:
            value = read(text)
        except (ValueError, OverflowError, TypeError, IndexError):
            continue
        if value is not None:
            return _utc(value)
    return None


def _numeric_date(text: str) -> datetime | None:
    if m := _NUMERIC_YMD_RE.match(text):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    elif m := _NUMERIC_DMY_RE.match(text):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
        if month > 12 >= day:  # 10/25/2010 can only be month first
            day, month = month, day
    else:
        return None
    return datetime(year, month, day, int(m[4] or 0), int(m[5] or 0), int(m[6] or 0))


def _iso_date(text: str) -> datetime | None:
    if not text[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return dateutil_parser.isoparse(text)


def _rfc822_date(text: str) -> datetime | None:
    return parsedate_to_datetime(text)


def _written_date(text: str) -> datetime | None:
    if m := _DAY_MONTH_YEAR_RE.search(text):
        return datetime(int(m[3]), _MONTHS[m[2].lower()], int(m[1]))
    if m := _MONTH_DAY_YEAR_RE.search(text):
        return datetime(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
    return None


def _fallback_date(text: str) -> datetime | None:
    """dateutil, accepted only when the text names a day, a month and a year.

    dateutil fills what is missing from a default; parsing with two different
    defaults shows whether it had to.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dateutil_parser.UnknownTimezoneWarning)
        one = dateutil_parser.parse(text, dayfirst=True, default=datetime(2001, 1, 1))
        two = dateutil_parser.parse(text, dayfirst=True, default=datetime(2002, 2, 2))
    return one if one.date() == two.date() else None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- small helpers ---------------------------------------------------------------------


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, ending in "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def _cut_utf8(text: str, limit: int) -> str:
    if len(text) * 4 <= limit:  # even all 4-byte characters would fit
        return text
    data = text.encode("utf-8")
    return text if len(data) <= limit else data[:limit].decode("utf-8", "ignore")


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _language(value: str | None) -> str | None:
    """A BCP 47-looking tag, lower-cased ("en", "pt-br"), or None."""
    tag = (value or "").strip().replace("_", "-").lower()
    return tag if _LANGUAGE_RE.match(tag) else None
