"""Rendering the HTML pages through the shared Jinja2 environment. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from aggregator import __version__
from aggregator.config import Config
from aggregator.models import Story
from aggregator.publish.feeds import MAIN_FEED_LINKS, build_date
from aggregator.templating import environment


def render_index(config: Config, stories: Sequence[Story]) -> bytes:
    env = environment(config.site.templates)
    html = env.get_template("site/index.html").render(
        site=config.site,
        stories=stories,
        updated=build_date(stories),
        feeds=MAIN_FEED_LINKS,
        version=__version__,
    )
    return html.encode("utf-8")
