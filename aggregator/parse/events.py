"""Meeting events in news items: when and where a meeting, workshop or conference is.

    title + sanitized HTML ─► lines (lxml) ─► is it a meeting? ─► the date, by trust:
        1. a date in the title        ("Workshop on ... (Dakar, 3-5 May 2011)")
        2. a short standalone line    ("23 to 25 March 2009", "Date: 12 October 2017")
        3. a meeting sentence in the first three paragraphs ("met in Abuja from 3 to 5 May")
        4. the dateline, same-day only ("Bangkok (Thailand), 21 February 2012 - ... met
           in Bangkok today")
    ─► the venue: a short line beside the date line, the text around a title date, "held
       in"/"met in"/"à"/"en" phrases, else the dateline city ─► EventMatch

What it does: English, French and Spanish date forms (ranges across months and years,
lists of days, month-first, ISO), a missing year taken from ``published``, venues as
"City, Country" in English through :mod:`aggregator.gazetteer`.

What it does not do: guess. The meeting must be what the item is about: named in the
title, a short line at the top, the first paragraph or the lede. A meeting mentioned in
passing ("findings discussed at a meeting in Djibouti on 3 and 4 June"), a date deeper in
the text, or one that belongs to something else ("the law adopted on 3 May 2011", "the
programme began on 1 May") is not an event. Impossible dates, ranges over 31 days and
numeric dates like 06/10/2010 (publication stamps in our listings, day/month order
unknown) give none.

The dateline rule: a dateline's date is when the story was filed, not when the meeting
was. It is the event's date only when the lede reports a gathering on that very day
("met ... today", "Speaking at the ... Summit", "the one-day meeting"; a meeting word,
not "held for ransom") and gives no longer span ("a five-day course ... this week", "met
for three days", "closed today").
So "Male, 7 April 2022 - Thirty officers ... completed a five-day course ... this week"
reports a training but not its dates: no event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import lxml.html
from lxml import etree

from aggregator import gazetteer
from aggregator.models import Event

__all__ = ["EventMatch", "extract_event"]


@dataclass(frozen=True, slots=True)
class EventMatch:
    event: Event
    matched: str  # the date text as found, for explanations
    location_text: str | None


# -- date expressions (matched on gazetteer.fold text: lower case, no accents) ------------

_MONTHS = {name: number for number, names in enumerate((
    "january jan janvier enero", "february feb fevrier febrero", "march mar mars marzo",
    "april apr avril abril", "may mai mayo", "june jun juin junio", "july jul juillet julio",
    "august aug aout agosto", "september sep sept septembre septiembre setiembre",
    "october oct octobre octubre", "november nov novembre noviembre",
    "december dec decembre diciembre"), start=1) for name in names.split()}
# English "may" is a verb and the abbreviations are words: they need their capital
_NEEDS_CAPITAL = {"may", "mar", "jan", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
                  "dec", "feb", "apr"}
_M = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WD = (r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi"
       r"|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miercoles|jueves|viernes"
       r"|sabado|domingo),?\s+)?")
_D = _WD + r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th|er|º|°)?"
_Y = r"(?:19[5-9]\d|20\d\d)"
_DE = r"(?:\s+de)?\s+(?:of\s+)?"  # "5 de octubre", "the 5th of October"
_YEAR_TAIL = r"(?:,?(?:\s+de)?\s+(?P<{0}>" + _Y + r"))?"
_TO = r"(?:\s*[-–—]\s*|\s+(?:to|till|until|through|thru|au|al|a|hasta(?:\s+el)?)\s+)"
_AND = r"(?:\s*,?\s+(?:and|et|y)\s+|\s*&\s*)"
# "9, 10 and 11 May": commas only inside a list that ends with "and" or "to"
_DAYS = _D + r"(?:\s*,\s*" + _D + r")*(?:" + _TO + "|" + _AND + r")" + _D
_PREFIX = (r"(?:(?:from|between|on|du|des|les|le|del|los\s+dias|el|entre(?:\s+el)?"
           r"|dates?\s*:?)\s+)?")


_DATE_RE = re.compile(
    r"(?<![\w/.-])" + _PREFIX + "(?:"
    # 2019-05-14 [to 2019-05-16], not a timestamp
    r"(?P<iy1>" + _Y + r")-(?P<im1>[01]\d)-(?P<id1>[0-3]\d)(?:" + _TO + r"(?P<iy2>" + _Y
    + r")-(?P<im2>[01]\d)-(?P<id2>[0-3]\d))?(?![\d:t-]|\s+\d\d?:\d\d)"
    # 30 November [2019] to 2 December 2008
    + r"|(?P<ad1>" + _D + r")" + _DE + r"(?P<am1>" + _M + r")" + _YEAR_TAIL.format("ay1") + _TO
    + r"(?P<ad2>" + _D + r")" + _DE + r"(?P<am2>" + _M + r")" + _YEAR_TAIL.format("ay2")
    # 23 to 25 March 2009, 9 and 10 February, 9, 10 and 11 May
    + r"|(?P<bd>" + _DAYS + r")" + _DE
    + r"(?P<bm>" + _M + r")" + _YEAR_TAIL.format("by")
    # October 30 - November 2, 2017
    + r"|(?P<dm1>" + _M + r")\s+(?P<dd1>" + _D + r")" + _TO + r"(?P<dm2>" + _M + r")\s+(?P<dd2>"
    + _D + r")" + _YEAR_TAIL.format("dy")
    # October 12-14, 2017
    + r"|(?P<em>" + _M + r")\s+(?P<ed>" + _DAYS + r")"
    + _YEAR_TAIL.format("ey")
    # 12 October 2017
    + r"|(?P<cd>" + _D + r")" + _DE + r"(?P<cm>" + _M + r")" + _YEAR_TAIL.format("cy")
    # October 12, 2017
    + r"|(?P<fm>" + _M + r")\s+(?P<fd>" + _D + r")(?!\s*[-–]\s*\d)" + _YEAR_TAIL.format("fy")
    + r")(?![\w-])"
)
_NUM = re.compile(r"(?<![a-z])(\d+)")


@dataclass(frozen=True, slots=True)
class _Found:
    start: date
    end: date
    span: tuple[int, int]


def _days(text: str) -> list[int]:
    # weekday names are letters: only the day numbers are digits ("1er", "2nd" too)
    return [int(n) for n in _NUM.findall(text)]


def _month(token: str | None, written: str) -> int | None:
    if token is None:
        return None
    key = token.rstrip(".")
    if key in _NEEDS_CAPITAL and not written[:1].isupper():
        return None
    return _MONTHS.get(key)


def _year_for(month: int, day: int, published: date | None) -> int | None:
    if published is None:
        return None
    try:
        guess = date(published.year, month, day)
    except ValueError:
        return None
    # a meeting ~10 months before the story is more likely next year's
    return published.year + 1 if guess < published - timedelta(days=300) else published.year


def _build(y1: int | None, m1: int, d1: int, y2: int | None, m2: int, d2: int,
           published: date | None) -> tuple[date, date] | None:
    if y2 is None:  # "29 December [2019] to 2 January": the end rolls into the next year
        y1 = y1 if y1 is not None else _year_for(m1, d1, published)
        if y1 is None:
            return None
        y2 = y1 + 1 if (m2, d2) < (m1, d1) else y1
    elif y1 is None:  # "30 November to 2 December 2008": the start may be the year before
        y1 = y2 if (m1, d1) <= (m2, d2) else y2 - 1
    try:
        start, end = date(y1, m1, d1), date(y2, m2, d2)
    except ValueError:  # 31 February
        return None
    return (start, end) if 0 <= (end - start).days <= 31 else None


def _interpret(m: re.Match[str], original: str, published: date | None) -> tuple[date, date] | None:
    g = m.groupdict()

    def month(name: str) -> int | None:
        return _month(g[name], original[m.start(name):m.end(name)] if g[name] else "")

    def year(name: str) -> int | None:
        return int(g[name]) if g.get(name) else None

    if g["iy1"]:
        first = (int(g["iy1"]), int(g["im1"]), int(g["id1"]))
        last = (int(g["iy2"]), int(g["im2"]), int(g["id2"])) if g["iy2"] else first
        return _build(*first, *last, published)
    if g["ad1"] or g["dm1"]:
        p = "a" if g["ad1"] else "d"
        start_month, end_month = month(p + "m1"), month(p + "m2")
        if start_month is None or end_month is None:
            return None
        return _build(year("ay1"), start_month, _days(g[p + "d1"])[0],
                      year("ay2" if p == "a" else "dy"), end_month, _days(g[p + "d2"])[0],
                      published)
    for p in ("b", "e", "c", "f"):
        if g[p + "d"]:
            mo, days = month(p + "m"), _days(g[p + "d"])
            if mo is None or days != sorted(days) or len(set(days)) != len(days):
                return None
            return _build(None, mo, days[0], year(p + "y"), mo, days[-1], published)
    return None


def _dates(text: str, published: date | None) -> list[_Found]:
    folded = gazetteer.fold(text)
    found = []
    for m in _DATE_RE.finditer(folded):
        span = _interpret(m, text, published)
        if span is not None:
            found.append(_Found(span[0], span[1], (m.start(), m.end())))
    return found


# -- meeting words ----------------------------------------------------------------------

# French and Spanish words that cannot be English are always meeting words; "réunion",
# "formation" and "taller" are English words too, so they need the language.
_MEETING = (r"meetings?|workshops?|conferences?|seminars?|consultations?|forums?|egms?"
            r"|trainings?|(?<!of )courses?|symposi(?:um|a)|round[- ]?tables?|dialogues?"
            r"|summits?|webinars?|sessions?|congress|retreat|expert group"
            r"|(?<!press )(?<!news )(?<!media )briefings?"
            r"|ateliers?|seminaires?|colloques?|tables? rondes?|sommets?|rencontres?"
            r"|webinaires?|seminarios?|capacitacion(?:es)?|cursos?|foros?|encuentros?"
            r"|mesas? redondas?|cumbres?|dialogos?|consultas?|simposios?|sesion(?:es)?"
            r"|jornadas?|conferencias?")
_MEETING_BY_LANGUAGE = {"fr": r"reunions?|formations?", "es": r"reunion(?:es)?|talleres|taller"}
_GATHERED = (r"met|meet|convened|convenes|gathered|came together|will meet|se sont reunis"
             r"|se reuniront|se reunieron|se reuniran|reunit|reunio")
_SAME_DAY = re.compile(
    r"\b(?:today|this (?:morning|afternoon|evening)|tonight|aujourd'hui|ce jour|hoy"
    r"|one-day|day-long|d'une journee|de un dia|speaking at|addressing the|opening the)\b")
_SPAN = re.compile(
    r"\b(?:(?:two|three|four|five|six|seven|eight|nine|ten|several|multi|\d+)[- ](?:day|week|month)s?"
    r"|(?:a|one|two|three|four|five|six|several)\s+(?:full\s+)?weeks?"
    r"|(?:this|last|past|the previous) week|for (?:\w+ )?(?:days|weeks)"
    r"|cette semaine|esta semana|closed|concluded|ended|wrapped up|closing)\b")
_GATHERING_VERB = re.compile(
    r"\b(?:" + _GATHERED + r"|opened|held|hosted|took place|attended|participated)\b")
# a date that belongs to something else, or only starts something longer
_PASSING = re.compile(
    r"\b(?:adopted|signed|passed|enacted|published|released|ratified|launched|since|until"
    r"|before|after|by|deadline|in force|began|begins|started|starts|opens|opened|depuis"
    r"|jusqu'au|desde|hasta)\s+(?:on\s+|le\s+|el\s+)?$")


_FR_WORDS = frozenset({"le", "les", "des", "du", "au", "aux", "et", "une", "pour", "sur", "avec",
                       "est", "sont", "ont", "qui"})
_ES_WORDS = frozenset({"el", "los", "las", "del", "al", "y", "una", "para", "por", "con", "se",
                       "que", "su", "sobre", "fue"})


_WORD_RE = re.compile(r"[a-z']+")


def _languages(language: str | None, sample: str) -> tuple[str, ...]:
    if language:
        base = language.lower()[:2]
        return ("en", base) if base in _MEETING_BY_LANGUAGE else ("en",)
    words = _WORD_RE.findall(gazetteer.fold(sample[:1500]))
    fr = sum(w in _FR_WORDS for w in words)
    es = sum(w in _ES_WORDS for w in words)
    if max(fr, es) < 2 or fr == es:
        return ("en",)
    return ("en", "fr") if fr > es else ("en", "es")


@cache
def _meeting_re(langs: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join([_MEETING] + [_MEETING_BY_LANGUAGE[lang] for lang in langs if lang != "en"])
    return re.compile(r"\b(?:" + words + "|" + _GATHERED + r")\b")


# -- lines and venues ---------------------------------------------------------------------

_BLOCKS = {"p", "div", "li", "dd", "dt", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
           "blockquote", "figcaption", "pre", "tr", "section", "article", "caption"}


def _lines(html: str) -> list[str]:
    """The text of ``html``, one entry per paragraph, heading, list item or <br> line."""
    if not html.strip():
        return []
    if "<" not in html:
        return [" ".join(line.split()) for line in html.splitlines() if line.strip()]
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return []
    for el in root.iter():
        if isinstance(el.tag, str) and (el.tag in _BLOCKS or el.tag == "br"):
            el.tail = "\n" + (el.tail or "")
            if el.tag != "br":
                el.text = "\n" + (el.text or "")
    return [" ".join(line.split()) for line in root.text_content().split("\n") if line.strip()]


_DATELINE = re.compile(r"^(?P<place>[A-ZÀ-Ý][\w'’.\- ]{1,40}?(?:\s*\([^)]{2,40}\))?)\s*,\s*")
_AFTER_DATELINE = re.compile(r"\s*(?:\([^)]{1,20}\)\s*)?[-–—:]+\s*")
_PLACE_WORD = r"[A-Z][\w'’.-]*"
_PLACE = (_PLACE_WORD + r"(?:\s+(?:(?:de|del|of|la|el)\s+)?" + _PLACE_WORD + r")*"
          r"(?:\s*,\s*" + _PLACE_WORD + r"(?:\s+" + _PLACE_WORD + r")*)?(?:\s*\([A-Z][^)]{1,40}\))?")
_VENUE_PHRASE = re.compile(r"\b(?:in|at|à|en|au)\s+(?:(?:la|le|the|el)\s+)?(?P<place>" + _PLACE + ")")
_STAMP = re.compile(r"\b(?:published|posted|updated|issued|publie|mis a jour|publicado"
                    r"|actualizado)\b", re.I)
_LABEL = re.compile(r"^(?:venue|location|place|lieu|lugar|sede|where|date|dates|when|fecha"
                    r"|fechas)\s*:\s*", re.I)


def _venue(text: str) -> tuple[str, str | None] | None:
    """("Cairo, Egypt", "eg") for a venue text, None if it names no known place."""
    text = _LABEL.sub("", text).strip(" ,;:-–—|()")
    iso = gazetteer.lookup_place(text)
    if iso is None:
        return None
    return gazetteer.place_name(text) or text, iso


_UNPLACED_VENUE = re.compile(_PLACE_WORD + r"(?:\s+" + _PLACE_WORD + r")*\s*,\s*" + _PLACE_WORD + r".*")


def _venue_line(line: str) -> tuple[str, str | None] | None:
    """A short line that is only a place: "Cairo, Egypt", "Venue: Vienna International Centre"."""
    if len(line) > 70 or len(line.split()) > 9 or _dates(line, None) or line.endswith("."):
        return None
    found = _venue(line)
    if found is not None:
        return found
    bare = _LABEL.sub("", line).strip()
    if _UNPLACED_VENUE.fullmatch(bare):
        return bare, None  # "Tamale, Northern Region": a venue we cannot place
    return None


def _venue_in(text: str, anywhere: bool = False) -> tuple[str, str | None] | None:
    """The place of an "in X"/"at X"/"à X"/"en X" phrase; with ``anywhere``, else the
    first town named in ``text`` ("met ... in the capital, Bamako")."""
    for m in _VENUE_PHRASE.finditer(text):
        found = _venue(m.group("place"))
        if found is not None:
            return found
    places = gazetteer.find_places(text) if anywhere else []
    return _venue(places[0].matched) if places else None


_BEFORE_TITLE_DATE = re.compile(r"\s[-–—|:]\s|,")
_AFTER_TITLE_DATE = re.compile(r"\s[-–—|:]\s|[,(]")


def _title_venue(title: str, span: tuple[int, int]) -> tuple[str, str | None] | None:
    """The place written beside a title date: "(Dakar, 3-5 May 2011)", "Workshop, Dakar, 3-5 May"."""
    before, after = title[:span[0]], title[span[1]:]
    opened = before.rfind("(")
    if opened > before.rfind(")"):
        inside = before[opened + 1:] + " " + after.split(")")[0]
        return _venue(inside)
    left = _BEFORE_TITLE_DATE.split(before.rstrip(" ,-–—|:"))[-1]
    right = _AFTER_TITLE_DATE.split(after.lstrip(" ,-–—|:"))[0]
    return _venue(left) or _venue(right)


def _cut_dateline(paragraph: str, pub: date | None) -> tuple[re.Match[str], _Found, str] | None:
    """(the place match, the date, the rest) for "Vienna, 3 March 2020 - The rest..."."""
    dateline = _DATELINE.match(paragraph)
    if dateline is None:
        return None
    offset = dateline.end()
    found = _dates(paragraph[offset:offset + 40], pub)
    if not found or found[0].span[0] != 0:
        return None
    after = _AFTER_DATELINE.match(paragraph, offset + found[0].span[1])
    if after is None:
        return None
    span = (offset, offset + found[0].span[1])
    return dateline, _Found(found[0].start, found[0].end, span), paragraph[after.end():]


# -- the stage -----------------------------------------------------------------------------

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“«¿¡])")
_DASH_ONLY = re.compile(r"\s*[-–—]\s*")
_TIME_WORDS = re.compile(r"\d\d?[:.h]\d\d|\b(?:to|from|am|pm)\b")


def _sentences(text: str) -> list[str]:
    return _SENTENCE_BREAK.split(text)


def extract_event(title: str, html: str, *, published: datetime | None = None,
                  language: str | None = None) -> EventMatch | None:
    """The meeting an item announces or reports, or None (see the module docstring)."""
    title = " ".join((title or "").split())
    lines = [line for line in _lines(html or "") if line != title]
    pub = published.date() if published else None
    langs = _languages(language, title + " " + " ".join(lines[:4]))
    meeting = _meeting_re(langs)
    head = lines[:8]
    # the first paragraphs of prose: short lines are dates, venues, captions or headings
    prose = [line for line in head if len(line.split()) > 9][:3]
    # "Bangkok (Thailand), 21 February 2012 - ": the filing place and date, cut from the
    # lede (a listing teaser may come before it, so look at every lead paragraph)
    dateline: re.Match[str] | None = None
    dateline_date: _Found | None = None
    dateline_venue: tuple[str, str | None] | None = None
    lede_at = 0
    for i, paragraph in enumerate(prose):
        cut = _cut_dateline(paragraph, pub)
        if cut is None:
            continue
        if dateline is None:
            dateline, dateline_date = cut[0], cut[1]
            place = dateline.group("place")
            dateline_venue = _venue(place) or (" ".join(place.split()), None)
            lede_at = i  # a listing teaser may come first: it is not the lede
        prose[i] = cut[2]

    # the meeting is what the story is about: named in the title, a short line at the top,
    # the first paragraph or the lede, not in passing further down ("findings discussed at
    # a meeting in Djibouti on 3 and 4 June")
    subject = [title, *prose[:1], *prose[lede_at:lede_at + 1]]
    subject += [line for line in head[:6] if len(line.split()) <= 9]
    # (the first paragraph is often the lede too: each text searched once)
    if not any(meeting.search(gazetteer.fold(text)) for text in dict.fromkeys(subject)):
        return None

    def result(found: _Found, text: str, venue: tuple[str, str | None] | None) -> EventMatch:
        location, iso = venue if venue else (None, None)
        matched = text[found.span[0]:found.span[1]]
        return EventMatch(Event(found.start, found.end, location, iso), matched, location)

    def general_venue(near: str = "") -> tuple[str, str | None] | None:
        return (_venue_in(near, anywhere=True) or next(filter(None, map(_venue_in, prose)), None)
                or dateline_venue)

    # 1. the title
    for found in _dates(title, pub):
        return result(found, title, _title_venue(title, found.span) or general_venue())

    # 2. a short standalone date line, the venue in it or on a line beside it
    for i, line in enumerate(head):
        found_in_line = _dates(line, pub)
        if not found_in_line or len(line) > 90:
            continue
        found = found_in_line[0]
        rest = (line[:found.span[0]] + " " + line[found.span[1]:]).strip(" ,;:-–—|")
        dateline_alone = _DASH_ONLY.fullmatch(line[found.span[1]:])  # "Vienna, 3 May -"
        venue = _venue(rest) if rest else None
        # only the date, a label, a time or a venue: "The law was adopted on 3 May" is prose
        words = _TIME_WORDS.sub("", _LABEL.sub("", rest)).split()
        if len(words) > 6 or (len(words) > 2 and venue is None) or _STAMP.search(rest) or dateline_alone:
            continue
        for j in (i + 1, i - 1):  # the venue line after the date line, else before it
            if venue is None and 0 <= j < len(head):
                venue = _venue_line(head[j])
        return result(found, line, venue or general_venue())

    # 3. a meeting sentence in the first paragraphs (not "the law adopted on 3 May")
    for paragraph in prose:
        for sentence in _sentences(paragraph):
            folded = gazetteer.fold(sentence)
            if not (meeting.search(folded) or _GATHERING_VERB.search(folded)):
                continue
            for found in _dates(sentence, pub):
                if _PASSING.search(folded[max(0, found.span[0] - 30):found.span[0]]):
                    continue
                return result(found, sentence, general_venue(sentence))

    # 4. the dateline, when the lede says the gathering is that very day
    if dateline_date is not None and dateline is not None:
        lede = gazetteer.fold(" ".join(prose[lede_at:lede_at + 2]))
        # a meeting word, not any verb: "held for ransom ... a report released today"
        if _SAME_DAY.search(lede) and not _SPAN.search(lede) and meeting.search(lede):
            return result(dateline_date, dateline.string, dateline_venue)
    return None
