"""Rendering the HTML pages through the shared Jinja2 environment. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aggregator import __version__
from aggregator.config import Config
from aggregator.models import DigestRecord, Story
from aggregator.publish.feeds import MAIN_FEED_LINKS, build_date
from aggregator.templating import environment

if TYPE_CHECKING:
    from aggregator.publish import TagFeed


def page_path(number: int) -> str:
    return "" if number == 1 else f"page/{number}.html"


def render_index(config: Config, stories: Sequence[Story], *, pinned: Sequence[Story] = (),
                 page: int = 1, pages: int = 1) -> bytes:
    env = environment(config.site.templates)
    html = env.get_template("site/index.html").render(
        site=config.site,
        stories=stories,
        pinned=pinned,
        page=page,
        pages=pages,
        previous=page_path(page - 1) if page > 1 else None,
        next=page_path(page + 1) if page < pages else None,
        updated=build_date([*pinned, *stories], pinned=True),
        feeds=MAIN_FEED_LINKS,
        version=__version__,
    )
    return html.encode("utf-8")


def render_tag_index(config: Config, feeds: Sequence[TagFeed]) -> bytes:
    env = environment(config.site.templates)
    families = {"topic": "Topics", "region": "Regions", "country": "Countries",
                "org": "Sources"}
    groups = [(title, [f for f in feeds if f.family == family])
              for family, title in families.items()]
    groups.append(("Other", [f for f in feeds if f.family not in families]))
    html = env.get_template("site/tags.html").render(
        site=config.site,
        groups=[(title, found) for title, found in groups if found],
        feeds=MAIN_FEED_LINKS,
        version=__version__,
        updated=None,
    )
    return html.encode("utf-8")


def render_digest_index(config: Config, records: Sequence[DigestRecord]) -> bytes:
    """``digests/index.html``: every digest, newest first, and where to subscribe."""
    env = environment(config.site.templates)
    html = env.get_template("site/digests.html").render(
        site=config.site,
        digests=records,
        title=config.digest.title,
        subscribe_url=config.web_url + "subscribe",
        feeds=MAIN_FEED_LINKS,
        version=__version__,
        updated=None,
    )
    return html.encode("utf-8")
