"""Building digests: periods, the schedule, the content, filters, and the window chain."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import Config, DigestConfig, load_config
from aggregator.digest import Digests, build
from aggregator.errors import UsageError
from aggregator.models import Analysis, Event, Story, TagReason
from aggregator.store import Store
from tests.conftest import NOW
from tests.test_store import item, src

# -- periods and the schedule ---------------------------------------------------------


@pytest.mark.parametrize(("moment", "tz", "key"), [
    (datetime(2026, 11, 28, 12, tzinfo=UTC), "UTC", "2026-W48"),
    (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "UTC", "2026-W48"),  # Sunday night
    (datetime(2026, 11, 29, 23, 30, tzinfo=UTC), "Europe/Vienna", "2026-W49"),  # Monday there
    (datetime(2021, 1, 3, 12, tzinfo=UTC), "UTC", "2020-W53"),  # ISO years differ
    (datetime(2026, 12, 31, 12, tzinfo=UTC), "UTC", "2026-W53"),
])
def test_period_is_the_iso_week_where_the_digest_is_sent(moment: datetime, tz: str,
                                                          key: str) -> None:
    assert build.period_key(moment, tz) == key


def test_period_labels_and_parsing() -> None:
    assert build.period_label("2026-W48") == "week 48, 2026"
    assert build.parse_period("2026-W5") == "2026-W05"
    for bad in ("2026-48", "2026-W54", "2025-W53", "W48", "2026-W0"):
        with pytest.raises(ValueError, match="ISO week"):
            build.parse_period(bad)
    assert build.parse_period("2026-W53") == "2026-W53"  # 2026 has 53 weeks


def test_scheduled_time_is_the_weekday_and_time_in_the_time_zone() -> None:
    cfg = DigestConfig(weekday="monday", time="08:00", timezone="Europe/Vienna")
    assert build.scheduled_at("2026-W49", cfg) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    cfg = DigestConfig(weekday="friday", time="17:30", timezone="America/New_York")
    assert build.scheduled_at("2026-W28", cfg) == datetime(2026, 7, 10, 21, 30, tzinfo=UTC)


def test_due_rules() -> None:
    cfg = DigestConfig(weekday="monday", time="08:00")
    monday_7 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    monday_9 = monday_7 + timedelta(hours=2)
    # never sent: due at once, whatever the schedule
    assert build.is_due(monday_7, cfg, any_digest=False, period_done=False)
    # otherwise from the scheduled time on, until the period's digest is sent
    assert not build.is_due(monday_7, cfg, any_digest=True, period_done=False)
    assert build.is_due(monday_9, cfg, any_digest=True, period_done=False)
    assert not build.is_due(monday_9, cfg, any_digest=True, period_done=True)


# -- content --------------------------------------------------------------------------


def story(sid: str, *, tags: tuple[str, ...] = (), days_ago: float = 1, pinned: bool = False,
          event: Event | None = None) -> Story:
    when = NOW - timedelta(days=days_ago)
    from aggregator.models import Pin

    return Story(id=sid, title=f"Story {sid}", url=f"https://news.example.org/{sid}",
                 source="a", source_title="A", source_url=None, published=when,
                 first_seen=when, updated=when, summary_html=f"<p>About {sid} &amp; more</p>",
                 tags=tags, pinned=pinned, pin=Pin(at=NOW, note="Read this") if pinned else None,
                 event=event)


def content(new: list[Story], featured: list[Story] = (), meetings: list[Story] = (),
            max_stories: int = 60) -> dict:
    return build.build_content(
        period="2026-W48", window_start=NOW - timedelta(days=7), window_end=NOW, new=new,
        featured=list(featured), meetings=list(meetings),
        sections=("enforcement", "migrant-smuggling"),
        labels={"enforcement": "Enforcement", "migrant-smuggling": "Migrant smuggling"},
        sources={"a": ("Source A", "https://a.example.org/")}, max_stories=max_stories,
        today=NOW.date())


def test_content_groups_featured_then_sections_in_order_then_meetings() -> None:
    ev = Event(start=date(2026, 12, 8), end=date(2026, 12, 10), location="Bangkok, Thailand")
    past = Event(start=date(2026, 11, 1), end=date(2026, 11, 2))
    new = [story("s1", tags=("migrant-smuggling",)),
           story("s2", tags=("enforcement", "migrant-smuggling")),
           story("s3", tags=("other",)),
           story("p1", tags=("enforcement",), pinned=True)]
    c = content(new, featured=[new[3]], meetings=[story("m1", event=ev), story("m0", event=past)])
    assert [e["id"] for e in c["featured"]] == ["p1"]
    assert c["featured"][0]["note"] == "Read this"
    # each story once: the pinned one is not repeated in its section
    assert [(e["id"], e["section"]) for e in c["stories"]] == [
        ("s1", "migrant-smuggling"), ("s2", "enforcement"), ("s3", None)]
    assert [s["tag"] for s in c["sections"]] == ["enforcement", "migrant-smuggling", ""]
    assert c["sections"][-1]["label"] == "Other news"
    # only meetings that are not over
    assert [m["id"] for m in c["meetings"]] == ["m1"]
    assert c["meetings"][0]["event"] == {"start": "2026-12-08", "end": "2026-12-10",
                                         "location": "Bangkok, Thailand", "country": None}
    assert c["stories"][0]["summary"] == "About s1 & more"
    assert c["stories"][0]["sources"] == [{"id": "a", "title": "Source A",
                                           "url": "https://news.example.org/s1"}]


def test_content_keeps_the_newest_up_to_the_limit_and_counts_the_rest() -> None:
    new = [story(f"s{i}", tags=("migrant-smuggling",), days_ago=i / 10) for i in range(10)]
    c = content(new, max_stories=4)
    assert [e["id"] for e in c["stories"]] == ["s0", "s1", "s2", "s3"]
    assert c["more"] == 6


def test_view_for_filters_sections_but_keeps_featured_and_meetings() -> None:
    ev = Event(start=date(2026, 12, 8), end=date(2026, 12, 8))
    new = [story("ly", tags=("migrant-smuggling", "country:ly")),
           story("eg", tags=("enforcement", "country:eg")),
           story("p", pinned=True)]
    c = content(new, featured=[new[2]], meetings=[story("m", event=ev)])
    everything = build.view_for(c)
    assert everything.story_count == 3
    only_ly = build.view_for(c, ["country:ly"])
    assert [e["id"] for s in only_ly.sections for e in s.stories] == ["ly"]
    assert [e["id"] for e in only_ly.featured] == ["p"]
    assert len(only_ly.meetings) == 1
    assert only_ly.story_count == 2
    nothing = build.view_for(content([new[0]]), ["country:xx"])
    assert nothing.empty


# -- the window chain through the store -----------------------------------------------


@pytest.fixture
def digests(tmp_path: Path, db_url: str) -> tuple[Digests, Store, list[datetime]]:
    (tmp_path / "config.toml").write_text('[site]\nurl = "https://news.example.org/"\n'
                                          '[sources]\npaths = []\n', encoding="utf-8")
    config: Config = load_config(tmp_path / "config.toml")
    store = Store.open(db_url)
    store.sync_sources([src("a")], NOW)
    clock = [NOW]
    d = Digests(config, store, b"secret", clock=lambda: clock[0], topics=("migrant-smuggling",))
    yield d, store, clock
    store.close()


def _ingest(store: Store, guids: list[str], now: datetime, tags: tuple[str, ...] = ()) -> None:
    source = store.get_source("a")
    analyses = {g: Analysis(tags=tuple(TagReason(t, "tags." + t) for t in tags)) for g in guids}
    store.ingest(source, [item("a", g, published=now) for g in guids], now, analyses=analyses)


def test_each_digest_holds_what_was_first_seen_since_the_last_no_gap_no_overlap(
        digests: tuple[Digests, Store, list[datetime]]) -> None:
    d, store, clock = digests
    d.add("reader@example.org", confirmed=True)
    _ingest(store, ["old"], NOW - timedelta(days=9))  # before the first window
    _ingest(store, ["w1a", "w1b"], NOW - timedelta(days=2))
    first = d.send(transport=_NullTransport())
    assert first.outcome == "sent"
    ids1 = {e["title"] for e in store.get_digest("2026-W48").content["stories"]}
    assert ids1 == {"Story w1a", "Story w1b"}  # the first one reaches back 7 days only

    # a story arrives at the very moment the first digest was frozen, then more later
    _ingest(store, ["edge"], NOW)
    clock[0] = NOW + timedelta(days=3)
    _ingest(store, ["w2"], clock[0] - timedelta(hours=1))
    second = d.send(transport=_NullTransport())
    assert second.outcome == "sent"
    rec = store.get_digest("2026-W49")
    assert rec.window_start == NOW
    assert {e["title"] for e in rec.content["stories"]} == {"Story edge", "Story w2"}


def test_hidden_stories_are_in_no_digest(digests: tuple[Digests, Store, list[datetime]]) -> None:
    d, store, _clock = digests
    _ingest(store, ["keep", "hide"], NOW - timedelta(hours=5))
    hidden = next(s for s in store.list_stories() if s.title == "Story hide")
    store.set_hidden(hidden.id, True, NOW)
    content, count = d.build("2026-W48")
    assert count == 1 and content["stories"][0]["title"] == "Story keep"


def test_pins_lead_and_an_old_story_pinned_this_week_is_featured(
        digests: tuple[Digests, Store, list[datetime]]) -> None:
    d, store, _clock = digests
    _ingest(store, ["old"], NOW - timedelta(days=30))
    _ingest(store, ["new1", "new2"], NOW - timedelta(days=1))
    by_title = {s.title: s for s in store.list_stories()}
    store.pin(by_title["Story old"].id, NOW - timedelta(hours=2), order=2, note="Background")
    store.pin(by_title["Story new2"].id, NOW - timedelta(hours=1), order=1)
    content, count = d.build("2026-W48")
    assert [e["title"] for e in content["featured"]] == ["Story new2", "Story old"]
    assert [e["title"] for e in content["stories"]] == ["Story new1"]
    assert count == 3


def test_approval_freezes_the_content(tmp_path: Path,
                                      digests: tuple[Digests, Store, list[datetime]]) -> None:
    d, store, clock = digests
    d.config = replace(d.config, digest=replace(d.config.digest, approval=True))
    d.add("reader@example.org", confirmed=True)
    _ingest(store, ["before"], NOW - timedelta(hours=3))
    with pytest.raises(UsageError, match="waits for approval"):
        d.send(transport=_NullTransport())
    record = d.approve(by="editor")
    assert record.approved_by == "editor" and record.story_count == 1
    clock[0] = NOW + timedelta(hours=1)
    _ingest(store, ["after"], NOW + timedelta(minutes=30))  # arrives after approval
    report = d.send(transport=_NullTransport())
    assert report.outcome == "sent" and report.sent == 1
    assert [e["title"] for e in store.get_digest("2026-W48").content["stories"]] == \
        ["Story before"]


class _NullTransport:
    """Accepts everything, keeps nothing (the SMTP tests use a real server)."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def send(self, sender, recipient, data, msg_id, before_data=lambda: True) -> bool:
        return before_data()

    def delivered(self, msg_id: str) -> bool | None:
        return None
