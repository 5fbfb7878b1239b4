"""Publish: build the context once, render every output, write what changed.

Two phases, as in static site generators: gather the stories from the store
(the only I/O on the way in), then render each file (pure) and hand the bytes to
the :class:`~aggregator.publish.writer.OutputWriter`, which writes atomically and
leaves unchanged files alone. Hidden stories appear in no output.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from aggregator.config import Config
from aggregator.models import PublishReport, Story
from aggregator.publish.feeds import FeedMeta, render_atom, render_json, render_rss
from aggregator.publish.html import render_index
from aggregator.publish.writer import OutputWriter
from aggregator.store import Store

MAIN_FEED_PATHS = {"rss": "feed.xml", "atom": "atom.xml", "json": "feed.json"}


def select_stories(store: Store, config: Config, now: datetime) -> list[Story]:
    """The newest ``[output] items`` visible stories, within ``max_age_days``."""
    since = None
    if config.output.max_age_days:
        since = now - timedelta(days=config.output.max_age_days)
    return store.list_stories(limit=config.output.items, since=since)


def publish(store: Store, config: Config, now: datetime) -> PublishReport:
    stories = select_stories(store, config, now)
    site = config.site
    meta = FeedMeta(site=site, title=site.title, description=site.description,
                    self_path=MAIN_FEED_PATHS, home_path="")
    writer = OutputWriter(config.output.dir)
    writer.write("feed.xml", render_rss(meta, stories))
    writer.write("atom.xml", render_atom(meta, stories))
    writer.write("feed.json", render_json(meta, stories))
    writer.write("index.html", render_index(config, stories))
    return PublishReport(written=tuple(writer.written), unchanged=tuple(writer.unchanged),
                         stories=len(stories))
