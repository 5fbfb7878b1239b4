"""``meetings.ics``: every output read back with icalendar, stable bytes, RFC 5545 details."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import icalendar  # type: ignore[import-untyped, unused-ignore]
import pytest

from aggregator.config import SiteConfig
from aggregator.models import Event, Story
from aggregator.publish.calendar import event_uid, render_calendar
from aggregator.publish.feeds import story_guid

SITE = SiteConfig(title="Desk & Co", url="https://news.example.org/",
                  description="Meetings, news; and more")
UPDATED = datetime(2026, 11, 20, 9, 30, 15, 250000, tzinfo=UTC)


def story(sid: str, start: date | None, end: date | None = None, **kw: Any) -> Story:
    values: dict[str, Any] = dict(
        id=sid, title=f"Expert group meeting {sid}", url=f"https://www.unodc.org/{sid}.html",
        source="unodc", source_title="UNODC", source_url="https://www.unodc.org/",
        published=UPDATED - timedelta(days=3), first_seen=UPDATED - timedelta(days=3),
        updated=UPDATED, summary_html=f"<p>The <b>meeting</b> {sid} &amp; its report.</p>",
        tags=("meeting", "migrant-smuggling", "country:eg", "region:northern-africa",
              "org:unodc"),
        event=Event(start, end or start, "Cairo, Egypt", "eg") if start else None)
    values.update(kw)
    return Story(**values)


def events(data: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def by_uid(data: bytes) -> dict[str, bytes]:
    """Each VEVENT's text, by UID."""
    blocks = re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", data, re.S)
    return {re.search(rb"\r\nUID:(.*?)\r\n", b).group(1).decode(): b  # type: ignore[union-attr]
            for b in blocks}


CAIRO = story("cairo", date(2009, 3, 23), date(2009, 3, 25))


def test_calendar_properties() -> None:
    cal = icalendar.Calendar.from_ical(render_calendar(SITE, [CAIRO]))
    assert cal.name == "VCALENDAR"
    assert str(cal["version"]) == "2.0"
    assert str(cal["prodid"]).startswith("-//smuggling-news-aggregator//")
    assert str(cal["calscale"]) == "GREGORIAN"
    assert str(cal["method"]) == "PUBLISH"
    assert str(cal["x-wr-calname"]) == "Desk & Co — meetings"
    assert str(cal["x-wr-caldesc"]) == "Meetings, news; and more"


def test_event_fields() -> None:
    (ev,) = events(render_calendar(SITE, [CAIRO]))
    assert str(ev["uid"]) == event_uid("cairo") == story_guid("cairo").removeprefix("urn:uuid:")
    assert str(ev["summary"]) == "Expert group meeting cairo"
    assert ev["dtstamp"].dt == UPDATED.replace(microsecond=0)
    assert ev["last-modified"].dt == UPDATED.replace(microsecond=0)
    assert str(ev["location"]) == "Cairo, Egypt"
    assert str(ev["url"]) == "https://www.unodc.org/cairo.html"
    assert str(ev["description"]) == "The meeting cairo & its report.\n\nSource: UNODC"
    assert [str(c) for c in ev["categories"].cats] == ["meeting", "migrant-smuggling"]
    assert str(ev["transp"]) == "TRANSPARENT"
    assert "geo" not in ev


def test_all_day_range_with_exclusive_end() -> None:
    (ev,) = events(render_calendar(SITE, [CAIRO]))
    assert ev["dtstart"].dt == date(2009, 3, 23) and not isinstance(ev["dtstart"].dt, datetime)
    assert ev["dtend"].dt == date(2009, 3, 26)  # the 25th is the last day
    assert ev["dtstart"].params.get("VALUE") == "DATE"
    assert ev["dtend"].params.get("VALUE") == "DATE"


@pytest.mark.parametrize(("start", "end", "dtend"), [
    (date(2015, 2, 9), date(2015, 2, 9), date(2015, 2, 10)),  # one day
    (date(2008, 11, 30), date(2008, 12, 2), date(2008, 12, 3)),  # across a month
    (date(2012, 12, 31), date(2013, 1, 1), date(2013, 1, 2)),  # across a year
    (date(2016, 2, 28), date(2016, 2, 29), date(2016, 3, 1)),  # leap day
    (date(2020, 5, 5), date(2020, 5, 3), date(2020, 5, 6)),  # end before start: one day
], ids=["one-day", "month", "year", "leap-day", "end-before-start"])
def test_dtend_is_the_day_after_the_last(start: date, end: date, dtend: date) -> None:
    (ev,) = events(render_calendar(SITE, [story("x", start, end)]))
    assert (ev["dtstart"].dt, ev["dtend"].dt) == (start, dtend)


def test_uids_and_bytes_are_stable_across_publishes() -> None:
    old = [story("a", date(2009, 3, 23)), story("b", date(2010, 6, 1))]
    first = render_calendar(SITE, old)
    assert render_calendar(SITE, old) == first
    assert render_calendar(SITE, list(reversed(old))) == first  # input order does not matter
    added = story("c", date(2011, 5, 3), updated=UPDATED + timedelta(days=5))
    second = render_calendar(SITE, [*old, added])
    before, after = by_uid(first), by_uid(second)
    assert set(after) == set(before) | {event_uid("c")}
    for uid, block in before.items():
        assert after[uid] == block  # old events unchanged, byte for byte
    # the UID does not depend on where the site lives
    moved = render_calendar(replace(SITE, url="http://127.0.0.1:8080/"), old)
    assert set(by_uid(moved)) == set(before)


def test_dtstamp_is_the_story_update_not_the_clock() -> None:
    edited = replace(CAIRO, updated=datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    (ev,) = events(render_calendar(SITE, [edited]))
    assert ev["dtstamp"].dt == datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_newest_first_past_and_future_and_the_limit() -> None:
    starts = [date(2009, 3, 23), date(2031, 1, 10), date(2008, 11, 30), date(2026, 12, 1),
              date(2012, 2, 21)]
    stories = [story(f"s{i}", d) for i, d in enumerate(starts)]
    got = [ev["dtstart"].dt for ev in events(render_calendar(SITE, stories))]
    assert got == sorted(starts, reverse=True)
    limited = [ev["dtstart"].dt for ev in events(render_calendar(SITE, stories, limit=2))]
    assert limited == [date(2031, 1, 10), date(2026, 12, 1)]
    assert events(render_calendar(SITE, stories, limit=0)) == []


def test_same_start_is_ordered_by_end_then_id() -> None:
    day = date(2010, 6, 1)
    stories = [story("b", day), story("a", day), story("c", day, date(2010, 6, 3))]
    uids = [str(ev["uid"]) for ev in events(render_calendar(SITE, stories))]
    assert uids == [event_uid("c"), event_uid("b"), event_uid("a")]


def test_stories_without_events_and_hidden_ones_are_skipped() -> None:
    stories = [story("news", None), CAIRO, story("hidden", date(2010, 1, 1), hidden=True)]
    assert [str(ev["uid"]) for ev in events(render_calendar(SITE, stories))] == [
        event_uid("cairo")]
    empty = render_calendar(SITE, [story("news", None)])
    assert events(empty) == [] and empty.startswith(b"BEGIN:VCALENDAR\r\n")


def test_text_is_escaped_and_kept_on_one_line() -> None:
    title = "Smuggling, trafficking; and\r\nmore \\ \"quotes\"\rand\nlines\x00"
    data = render_calendar(SITE, [replace(CAIRO, title=title, source_title="A;B, C\nD")])
    (ev,) = events(data)
    assert str(ev["summary"]) == 'Smuggling, trafficking; and more \\ "quotes" and lines'
    assert str(ev["description"]).endswith("\n\nSource: A;B, C D")
    raw = data.decode("utf-8")
    assert 'SUMMARY:Smuggling\\, trafficking\\; and more \\\\ "quotes" and lines\r\n' in raw
    assert "\x00" not in raw


def test_lines_are_crlf_and_folded_at_75_octets() -> None:
    long = replace(CAIRO, title="Réunion du groupe d’experts sur le trafic illicite de migrants "
                                "— اجتماع فريق الخبراء " * 4,
                   summary_html="<p>" + "Words of a long teaser " * 60 + "</p>")
    data = render_calendar(SITE, [long])
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.endswith(b"END:VCALENDAR\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 75
    (ev,) = events(data)
    assert str(ev["summary"]) == " ".join(long.title.split())


def test_description_is_a_plain_text_teaser() -> None:
    html = ("<script>alert(1)</script><p>First <a href='/x'>paragraph</a>.</p><ul><li>one</li>"
            "<li>two</li></ul>" + "<p>" + "padding words " * 80 + "</p>")
    (ev,) = events(render_calendar(SITE, [replace(CAIRO, summary_html=html)]))
    teaser, source = str(ev["description"]).split("\n\n")
    assert teaser.startswith("First paragraph. one two padding words")
    assert "<" not in teaser and "alert" not in teaser
    assert teaser.endswith("…") and len(teaser) <= 500
    assert source == "Source: UNODC"


def test_description_falls_back_to_content_then_to_the_source_alone() -> None:
    from_content = replace(CAIRO, summary_html="", content_html="<p>Full text.</p>")
    (ev,) = events(render_calendar(SITE, [from_content]))
    assert str(ev["description"]) == "Full text.\n\nSource: UNODC"
    bare = replace(CAIRO, summary_html="", content_html="", source_title="")
    (ev,) = events(render_calendar(SITE, [bare]))
    assert str(ev["description"]) == "Source: unodc"


def test_location_falls_back_to_the_country_and_url_is_optional() -> None:
    no_place = replace(CAIRO, url=None, event=Event(date(2011, 5, 3), date(2011, 5, 5), None, "ng"))
    nothing = replace(CAIRO, id="n", event=Event(date(2011, 5, 3), date(2011, 5, 5), None, None))
    found = {str(e["uid"]): e for e in events(render_calendar(SITE, [no_place, nothing]))}
    ev, ev2 = found[event_uid("cairo")], found[event_uid("n")]
    assert str(ev["location"]) == "Nigeria" and "url" not in ev
    assert "location" not in ev2 and "url" in ev2


def test_no_topic_tags_no_categories() -> None:
    (ev,) = events(render_calendar(SITE, [replace(CAIRO, tags=("country:eg", "org:unodc"))]))
    assert "categories" not in ev
