"""Building a digest: pure functions over stories and an explicit ``now``.

- :func:`period_key` names the period a moment falls in (ISO week, ``2026-W48``),
  in the digest's time zone;
- :func:`scheduled_at` and :func:`is_due` decide when the period's digest goes out;
- :func:`build_content` freezes what a digest holds into plain JSON-able data
  (featured stories, sections by topic, upcoming meetings), so every subscriber,
  a resumed send and the public copy all show the same thing;
- :func:`view_for` narrows that content to one subscriber's topic filters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aggregator.config import WEEKDAYS, DigestConfig
from aggregator.models import Story

#: the first digest reaches back this far
FIRST_WINDOW = timedelta(days=7)
#: summaries in the digest are cut to about this many characters
SUMMARY_CHARS = 280


def period_key(now: datetime, tz: str) -> str:
    """The ISO week ``now`` falls in, where the digest is sent: ``2026-W48``."""
    year, week, _ = now.astimezone(ZoneInfo(tz)).isocalendar()
    return f"{year}-W{week:02d}"


def period_label(period: str) -> str:
    """``2026-W48`` → ``week 48, 2026`` (other keys are shown as they are)."""
    year, sep, week = period.partition("-W")
    if sep and year.isdigit() and week.isdigit():
        return f"week {int(week)}, {year}"
    return period


def parse_period(period: str) -> str:
    """Check a ``--period`` value: an ISO week such as ``2026-W48``."""
    year, sep, week = period.partition("-W")
    if not (sep and len(year) == 4 and year.isdigit() and week.isdigit()
            and 1 <= int(week) <= date(int(year), 12, 28).isocalendar()[1]):
        raise ValueError(f"{period!r} is not an ISO week such as 2026-W48")
    return f"{year}-W{int(week):02d}"


def scheduled_at(period: str, config: DigestConfig) -> datetime:
    """When the period's digest is due: its week's configured weekday and time."""
    year, _, week = period.partition("-W")
    weekday = WEEKDAYS.index(config.weekday) + 1
    day = date.fromisocalendar(int(year), int(week), weekday)
    hour, minute, *second = (int(x) for x in config.time.split(":"))
    return datetime.combine(day, time(hour, minute, second[0] if second else 0),
                            ZoneInfo(config.timezone)).astimezone(UTC)


def is_due(now: datetime, config: DigestConfig, *, any_digest: bool, period_done: bool) -> bool:
    """Whether a digest should go out now (the worker and ``run --once`` ask this).

    With no digest ever sent, one is due at once; otherwise the current period's is
    due from its scheduled time until it has been sent.
    """
    if period_done:
        return False
    if not any_digest:
        return True
    return now >= scheduled_at(period_key(now, config.timezone), config)


# -- content -------------------------------------------------------------------------------


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def story_entry(story: Story, sources: Mapping[str, tuple[str, str | None]],
                section: str | None) -> dict[str, Any]:
    """One story as the digest keeps it: what the email shows, nothing more."""
    from aggregator.normalize import plain_text, truncate

    names: list[dict[str, str | None]] = []
    seen: set[str] = set()
    for source_id, url in [(story.source, story.url)] + [(d.source, d.url)
                                                        for d in story.duplicates]:
        if source_id in seen:
            continue
        seen.add(source_id)
        title, _site = sources.get(source_id, (source_id, None))
        names.append({"id": source_id, "title": title, "url": url})
    summary = truncate(plain_text(story.summary_html or story.content_html), SUMMARY_CHARS)
    entry: dict[str, Any] = {
        "id": story.id, "title": story.title, "url": story.url,
        "published": _iso(story.published), "first_seen": _iso(story.first_seen),
        "sources": names, "summary": summary, "tags": list(story.tags), "section": section,
        "note": story.pin.note if story.pinned and story.pin else None,
        "event": _event(story) if story.event is not None else None,
    }
    return entry


def _event(story: Story) -> dict[str, Any]:
    assert story.event is not None
    ev = story.event
    return {"start": _iso(ev.start), "end": _iso(ev.end), "location": ev.location,
            "country": ev.country}


def _section_of(story: Story, order: Sequence[str]) -> str | None:
    tags = set(story.tags)
    for tag in order:
        if tag in tags:
            return tag
    return None


def build_content(*, period: str, window_start: datetime, window_end: datetime,
                  new: Sequence[Story], featured: Sequence[Story], meetings: Sequence[Story],
                  sections: Sequence[str], labels: Mapping[str, str],
                  sources: Mapping[str, tuple[str, str | None]], max_stories: int,
                  today: date) -> dict[str, Any]:
    """Freeze a digest: featured first, then the new stories by section, then meetings.

    ``new``: the stories first seen in the window, newest first; ``featured``: pinned
    stories in pin order; ``meetings``: stories announcing an event (any order).
    Each story appears once: featured ones are not repeated in a section, and at most
    ``max_stories`` are kept (the newest); ``more`` counts those left out.
    """
    featured_ids = {s.id for s in featured}
    fresh = [s for s in new if s.id not in featured_ids]
    room = max(max_stories - len(featured), 0)
    kept, more = fresh[:room], max(len(fresh) - room, 0)
    stories = [story_entry(s, sources, _section_of(s, sections)) for s in kept]
    used = [t for t in sections if any(e["section"] == t for e in stories)]
    if any(e["section"] is None for e in stories):
        used.append("")
    upcoming = sorted(
        (s for s in meetings if s.event is not None and s.event.end >= today),
        key=lambda s: (s.event.start, s.id) if s.event else (today, s.id))
    return {
        "version": 1,
        "period": period,
        "label": period_label(period),
        "window_start": _iso(window_start),
        "window_end": _iso(window_end),
        "featured": [story_entry(s, sources, None) for s in featured],
        "stories": stories,
        "sections": [{"tag": t, "label": labels.get(t, t) if t else "Other news"}
                     for t in used],
        "meetings": [dict(story_entry(s, sources, None), event=_event(s)) for s in upcoming],
        "more": more,
    }


@dataclass(frozen=True, slots=True)
class Section:
    tag: str
    label: str
    stories: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """A digest as one subscriber receives it (or as the public copy shows it)."""

    period: str
    label: str
    featured: tuple[dict[str, Any], ...]
    sections: tuple[Section, ...]
    meetings: tuple[dict[str, Any], ...]
    more: int
    filters: tuple[str, ...] = field(default=())

    @property
    def story_count(self) -> int:
        return len(self.featured) + sum(len(s.stories) for s in self.sections)

    @property
    def empty(self) -> bool:
        return self.story_count == 0


def view_for(content: Mapping[str, Any], filters: Sequence[str] = ()) -> DigestView:
    """The digest narrowed to ``filters`` (a story passes with any one of the tags).

    Filters narrow the news sections; featured stories (the editors' choice) and
    upcoming meetings go to everyone.
    """
    wanted = set(filters)
    sections = []
    for sec in content.get("sections", []):
        items = tuple(e for e in content.get("stories", [])
                      if (e["section"] or "") == sec["tag"]
                      and (not wanted or wanted.intersection(e["tags"])))
        if items:
            sections.append(Section(sec["tag"], sec["label"], items))
    return DigestView(
        period=content["period"], label=content.get("label", content["period"]),
        featured=tuple(content.get("featured", [])), sections=tuple(sections),
        meetings=tuple(content.get("meetings", [])),
        more=int(content.get("more", 0)) if not wanted else 0,
        filters=tuple(sorted(wanted)),
    )
