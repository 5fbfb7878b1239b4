"""Publish: build the context once, render every output, write what changed.

Two phases, as in static site generators: gather the stories from the store
(the only I/O on the way in), then render each file (pure) and hand the bytes to
the :class:`~aggregator.publish.writer.OutputWriter`, which writes atomically and
leaves unchanged files alone. Hidden stories appear in no output.

Feeds are put together from their stories' entries, each rendered once per publish
and kept from the last publish while the story is unchanged; a tag feed whose
stories did not change is not rendered at all (:mod:`aggregator.publish.entries`).

    feed.xml atom.xml feed.json     the newest ``[output] items`` stories
    index.html page/N.html          the same, pinned stories first; older pages after
    featured.xml                    the pinned stories, in pin order
    tags/<slug>.xml .atom .json     per tag (topic, country:, region:, org:)
    tags/index.html                 every tag with its feeds
    meetings.ics                    every meeting event, past and future (capped)
    sources.opml                    the sources, for any feed reader
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.config import Config
from aggregator.models import PublishReport, Source, Story, pin_order
from aggregator.publish.calendar import render_calendar
from aggregator.publish.entries import Feed, FeedSet, generation, record_key
from aggregator.publish.feeds import FeedMeta, build_date
from aggregator.publish.html import render_digest_index, render_index, render_tag_index
from aggregator.publish.opml import render_opml
from aggregator.publish.writer import OutputWriter, publish_lock
from aggregator.store import Store
from aggregator.store.ids import chunks

MAIN_FEED_PATHS = {"rss": "feed.xml", "atom": "atom.xml", "json": "feed.json"}
TAG_DIR = "tags"
DIGEST_DIR = "digests"
#: events in meetings.ics at most (newest first)
MEETINGS_LIMIT = 500


FEED_SUFFIXES = (".xml", ".atom", ".json")


def changed_feeds(config: Config, report: PublishReport) -> list[str]:
    """The public URLs of the feeds a publish rewrote (what a WebSub hub is told)."""
    return [config.site.url + name for name in report.written
            if name.endswith(FEED_SUFFIXES)]


def tag_slug(tag: str) -> str:
    """A tag as a file name: ``country:eg`` → ``country-eg``."""
    return re.sub(r"[^a-z0-9._-]+", "-", tag.lower()).strip("-") or "tag"


def tag_label(tag: str) -> str:
    """A tag as a person reads it: ``country:eg`` → ``Egypt``."""
    family, _, value = tag.partition(":")
    if not value:
        return tag.replace("-", " ").capitalize()
    if family == "country":
        from aggregator.gazetteer import country_name

        try:
            return country_name(value)
        except KeyError:
            return value.upper()
    if family == "region":
        from aggregator.gazetteer import region_name

        try:
            return region_name(value)
        except KeyError:
            return value.replace("-", " ").title()
    if family == "org":
        return value.upper() if len(value) <= 8 else value.replace("-", " ").title()
    return tag


@dataclass(frozen=True, slots=True)
class TagFeed:
    tag: str
    slug: str
    label: str
    family: str
    count: int


def _since(config: Config, now: datetime) -> datetime | None:
    days = config.output.max_age_days
    return now - timedelta(days=days) if days else None


#: files whose absence means the outputs must be written again, whatever the fingerprint
_KEY_FILES = ("feed.xml", "atom.xml", "feed.json", "index.html", "featured.xml",
              "tags/index.html", "meetings.ics", "sources.opml")
FINGERPRINT_KEY = "publish_fingerprint"


def fingerprint(store: Store, config: Config, now: datetime) -> str:
    """What the outputs depend on, hashed: the same value means the same files."""
    import hashlib

    from aggregator import __version__

    parts: list[object] = [__version__, repr(config.site), repr(config.output),
                           repr(config.digest), *store.publish_state(now),
                           [(d.period, d.status)
                            for d in store.list_digests(content=False)]]
    if config.output.max_age_days:  # stories age out of the feeds day by day
        parts.append((now - timedelta(days=config.output.max_age_days)).date().isoformat())
    if config.site.templates and config.site.templates.is_dir():
        parts += sorted((str(p), p.stat().st_mtime_ns)
                        for p in config.site.templates.rglob("*") if p.is_file())
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


def publish(store: Store, config: Config, now: datetime, *, force: bool = False
            ) -> PublishReport:
    """Write every output; one publish at a time, leftovers of a killed one removed.

    When nothing the outputs depend on changed since the last publish (the
    fingerprint) and the files are in place, nothing is rendered at all: a worker
    publishes after every poll, and most polls bring nothing new.
    """
    with publish_lock(config.storage.data_dir / "publish.lock"):
        writer = OutputWriter(config.output.dir)
        writer.remove_leftovers()
        files = [p for p in writer.root.rglob("*") if p.is_file()] if writer.root.is_dir() \
            else []
        # the fingerprint of the data, and how many files the last publish left: a file
        # deleted by hand (or by a sync gone wrong) makes the next publish write it again
        data = fingerprint(store, config, now)
        if (not force and store.get_state(FINGERPRINT_KEY) == f"{data}:{len(files)}"
                and all(writer.path_for(name).is_file() for name in _KEY_FILES)):
            return PublishReport(written=(), unchanged=tuple(
                str(p.relative_to(writer.root)) for p in files), stories=-1, skipped=True)
        report = _publish(store, config, now, writer, force=force)
        count = sum(1 for p in writer.root.rglob("*") if p.is_file())
        # the fingerprint from before rendering: stories ingested while this publish ran
        # make the next one differ, so they are not taken as published
        store.set_state(FINGERPRINT_KEY, f"{data}:{count}")
        return report


def _publish(store: Store, config: Config, now: datetime, writer: OutputWriter, *,
             force: bool = False) -> PublishReport:
    out = config.output
    since = _since(config, now)
    site = config.site
    hub = out.websub_hub
    sources = store.list_sources()
    tags = _tag_feeds(store, config, writer.root)
    # the tags' lists before the stories: a story read after its list is never older
    refs = store.tag_story_refs([t.tag for t in tags], limit=out.items, since=since)
    archive = store.list_stories(limit=out.items * out.archive_pages, since=since, now=now)
    main = archive[: out.items]
    pinned = sorted(store.list_stories(pinned_only=True, now=now), key=pin_order)
    feeds = FeedSet(writer=writer, site=site, hub=hub,
                    generation=generation(site, hub, [(s.id, s.definition.title,
                                                       s.definition.url) for s in sources]),
                    record=None if force else store.get_state(record_key(writer.root)),
                    fetch=lambda ids: _fetch(store, ids, now))
    meta = FeedMeta(site=site, title=site.title, description=site.description,
                    self_path=MAIN_FEED_PATHS, home_path="", hub=hub)
    main_feed = Feed(meta, main, always=True)
    featured = Feed(FeedMeta(site=site, title=f"{site.title}: featured",
                             description="Stories the editors chose to feature.",
                             self_path={"rss": "featured.xml", "atom": "featured.xml",
                                        "json": "featured.xml"}, home_path="", hub=hub),
                    pinned, kinds=("rss",), always=True, pinned=True)
    tag_feeds = []
    for tag in tags:
        paths = {kind: f"{TAG_DIR}/{tag.slug}.{ext}"
                 for kind, ext in (("rss", "xml"), ("atom", "atom"), ("json", "json"))}
        tag_feeds.append(Feed(FeedMeta(site=site, title=f"{site.title}: {tag.label}",
                                       description=f"Stories tagged {tag.tag}.",
                                       self_path=paths,
                                       home_path=f"{TAG_DIR}/index.html#{tag.slug}", hub=hub),
                              refs[tag.tag]))
    feeds.prepare([main_feed, featured, *tag_feeds], known=[*archive, *pinned])
    feeds.write(main_feed)
    feeds.write(featured)

    pages = [archive[i : i + out.items] for i in range(0, len(archive), out.items)] or [[]]
    pinned_ids = {s.id for s in pinned}
    for number, stories in enumerate(pages, 1):
        if number == 1:
            stories = [s for s in stories if s.id not in pinned_ids]
        name = "index.html" if number == 1 else f"page/{number}.html"
        writer.write(name, render_index(config, stories, pinned=pinned if number == 1 else [],
                                        page=number, pages=len(pages)))

    for feed in tag_feeds:
        feeds.write(feed)
    writer.write(f"{TAG_DIR}/index.html", render_tag_index(config, tags))

    meetings = store.newest_event_stories(MEETINGS_LIMIT, now)
    writer.write("meetings.ics", render_calendar(site, meetings, limit=MEETINGS_LIMIT))
    writer.write("sources.opml", sources_opml(store, config, sources))
    _digest_pages(store, config, writer, force=force)
    # after every file: a publish killed before this leaves the last record, whose
    # files it no longer matches where this one wrote
    store.set_state(record_key(writer.root), feeds.record())
    return PublishReport(written=tuple(writer.written), unchanged=tuple(writer.unchanged),
                         stories=len(main))


def _digest_pages(store: Store, config: Config, writer: OutputWriter, *, force: bool) -> None:
    """``digests/<period>.html`` for every digest, and ``digests/index.html`` listing them.

    A digest's content is frozen, so its page is rendered only when it is missing (the
    sender writes it when the digest is made) or on ``publish --force``.
    """
    from aggregator.digest.render import public_copy

    records = store.list_digests(content=False)
    for record in records:
        name = f"{DIGEST_DIR}/{record.period}.html"
        if force or not writer.path_for(name).is_file():
            full = store.get_digest(record.period)
            if full is not None:
                writer.write(name, public_copy(config, full.content))
    writer.write(f"{DIGEST_DIR}/index.html", render_digest_index(config, records))


def _fetch(store: Store, ids: list[str], now: datetime) -> list[Story]:
    found: list[Story] = []
    for chunk in chunks(ids):
        found += store.list_stories(ids=chunk, now=now)
    return found


def sources_opml(store: Store, config: Config, sources: list[Source] | None = None) -> bytes:
    """The sources as OPML, dated by the last change to the list (not by polls)."""
    if sources is None:
        sources = store.list_sources()
    updated = max((s.changed_at for s in sources if s.changed_at), default=build_date([]))
    return render_opml(config.site, sources, updated=updated)


def _tag_feeds(store: Store, config: Config, root: Path) -> list[TagFeed]:
    """Every tag with visible stories, and every tag that once had a feed.

    A tag whose last story was hidden keeps an empty feed rather than vanishing,
    so its subscribers get an empty feed instead of an error.
    """
    counts = store.tag_counts()
    folder = root / TAG_DIR
    known = {p.stem for p in folder.glob("*.xml")} if folder.is_dir() else set()
    by_slug = {tag_slug(tag): tag for tag in counts}
    for slug in known - by_slug.keys():
        by_slug[slug] = slug.replace("-", ":", 1) if slug.split("-")[0] in (
            "country", "region", "org") else slug
    feeds = [TagFeed(tag, slug, tag_label(tag), tag.partition(":")[0] if ":" in tag else "topic",
                     counts.get(tag, 0))
             for slug, tag in by_slug.items()]
    order = {"topic": 0, "region": 1, "country": 2, "org": 3}
    return sorted(feeds, key=lambda f: (order.get(f.family, 4), f.label.lower()))
