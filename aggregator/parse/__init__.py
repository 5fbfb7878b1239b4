"""The parse stage: one fetched document in, :class:`~aggregator.models.FeedData` out.

    fetch ─► parse_document ─┬─ kind "feed": parse_feed     (RSS, Atom, JSON Feed)
                             └─ kind "html": parse_listing  (CSS selectors)
                                             parse_page     (a followed detail page)

Pure: no I/O, no clock. A malformed document is triage (``FeedData.warnings``);
:class:`~aggregator.errors.ParseError` means nothing usable was in it. Sanitizing,
dates and identity are :mod:`aggregator.normalize`'s job; events are ``parse.events``'.
"""

from __future__ import annotations

from collections.abc import Mapping

from aggregator.errors import ParseError
from aggregator.models import FeedData, SourceDef, SourceKind
from aggregator.parse.feed import MAX_INFLATED, parse_feed
from aggregator.parse.html import parse_listing, parse_page

__all__ = ["parse_document", "parse_feed", "parse_listing", "parse_page"]


def parse_document(
    source: SourceDef,
    url: str,
    content: bytes,
    headers: Mapping[str, str] | None,
    *,
    max_items: int = 1000,
    max_bytes: int = MAX_INFLATED,
) -> FeedData:
    """Parse ``content`` fetched from ``url`` the way ``source.kind`` says.

    ``max_bytes``: what a feed gzip-compressed without Content-Encoding may inflate to.
    """
    if source.kind is SourceKind.HTML:
        if source.select is None:
            raise ParseError(url, f"source {source.id!r} is an html source without "
                                  "[source.select] rules; add item, title and link selectors")
        return parse_listing(content, url, source.select, headers, max_items=max_items)
    return parse_feed(content, url, headers, max_items=max_items, max_bytes=max_bytes)
