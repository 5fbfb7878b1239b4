"""Rendering feeds: RSS 2.0 and Atom through feedgen, JSON Feed 1.1 by hand. Pure.

Every feed carries the same stories. GUIDs are derived from the story id alone
(``urn:uuid:`` of a name-based UUID), so they survive a change of the site's URL
and never change across publishes. The build date is the newest story change,
not the clock, so publishing twice with nothing new produces identical bytes.
"""

from __future__ import annotations

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


def story_guid(story_id: str) -> str:
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


def _generator(meta: FeedMeta, stories: Sequence[Story], *, pinned: bool = False
               ) -> FeedGenerator:
    fg = FeedGenerator()
    fg.id(_url(meta.site, meta.self_path["atom"]))
    fg.title(meta.title)
    fg.subtitle(meta.description)
    fg.language(meta.site.language)
    fg.generator(GENERATOR, version=__version__)
    fg.updated(build_date(stories, pinned=pinned))
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


def render_rss(meta: FeedMeta, stories: Sequence[Story], *, pinned: bool = False) -> bytes:
    """RSS 2.0; ``pinned``: a featured feed, whose build date follows the pins too."""
    fg = _generator(meta, stories, pinned=pinned)
    fg.link(href=_url(meta.site, meta.self_path["rss"]), rel="self",
            type="application/rss+xml")
    # feedgen makes the last link the channel's <link>: the page, not the feed
    fg.link(href=_url(meta.site, meta.home_path), rel="alternate")
    fg.description(meta.description)
    fg.lastBuildDate(build_date(stories, pinned=pinned))
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


def render_atom(meta: FeedMeta, stories: Sequence[Story]) -> bytes:
    fg = _generator(meta, stories)
    fg.link(href=_url(meta.site, meta.home_path), rel="alternate")
    fg.link(href=_url(meta.site, meta.self_path["atom"]), rel="self",
            type="application/atom+xml")
    if meta.hub:
        fg.link(href=meta.hub, rel="hub")
    data: bytes = fg.atom_str(pretty=True)
    return data


def render_json(meta: FeedMeta, stories: Sequence[Story]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    items: list[dict[str, Any]] = []
    for s in stories:
        item: dict[str, Any] = {"id": story_guid(s.id), "title": s.title}
        if s.url:
            item["url"] = s.url
        html = _description(s) if not s.content_html else s.content_html
        if html:
            item["content_html"] = html
        if s.summary_html and s.content_html:
            item["summary"] = s.summary_html
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
        items.append(item)
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": meta.title,
        "home_page_url": _url(meta.site, meta.home_path),
        "feed_url": _url(meta.site, meta.self_path["json"]),
        "description": meta.description,
        "language": meta.site.language,
        "items": items,
    }
    if meta.hub:
        doc["hubs"] = [{"type": "WebSub", "url": meta.hub}]
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
