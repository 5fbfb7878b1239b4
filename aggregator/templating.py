"""The one Jinja2 environment: autoescape on, StrictUndefined, explicit filters.

Item HTML was sanitized by :mod:`aggregator.normalize` when it was stored; the
``item_html`` filter is the single place where it is marked safe. Everything else
is escaped.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import jinja2
from markupsafe import Markup


def _item_html(html: str | None) -> Markup:
    return Markup(html or "")


def _teaser(html: str | None, limit: int = 320) -> str:
    """Plain text of an item's HTML, cut at a word boundary (escaped like any text)."""
    from aggregator.normalize import plain_text, truncate

    return truncate(plain_text(html or ""), limit)


def _slug(tag: str) -> str:
    from aggregator.publish import tag_slug

    return tag_slug(tag)


def _isodate(value: datetime) -> str:
    # HTML's valid date strings allow at most three digits of a second's fraction
    return value.isoformat(timespec="seconds")


def _date(value: datetime, fmt: str = "%-d %B %Y") -> str:
    return value.strftime(fmt)


@lru_cache(maxsize=8)
def environment(override: Path | None = None) -> jinja2.Environment:
    builtin = str(files("aggregator.templates"))
    loaders: list[jinja2.BaseLoader] = []
    if override is not None:
        loaders.append(jinja2.FileSystemLoader(str(override)))
    loaders.append(jinja2.FileSystemLoader(builtin))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(item_html=_item_html, teaser=_teaser, isodate=_isodate, date=_date,
                       slug=_slug)
    return env
