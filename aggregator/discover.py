"""Finding the feed behind a URL for ``sources add``.

A URL that is a feed is taken as it is. An HTML page is searched for
``<link rel="alternate">`` feed links (RSS, Atom, JSON Feed, in that order of
preference); the first that parses as a feed wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.html

from aggregator.errors import ParseError, SourceError
from aggregator.fetch import Fetcher
from aggregator.models import FeedData
from aggregator.parse import parse_feed

_FEED_TYPES = {
    "application/rss+xml": 0,
    "application/atom+xml": 1,
    "application/feed+json": 2,
    "application/json": 3,
    "application/rdf+xml": 4,
    "text/xml": 5,
    "application/xml": 5,
}


@dataclass(frozen=True, slots=True)
class Discovered:
    url: str
    feed: FeedData


def feed_links(content: bytes, base_url: str) -> list[str]:
    """Feed URLs announced by an HTML page, best first."""
    try:
        doc = lxml.html.document_fromstring(content)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = base_url
    for el in doc.iter("base"):
        if el.get("href"):
            base = urljoin(base_url, el.get("href"))
            break
    found: list[tuple[int, int, str]] = []
    for n, el in enumerate(doc.iter("link")):
        rel = (el.get("rel") or "").lower().split()
        media_type = (el.get("type") or "").split(";")[0].strip().lower()
        href = (el.get("href") or "").strip()
        if "alternate" in rel and media_type in _FEED_TYPES and href:
            url = urljoin(base, href)
            if urlsplit(url).scheme in ("http", "https"):
                found.append((_FEED_TYPES[media_type], n, url))
    return [url for _, _, url in sorted(found)]


async def discover(fetcher: Fetcher, url: str, *, max_items: int = 1000) -> Discovered:
    """Fetch ``url``; return the feed it is, or the first feed it links to."""
    response = await fetcher.fetch(url)
    try:
        return Discovered(response.url,
                          parse_feed(response.content, response.url, response.headers,
                                     max_items=max_items))
    except ParseError as not_a_feed:
        candidates = feed_links(response.content, response.url)
        if not candidates:
            raise ParseError(url, f"{not_a_feed.message}; and the page links to no feed "
                                  '(no <link rel="alternate"> of a feed type)') from not_a_feed
    errors: list[str] = []
    for candidate in candidates:
        try:
            resp = await fetcher.fetch(candidate)
            return Discovered(resp.url, parse_feed(resp.content, resp.url, resp.headers,
                                                   max_items=max_items))
        except SourceError as e:
            errors.append(f"{candidate}: {e}")
    raise ParseError(url, "the feeds this page links to could not be read: " + "; ".join(errors))


def slug_for(title: str | None, url: str) -> str:
    """A source id from a feed title, else from the URL's host and path."""
    text = title or ""
    if not re.search(r"[A-Za-z0-9]", text):
        parts = urlsplit(url)
        text = parts.hostname or "source"
        text = text.removeprefix("www.") + " " + parts.path
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (slug or "source")[:48].rstrip("-")
