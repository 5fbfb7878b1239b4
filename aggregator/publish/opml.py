"""Rendering ``sources.opml``: the list of sources as an OPML 2.0 file. Pure.

    sources ─► enabled ones, sorted by id ─┬─ kind "feed": <outline type="rss" xmlUrl=…>
                                           └─ kind "html": <outline type="link" url=…>
            ─► lxml ─► UTF-8 bytes

What it does: lets a reader subscribe to the sources themselves (import the file into
Feedly, Inoreader, Miniflux, NetNewsWire, Thunderbird…). A feed source is an
``rss`` outline whose ``xmlUrl`` is where the feed lives now (after a permanent
redirect, the new address). An ``html`` source is a listing page, not a feed, so it
is a ``link`` outline (OPML 2.0 §"type link") with ``url`` and ``htmlUrl`` and no
``xmlUrl``: readers import only outlines with an ``xmlUrl`` and pass over the others,
so the file still imports, and a person reading it sees every source. The list is
flat (no folders: folders become categories in a reader, and tags are not folders).
``dateModified`` is the ``updated`` given, never the clock, so the same sources give
the same bytes.

What it does not do: list disabled sources, list this site's own feeds (this is the
sources list; the site's feeds are announced on its pages), invent an ``htmlUrl`` for
a feed (a source knows its feed address, not its home page), or write the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from aggregator.config import SiteConfig
from aggregator.models import Source, SourceKind

__all__ = ["OPML_DOCS", "render_opml"]

OPML_DOCS = "http://opml.org/spec2.opml"

# characters XML 1.0 cannot carry at all (lxml refuses them)
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render_opml(site: SiteConfig, sources: Sequence[Source], *, updated: datetime) -> bytes:
    """OPML 2.0 listing every enabled source, sorted by id; ``updated`` is ``dateModified``."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _text(f"{site.title} — sources")
    etree.SubElement(head, "dateModified").text = _rfc822(updated)
    etree.SubElement(head, "docs").text = OPML_DOCS
    body = etree.SubElement(root, "body")
    for source in sorted((s for s in sources if s.enabled), key=lambda s: s.id):
        name = _text(source.definition.title) or source.id
        if source.definition.kind is SourceKind.HTML:
            # a listing page: a link for people, nothing for a reader to subscribe to
            etree.SubElement(body, "outline", type="link", text=name, title=name,
                             url=source.fetch_url, htmlUrl=source.fetch_url)
        else:
            etree.SubElement(body, "outline", type="rss", text=name, title=name,
                             xmlUrl=source.fetch_url)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)
    return data


def _text(value: str) -> str:
    """One line, without characters XML cannot hold (lxml escapes the rest)."""
    return " ".join(_NOT_XML_RE.sub(" ", value).split())


def _rfc822(value: datetime) -> str:
    """RFC 822 date as OPML 2.0 asks: ``Sat, 28 Nov 2026 12:00:00 GMT``."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return format_datetime(value.replace(microsecond=0), usegmt=True)
