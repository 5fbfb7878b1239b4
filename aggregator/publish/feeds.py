"""Rendering feeds: RSS 2.0 and Atom through feedgen, JSON Feed 1.1 by hand. Pure.

Every feed carries the same stories. GUIDs are derived from the story id alone
(``urn:uuid:`` of a name-based UUID), so they survive a change of the site's URL
and never change across publishes. The build date is the newest story change,
not the clock, so publishing twice with nothing new produces identical bytes.

A story's entry does not depend on the feed that carries it, so a feed is put
together from parts: its header (feedgen, no entries) and its stories' entries,
each rendered once for every feed of a publish (or taken from the files the last
publish wrote, :mod:`aggregator.publish.entries`). The bytes are exactly those
feedgen writes for the whole feed: entries come out of a document feedgen rendered
and serialized the same way, cut at their element boundaries.

    stories ─► render_entries ─► entries (rss, atom, json) ──┐
    meta, build date ─► rss_header / atom_header / json_header ─┴► assemble_* ─► bytes
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from feedgen.feed import FeedGenerator

from aggregator import __version__
from aggregator.config import SiteConfig
from aggregator.models import Story

GENERATOR = "smuggling-news-aggregator"
# the namespace for story GUIDs; fixed forever
_GUID_NAMESPACE = uuid.UUID("5b0c3f6e-8a59-4f4e-9d55-3a8c2a0f7b11")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


#: the main feeds as the HTML pages announce them: (title, path, media type)
MAIN_FEED_LINKS = (
    ("RSS 2.0", "feed.xml", "application/rss+xml"),
    ("Atom", "atom.xml", "application/atom+xml"),
    ("JSON Feed", "feed.json", "application/feed+json"),
)


@functools.lru_cache(maxsize=1 << 16)
def story_guid(story_id: str) -> str:
    """The story's GUID in every feed (and its calendar UID); asked for again and again."""
    return f"urn:uuid:{uuid.uuid5(_GUID_NAMESPACE, story_id)}"


@dataclass(frozen=True, slots=True)
class FeedMeta:
    """What a feed says about itself."""

    site: SiteConfig
    title: str
    description: str
    #: path of this feed's files below the site root, without extension ("feed", "tags/x")
    self_path: dict[str, str]
    #: the HTML page this feed mirrors
    home_path: str = ""
    #: a WebSub hub subscribers can follow the feed through
    hub: str | None = None


def build_date(stories: Sequence[Story], *, pinned: bool = False) -> datetime:
    """The newest change among ``stories`` (for featured feeds: pinning counts too)."""
    dates = [s.updated for s in stories]
    if pinned:
        dates += [s.pin.at for s in stories if s.pin]
    return max(dates, default=_EPOCH)


def _url(site: SiteConfig, path: str) -> str:
    return site.url + path


def _description(story: Story) -> str:
    body = story.summary_html or story.content_html
    if story.duplicates:
        links = ", ".join(
            f'<a href="{_attr(d.url)}">{_text(d.source)}</a>' if d.url else _text(d.source)
            for d in story.duplicates
        )
        body += f"<p>Also reported by: {links}</p>"
    return body


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value: str) -> str:
    return _text(value).replace('"', "&quot;")


def _generator(meta: FeedMeta, stories: Sequence[Story], updated: datetime) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(_url(meta.site, meta.self_path["atom"]))
    fg.title(meta.title)
    fg.subtitle(meta.description)
    fg.language(meta.site.language)
    fg.generator(GENERATOR, version=__version__)
    fg.updated(updated)
    for story in reversed(stories):  # feedgen prepends: keep newest first
        fe = fg.add_entry()
        fe.id(story_guid(story.id))
        fe.guid(story_guid(story.id), permalink=False)
        fe.title(story.title)
        if story.url:
            fe.link(href=story.url, rel="alternate")
        fe.published(story.published)
        fe.updated(story.updated)
        description = _description(story)
        if description:
            fe.summary(description, type="html")  # Atom summary and RSS description
        if story.content_html:
            fe.content(story.content_html, type="html")  # Atom content, RSS content:encoded
        elif not story.url:
            # Atom wants an alternate link or content: with no link, the text is the content
            fe.content(description or _text(story.title), type="html")
        fe.source(url=story.source_url or meta.site.url, title=story.source_title or story.source)
        for tag in story.tags:
            fe.category(term=tag)
        fe.author(name=story.source_title or story.source)
    return fg


def _rss(meta: FeedMeta, fg: FeedGenerator, updated: datetime) -> bytes:
    fg.link(href=_url(meta.site, meta.self_path["rss"]), rel="self",
            type="application/rss+xml")
    # feedgen makes the last link the channel's <link>: the page, not the feed
    fg.link(href=_url(meta.site, meta.home_path), rel="alternate")
    fg.description(meta.description)
    fg.lastBuildDate(updated)
    data: bytes = fg.rss_str(pretty=True)
    return _with_rss_hub(data, meta.hub) if meta.hub else data


def _with_rss_hub(data: bytes, hub: str) -> bytes:
    """feedgen writes only rel="self" as atom:link in RSS; WebSub also wants rel="hub"."""
    from lxml import etree

    root = etree.fromstring(data)
    channel = root.find("channel")
    atom = "{http://www.w3.org/2005/Atom}link"
    self_link = channel.find(atom)
    link = etree.Element(atom, href=hub, rel="hub")
    if self_link is not None:
        self_link.addnext(link)
    else:
        channel.insert(0, link)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return out


def _atom(meta: FeedMeta, fg: FeedGenerator) -> bytes:
    fg.link(href=_url(meta.site, meta.home_path), rel="alternate")
    fg.link(href=_url(meta.site, meta.self_path["atom"]), rel="self",
            type="application/atom+xml")
    if meta.hub:
        fg.link(href=meta.hub, rel="hub")
    data: bytes = fg.atom_str(pretty=True)
    return data


def _json_item(s: Story) -> dict[str, Any]:
    item: dict[str, Any] = {"id": story_guid(s.id), "title": s.title}
    if s.url:
        item["url"] = s.url
    html = _description(s) if not s.content_html else s.content_html
    if html:
        item["content_html"] = html
    if s.summary_html and s.content_html:
        # JSON Feed's summary is plain text; some readers render it as HTML anyway,
        # so escaped markup in it is stripped too
        from aggregator.normalize import markup_free_text

        summary = markup_free_text(s.summary_html)
        if summary:
            item["summary"] = summary
    item["date_published"] = s.published.isoformat()
    item["date_modified"] = s.updated.isoformat()
    item["authors"] = [{"name": s.source_title or s.source,
                        **({"url": s.source_url} if s.source_url else {})}]
    if s.tags:
        item["tags"] = list(s.tags)
    # our extension (JSON Feed allows keys starting with "_")
    item["_aggregator"] = {
        "story_id": s.id,
        "source": s.source,
        "duplicates": [{"id": d.id, "source": d.source, "url": d.url, "title": d.title}
                       for d in s.duplicates],
    }
    return item


# -- a feed from parts --------------------------------------------------------------------
# feedgen's pretty output puts each entry on lines of its own, at a fixed indent, after
# every element of the channel (RSS) or feed (Atom); text and attributes are escaped, so
# these lines cannot occur inside an entry. JSON items are indented the same way (a
# string never holds a raw newline).

_RSS_ITEM, _RSS_ITEM_END, _RSS_END = b"    <item>\n", b"    </item>\n", b"  </channel>\n</rss>\n"
_ATOM_ENTRY, _ATOM_ENTRY_END, _ATOM_END = b"  <entry>\n", b"  </entry>\n", b"</feed>\n"
_JSON_ITEMS, _JSON_NO_ITEMS, _JSON_ITEMS_END = b'\n  "items": [\n', b'\n  "items": []', b"\n  ]"
_JSON_ITEM_END = b"\n    }"


@dataclass(frozen=True, slots=True)
class Entries:
    """One story's entry in each format, as bytes ready to put into any feed."""

    rss: bytes
    atom: bytes
    json: bytes


def render_entries(site: SiteConfig, hub: str | None, stories: Sequence[Story],
                   batch: int = 500) -> list[Entries]:
    """The stories' entries, ``batch`` to a feedgen document (cheaper than one each)."""
    meta = FeedMeta(site=site, title="entries", description="entries",
                    self_path={"rss": "", "atom": "", "json": ""}, hub=hub)
    out: list[Entries] = []
    for i in range(0, len(stories), batch):
        some = stories[i : i + batch]
        fg = _generator(meta, some, _EPOCH)
        rss = split_rss(_rss(meta, fg, _EPOCH))
        atom = split_atom(fg.atom_str(pretty=True))
        if rss is None or atom is None or not len(rss[1]) == len(atom[1]) == len(some):
            raise AssertionError("feedgen's output is not shaped as expected")
        out += (Entries(r, a, _json_entry(s)) for r, a, s in zip(rss[1], atom[1], some,
                                                                 strict=True))
    return out


def _json_entry(story: Story) -> bytes:
    # as json.dumps(indent=2) writes an item of the feed's "items" list: four spaces in
    text = json.dumps(_json_item(story), ensure_ascii=False, indent=2)
    return ("    " + text.replace("\n", "\n    ")).encode("utf-8")


def rss_header(meta: FeedMeta, updated: datetime) -> bytes:
    """The RSS feed without entries (what :func:`assemble_rss` puts them into)."""
    return _rss(meta, _generator(meta, (), updated), updated)


def atom_header(meta: FeedMeta, updated: datetime) -> bytes:
    return _atom(meta, _generator(meta, (), updated))


def json_header(meta: FeedMeta) -> bytes:
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": _url(meta.site, meta.home_path),
        "feed_url": _url(meta.site, meta.self_path["json"]),
        "description": meta.description,
        "language": meta.site.language,
        "items": [],
    }
    if meta.hub:
        doc["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def assemble_rss(header: bytes, entries: Sequence[bytes]) -> bytes:
    cut = len(header) - len(_RSS_END)
    return b"".join((header[:cut], *entries, header[cut:]))


def assemble_atom(header: bytes, entries: Sequence[bytes]) -> bytes:
    cut = len(header) - len(_ATOM_END)
    return b"".join((header[:cut], *entries, header[cut:]))


def assemble_json(header: bytes, entries: Sequence[bytes]) -> bytes:
    if not entries:
        return header
    head, _, tail = header.partition(_JSON_NO_ITEMS)
    return b"".join((head, _JSON_ITEMS, b",\n".join(entries), _JSON_ITEMS_END, tail))


def split_rss(data: bytes) -> tuple[bytes, list[bytes]] | None:
    """An RSS feed this module wrote as (header, entries); None if it is not one."""
    return _split(data, _RSS_ITEM, _RSS_ITEM_END, _RSS_END)


def split_atom(data: bytes) -> tuple[bytes, list[bytes]] | None:
    return _split(data, _ATOM_ENTRY, _ATOM_ENTRY_END, _ATOM_END)


def _split(data: bytes, first: bytes, last: bytes, end: bytes
           ) -> tuple[bytes, list[bytes]] | None:
    if not data.endswith(end):
        return None
    cut = len(data) - len(end)
    start = data.find(b"\n" + first, 0, cut) + 1 or cut
    parts = data[start:cut].split(last)
    if parts[-1] or not all(p.startswith(first) for p in parts[:-1]):
        return None
    return data[:start] + data[cut:], [p + last for p in parts[:-1]]


def split_json(data: bytes) -> tuple[bytes, list[bytes]] | None:
    """A JSON feed this module wrote as (header, items); None if it is not one."""
    if _JSON_NO_ITEMS in data:
        return data, []
    start = data.find(_JSON_ITEMS)
    end = data.find(_JSON_ITEMS_END, start)
    if start < 0 or end < 0:
        return None
    parts = data[start + len(_JSON_ITEMS) : end].split(_JSON_ITEM_END + b",\n")
    items = [p + _JSON_ITEM_END for p in parts[:-1]] + parts[-1:]
    if not all(i.startswith(b"    {\n") and i.endswith(_JSON_ITEM_END) for i in items):
        return None
    return data[:start] + _JSON_NO_ITEMS + data[end + len(_JSON_ITEMS_END) :], items


# -- whole feeds --------------------------------------------------------------------------


def render_rss(meta: FeedMeta, stories: Sequence[Story], *, pinned: bool = False) -> bytes:
    """RSS 2.0; ``pinned``: a featured feed, whose build date follows the pins too."""
    entries = render_entries(meta.site, meta.hub, stories)
    return assemble_rss(rss_header(meta, build_date(stories, pinned=pinned)),
                        [e.rss for e in entries])


def render_atom(meta: FeedMeta, stories: Sequence[Story]) -> bytes:
    entries = render_entries(meta.site, meta.hub, stories)
    return assemble_atom(atom_header(meta, build_date(stories)), [e.atom for e in entries])


def render_json(meta: FeedMeta, stories: Sequence[Story]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    return assemble_json(json_header(meta), [_json_entry(s) for s in stories])
