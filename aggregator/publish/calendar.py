"""Rendering ``meetings.ics``: the stories' meeting events as an iCalendar file. Pure.

    stories ─► those with an event (hidden ones never) ─► newest event start first
            ─► at most ``limit`` ─► one all-day VEVENT each ─► RFC 5545 bytes (icalendar)

What it does: one ``VEVENT`` per story that carries an :class:`~aggregator.models.Event`,
past and future alike. Events are all-day (``DTSTART``/``DTEND`` are DATE values and
``DTEND`` is the day *after* the last day, as RFC 5545 makes it exclusive). The ``UID``
is the UUID of the story's feed GUID (:func:`~aggregator.publish.feeds.story_guid`):
derived from the story id alone, so it never changes across publishes or a move of the
site to another host, and a subscriber's calendar updates an event instead of adding
it twice. ``DTSTAMP`` and ``LAST-MODIFIED`` are the story's ``updated``, never the
clock, so rendering the same stories twice gives the same bytes. Text is escaped and
lines are folded at 75 octets by the icalendar library; line ends are CRLF.

What it does not do: choose the stories (the caller passes every story whose event
should appear; this module only filters, orders and caps), write the file
(:mod:`aggregator.publish.writer`), or carry times of day or time zones: events are
extracted as dates, so they are floating all-day events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import icalendar

from aggregator import __version__
from aggregator.config import SiteConfig
from aggregator.gazetteer import country_name
from aggregator.models import Event, Story
from aggregator.normalize import plain_text, truncate
from aggregator.publish.feeds import GENERATOR, story_guid

__all__ = ["DESCRIPTION_CHARS", "event_uid", "render_calendar"]

#: the teaser in DESCRIPTION is cut to about this many characters, at a word boundary
DESCRIPTION_CHARS = 500

# RFC 5545 §3.3.11: TEXT may not hold control characters other than HTAB (and the
# escaped line break); icalendar leaves a lone CR as it is, which breaks the line
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def event_uid(story_id: str) -> str:
    """The event's UID: the UUID of the story's feed GUID (RFC 7986 §5.3 recommends a
    UUID; a host name would change the UID when the site moves)."""
    return story_guid(story_id).removeprefix("urn:uuid:")


def render_calendar(site: SiteConfig, stories: Sequence[Story], *, limit: int = 500) -> bytes:
    """An iCalendar file with one all-day event per story with an event, newest first.

    Hidden stories and stories without an event are skipped; at most ``limit`` events.
    """
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{GENERATOR}//meetings.ics {__version__}//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", _line(f"{site.title} — meetings"))
    cal.add("x-wr-caldesc", _line(site.description))
    for story, event in _newest_events(stories, limit):
        cal.add_component(_vevent(story, event))
    data: bytes = cal.to_ical()
    return data


def _newest_events(stories: Sequence[Story], limit: int) -> list[tuple[Story, Event]]:
    pairs = [(s, s.event) for s in stories if s.event is not None and not s.hidden]
    # the id breaks ties, so the order never depends on the order given
    pairs.sort(key=lambda p: (p[1].start, p[1].end, p[0].id), reverse=True)
    return pairs[: max(limit, 0)]


def _vevent(story: Story, event: Event) -> icalendar.Event:
    ev = icalendar.Event()
    ev.add("uid", event_uid(story.id))
    ev.add("dtstamp", _utc(story.updated))
    ev.add("last-modified", _utc(story.updated))
    ev.add("summary", _line(story.title) or "Meeting")
    ev.add("dtstart", event.start)
    # DTEND of an all-day event is exclusive: the day after the last day
    ev.add("dtend", max(event.end, event.start) + timedelta(days=1))
    # the subscriber is not busy because a meeting happens somewhere
    ev.add("transp", "TRANSPARENT")
    location = _location(event.location, event.country)
    if location:
        ev.add("location", location)
    if story.url:
        ev.add("url", story.url)
    ev.add("description", _description(story))
    topics = [t for t in story.tags if ":" not in t]  # not country:, region:, org:
    if topics:
        ev.add("categories", topics)
    return ev


def _description(story: Story) -> str:
    teaser = _teaser(plain_text(story.summary_html or story.content_html))
    source = f"Source: {_line(story.source_title or story.source)}"
    return f"{teaser}\n\n{source}" if teaser else source


def _teaser(text: str, limit: int = DESCRIPTION_CHARS) -> str:
    return truncate(_line(text), limit)


def _location(location: str | None, country: str | None) -> str | None:
    if location and _line(location):
        return _line(location)
    if country:
        try:
            return country_name(country)
        except KeyError:
            return None
    return None


def _line(text: str) -> str:
    """One line of text: control characters, CR and LF become spaces, runs collapsed."""
    return " ".join(_CONTROL_RE.sub(" ", text).split())


def _utc(value: datetime) -> datetime:
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)
