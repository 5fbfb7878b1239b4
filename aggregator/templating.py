"""The one Jinja2 environment: autoescape on, StrictUndefined, explicit filters.

Item HTML was sanitized by :mod:`aggregator.normalize` when it was stored; the
``item_html`` filter is the single place where it is marked safe. Everything else
is escaped.
"""

from __future__ import annotations

from datetime import date, datetime
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


def _parse_day(value: str | date | datetime) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)


def _digest_date(value: str | date | datetime) -> str:
    """``2026-11-27T10:00:00+00:00`` → ``27 November 2026``."""
    return _parse_day(value).strftime("%-d %B %Y")


def _event_when(event: dict[str, str]) -> str:
    """An event's days as people write them: ``3–5 December 2026``."""
    start, end = _parse_day(event["start"]), _parse_day(event["end"])
    if start == end:
        return start.strftime("%-d %B %Y")
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.strftime('%-d %B %Y')}"
    if start.year == end.year:
        return f"{start.strftime('%-d %B')} – {end.strftime('%-d %B %Y')}"
    return f"{start.strftime('%-d %B %Y')} – {end.strftime('%-d %B %Y')}"


def _wrap_text(text: str, width: int = 76, indent: str = "") -> str:
    """Plain text wrapped for an email's text part; later lines indented."""
    import textwrap

    lines = textwrap.wrap(text, width=width - len(indent), break_long_words=False,
                          break_on_hyphens=False)
    return ("\n" + indent).join(lines)


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
                       slug=_slug, digest_date=_digest_date, event_when=_event_when,
                       wrap_text=_wrap_text)
    return env
