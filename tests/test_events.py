"""Meeting events (aggregator.parse.events) against data files and the recorded pages.

Each case in tests/data/events/ is ``name.html`` (the item's sanitized HTML) and, beside
it, ``name.expected.json``: ``description``, the call (``title``, ``published``,
``language``), ``event`` (``{start, end, location, country}`` or null) and optionally
``matched`` (the date text as found). A new case is two new files.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest

from aggregator.models import Event
from aggregator.parse.events import extract_event

DATA = Path(__file__).parent / "data" / "events"
CASES = sorted(DATA.glob("*.expected.json"))
ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = ROOT / "feeds" / "snapshots" / "unodc-ms-news-events"
SEED = ROOT.parent / "shared" / "seed" / "unodc-cairo-egm-2009.txt"


def _event(value: dict[str, Any] | None) -> Event | None:
    if value is None:
        return None
    return Event(date.fromisoformat(value["start"]), date.fromisoformat(value["end"]),
                 value["location"], value["country"])


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("expected_file", CASES, ids=lambda p: p.name.removesuffix(".expected.json"))
def test_event_case(expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    html = expected_file.with_name(expected_file.name.replace(".expected.json", ".html"))
    published = datetime.fromisoformat(expected["published"]) if expected["published"] else None
    found = extract_event(expected["title"], html.read_text(encoding="utf-8"),
                          published=published, language=expected.get("language"))
    assert (found.event if found else None) == _event(expected["event"]), expected["description"]
    if found is not None and "matched" in expected:
        assert found.matched == expected["matched"]


# -- the recorded UNODC pages ------------------------------------------------------------

# file: (published, the listing's date for the page; expected event or None)
PAGES: dict[str, tuple[date, tuple[str, str, str, str] | None]] = {
    "detail-egm1-dakar-2008.html": (date(2008, 12, 3), ("2008-11-30", "2008-12-02", "Dakar, Senegal", "sn")),
    "detail-egm2-cairo-2009.html": (date(2009, 3, 26), ("2009-03-23", "2009-03-25", "Cairo, Egypt", "eg")),
    "detail-egm3-vienna-2009.html": (date(2009, 6, 25), ("2009-06-22", "2009-06-24", "Vienna, Austria", "at")),
    "detail-abuja-2011.html": (date(2011, 5, 9), ("2011-05-03", "2011-05-05", "Abuja, Nigeria", "ng")),
    "detail-bangkok-2012.html": (date(2012, 2, 21), ("2012-02-21", "2012-02-21", "Bangkok, Thailand", "th")),
    "detail-panama-2012.html": (date(2012, 11, 5), ("2012-11-14", "2012-11-16", "Panama City, Panama", "pa")),
    "detail-niamey-2015.html": (date(2015, 2, 11), ("2015-02-09", "2015-02-10", "Niamey, Niger", "ne")),
    "detail-vienna-2017.html": (date(2017, 10, 4), ("2017-10-12", "2017-10-12", "Vienna, Austria", "at")),
    "detail-bkk-air-2026.html": (date(2026, 11, 23), ("2026-12-08", "2026-12-10", "Bangkok, Thailand", "th")),
    # news, not meetings; the Maldives course is reported without its dates
    "detail-maldives.html": (date(2022, 4, 7), None),
    "detail-mexico-2013.html": (date(2013, 4, 26), None),
    "detail-online-course.html": (date(2020, 9, 15), None),
    "detail-by-air-2010.html": (date(2010, 10, 6), None),
    "detail-wdr-2010.html": (date(2010, 6, 23), None),
    "detail-kufra.html": (date(2026, 11, 26), None),
    "detail-agadez-radio.html": (date(2024, 3, 14), None),
    "detail-atlantic.html": (date(2025, 10, 8), None),
    "detail-sea-rescue.html": (date(2025, 6, 19), None),
    "detail-glosom-pr.html": (date(2026, 11, 20), None),
    "detail-glosom-fr.html": (date(2026, 11, 22), None),
    "detail-glosom-es.html": (date(2026, 11, 21), None),
}


def _page(path: Path) -> tuple[str, str, str | None]:
    """(title, the HTML of #content, lang) as the HTML source's followed page gives them."""
    doc = lxml.html.fromstring(path.read_bytes())
    content = doc.get_element_by_id("content")
    title = " ".join(content.findtext("h1").split())
    body = "".join(lxml.html.tostring(child, encoding="unicode") for child in content)
    return title, body, doc.get("lang")


def test_every_recorded_page_is_covered() -> None:
    assert sorted(p.name for p in SNAPSHOTS.glob("detail-*.html")) == sorted(PAGES)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_recorded_page(name: str) -> None:
    published, want = PAGES[name]
    title, body, lang = _page(SNAPSHOTS / name)
    found = extract_event(title, body, published=datetime.combine(published, datetime.min.time(), UTC),
                          language=lang)
    expected = None if want is None else Event(date.fromisoformat(want[0]), date.fromisoformat(want[1]),
                                               want[2], want[3])
    assert (found.event if found else None) == expected


def _seed() -> str:
    if not SEED.is_file():
        pytest.skip(f"no seed page at {SEED} (the shared folder beside the repo)")
    return SEED.read_text(encoding="utf-8")


def test_seed_page_as_paragraphs() -> None:
    """The project's seed page, each line a paragraph: 23-25 March 2009 in Cairo, Egypt."""
    lines = [line.strip() for line in _seed().splitlines() if line.strip()]
    html = "".join(f"<p>{line}</p>" for line in lines[1:])
    found = extract_event(lines[0], html, published=datetime(2009, 3, 26, tzinfo=UTC))
    assert found is not None
    assert found.event == Event(date(2009, 3, 23), date(2009, 3, 25), "Cairo, Egypt", "eg")
    assert found.matched == "23 to 25 March 2009"
    assert found.location_text == "Cairo, Egypt"


def test_seed_page_as_plain_text() -> None:
    text = _seed()
    found = extract_event(text.splitlines()[0], text, published=datetime(2009, 3, 26, tzinfo=UTC))
    assert found is not None and found.event.start == date(2009, 3, 23)


def test_teaser_before_the_dateline_does_not_hide_it() -> None:
    """A followed page arrives as listing teaser + page: the dateline is in paragraph two."""
    title, body, _ = _page(SNAPSHOTS / "detail-maldives.html")
    teaser = "<p>Police, immigration officers and prosecutors completed a five-day course.</p>"
    assert extract_event(title, teaser + body, published=datetime(2022, 4, 7, tzinfo=UTC)) is None


def test_missing_year_without_published_gives_none() -> None:
    html = "<p>12-14 October</p><p>Rabat, Morocco</p><p>A regional seminar on smuggling by sea.</p>"
    assert extract_event("Regional seminar", html) is None


@pytest.mark.parametrize("html", ["", "   ", "<p></p>", "not html at all", "<<<>>>"])
def test_empty_or_odd_input(html: str) -> None:
    assert extract_event("Regional meeting", html) is None
