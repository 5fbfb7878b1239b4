"""Countries in running text: find them, name them, place them in UN M49 regions.

    text ─► fold (lower case, no accents, same length) ─► one trie regex of every form
         ─► case rules ─► context rules (people, rivers, languages, US Georgia, Congo)
         ─► CountryMention(iso2, matched, start, end, kind)

What it does: match country names (pycountry's plus the short, historical, French and
Spanish names in :mod:`aggregator.gazetteer_data`), demonyms, codes ("US", "DRC") and
the towns on the routes, with the longest form winning ("Guinea-Bissau" over "Guinea",
"Gulf of Guinea" over both). ``lookup_place`` reads a venue line ("Cairo, Egypt").

What it does not do: I/O (beyond importing pycountry), guess at words it has no table
entry for, or decide what a story is about: it reports mentions and the tagger decides.

The judgement calls, each with a test in ``tests/test_gazetteer.py``:

- A proper noun needs its capital: "Chad" is a country, "chad" is not. Forms written in
  lower case in the tables (French/Spanish adjectives, "golfe de Guinée") match in any
  case; codes match only exactly ("US", never "us").
- Seas, rivers and lakes hide the name inside them: "Gulf of Guinea", "Indian Ocean",
  "Niger River", "Lake Chad" give nothing. "Niger Delta" and "Niger State" are in
  Nigeria. English "the Niger" is the river unless it stands in a list of countries
  ("Mali, the Niger and Nigeria") or in the UN's own phrasing ("the Government of the
  Niger", "the Niger authorities").
- US states are places in the US: "New Mexico", "New Jersey" give us, and so does
  Georgia near Atlanta, Savannah, "US state", a county or a federal court, or in US
  local-news style ("Georgia man sentenced"; the country's people are "Georgian").
- Georgia, Jordan, Chad, India, Israel, Kenya (and the states Virginia, Indiana...) are
  people when a surname follows ("Georgia Mendes, a UNODC officer") or a first name or
  title precedes ("Ms. Jordan"), unless the next word is institutional ("Chad Government")
  or the text is a Title Case headline ("Chad Hosts Regional Workshop").
- A bare "Congo" (and "Congolese") follows the specific forms in the same text: only
  Democratic-Republic forms (DRC, DR Congo, Kinshasa, Goma...) → cd; only Republic forms
  (Brazzaville, Congo-Brazzaville, Republic of the Congo) → cg; both → skipped (the
  specific mentions already tag both). With neither, "Congo" is cg, the UN short name
  our sources use, except "eastern Congo" (cd); "Congolese" alone is skipped.
- "French", "Spanish"... are languages in "available in English, French and Spanish".
- Towns count: a story from Agadez or Lampedusa, or datelined "Vienna, 3 March 2020 -",
  names a place in Niger, Italy, Austria. A town followed by its country ("Tripoli,
  Lebanon") takes that country. Words that are also towns ("Male", "Sofia") are trusted
  only by ``lookup_place``.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TypeAlias

import pycountry

from aggregator import gazetteer_data as data

__all__ = [
    "CountryMention", "country_name", "find_countries", "find_places", "fold", "lookup_place",
    "place_name", "region_name", "region_of",
]


@dataclass(frozen=True, slots=True)
class CountryMention:
    iso2: str  # lower case
    matched: str  # the text as written
    start: int
    end: int
    #: "name", "code", "demonym" or "place" (a town or region inside the country)
    kind: str = "name"


@dataclass(frozen=True, slots=True)
class _Entry:
    iso: str | None  # None: a phrase that is not a country ("Gulf of Guinea")
    kind: str
    surface: str  # as the table writes it
    any_case: bool = False
    exact: bool = False  # codes: the text must be one of the written forms
    rules: frozenset[str] = frozenset()


_Node: TypeAlias = dict[str, "_Node"]
_CONGO = "?congo"  # bare "Congo"/"Congolese": resolved against the rest of the text
_SEP = r"[\s\-\u2010\u2011]+"  # a space or a hyphen in a form: "Guinea Bissau" too


# -- folding ------------------------------------------------------------------------------


@cache
def _fold_table() -> tuple[dict[str, str], re.Pattern[str]]:
    table: dict[str, str] = {}
    for cp in range(0x80, 0x2100):
        ch = chr(cp)
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if not unicodedata.combining(c)).lower()
        if len(base) == 1 and base != ch:
            table[ch] = base
    table.update({
        "ø": "o", "ł": "l", "đ": "d", "ß": "s", "æ": "a", "œ": "o", "ı": "i", "ð": "d",
        "\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-",
    })
    # substituting only the few non-ASCII characters is 5x faster than str.translate
    return table, re.compile("[" + re.escape("".join(table)) + "]")


def fold(text: str) -> str:
    """Lower case without accents, the same length as ``text`` (offsets carry over)."""
    low = text.lower()
    if len(low) != len(text):  # "İ" lower-cases to two characters
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    if low.isascii():
        return low
    table, chars = _fold_table()
    return chars.sub(lambda m: table[m.group()], low)


def _key(surface: str) -> str:
    return re.sub(r"[\s\-]+", " ", fold(surface)).strip()


# -- the tables ---------------------------------------------------------------------------


def _plurals(word: str) -> tuple[str, ...]:
    invariable = word.endswith(("ese", "ish", "ch", "ss", "sh")) or word == "Swiss"
    return (word,) if invariable else (word, word + "s")


def _inflect_fr(word: str) -> tuple[str, ...]:  # malien → malienne, maliens, maliennes
    if word.endswith("en"):
        return (word, word + "ne", word + "s", word + "nes")
    if word.endswith(("e", "è")):
        return (word, word + "s")
    return (word, word + "e", word if word.endswith("s") else word + "s", word + "es")


def _inflect_es(word: str) -> tuple[str, ...]:  # sudanés → sudanesa, sudaneses, sudanesas
    if word.endswith("o"):
        return (word, word[:-1] + "a", word + "s", word[:-1] + "as")
    if word.endswith("és"):
        return (word, *(word[:-2] + "es" + end for end in ("a", "es", "as")))
    return (word, word + "es", word + "s") if word.endswith("í") else (word, word + "s")


def _sources() -> list[tuple[str | None, str, str, frozenset[str]]]:
    """(iso, kind, surface, rules), most specific tables first: the first iso wins."""
    rows: list[tuple[str | None, str, str, frozenset[str]]] = []
    none: frozenset[str] = frozenset()
    for iso, forms in data.INSIDE_COUNTRY.items():
        rows += [(iso, "place", f, none) for f in forms]
    rows += [(None, "none", f, none) for f in data.NOT_COUNTRIES + data.NOT_COUNTRIES_ANY_CASE]
    rows += [(_CONGO, "name", "Congo", frozenset({"congo"}))]
    rows += [(_CONGO, "demonym", f, frozenset({"congolese"}))
             for f in ("Congolese", *_inflect_fr("congolais"), *_inflect_es("congoleño"))]
    for iso, forms in data.EXACT_FORMS.items():
        rows += [(iso, "code", f, frozenset({"exact"})) for f in forms]
    for country in pycountry.countries:
        iso = country.alpha_2.lower()
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if not value or "," in value or "(" in value or value in data.SKIP_PYCOUNTRY_NAMES:
                continue
            rows.append((iso, "name", value.removeprefix("the "), none))
    for table in (data.EXTRA_NAMES, data.FRENCH_NAMES, data.SPANISH_NAMES):
        for iso, forms in table.items():
            rows += [(iso, "name", f, none) for f in forms]
    for iso, forms in data.DEMONYMS.items():
        for f in forms:
            rules = frozenset({"lang"}) if f in data.LANGUAGE_DEMONYMS else none
            rows += [(iso, "demonym", p, rules) for p in _plurals(f)]
    for iso, forms in data.FRENCH_ADJECTIVES.items():
        rows += [(iso, "demonym", p, none) for f in forms for p in _inflect_fr(f)]
    for iso, forms in data.SPANISH_ADJECTIVES.items():
        rows += [(iso, "demonym", p, none) for f in forms for p in _inflect_es(f)]
    for row in data.CITIES:
        rows += [(row[0], "place", f, frozenset({"city"})) for f in row[1:]]
    return rows


_SURFACE_RULES = {"Georgia": frozenset({"us-state"}), "Niger": frozenset({"the-niger"})}


def _rules_for(surface: str, rules: frozenset[str]) -> frozenset[str]:
    person = frozenset({"person"}) if surface in data.PERSON_PRONE else frozenset()
    return rules | person | _SURFACE_RULES.get(surface, frozenset())


@cache
def _table(lookup: bool) -> tuple[dict[str, _Entry], re.Pattern[str]]:
    """Every form by folded key, and the regex that finds them (built once)."""
    rows = _sources()
    if lookup:
        rows += [(row[0], "place", f, frozenset({"city"}))
                 for row in data.LOOKUP_ONLY_CITIES for f in row[1:]]
    entries: dict[str, _Entry] = {}
    for iso, kind, surface, rules in rows:
        key = _key(surface)
        if key in entries:  # an earlier, more specific table already has it...
            old = entries[key]
            if old.iso == iso and surface[:1].islower() and not old.any_case:
                # ...but "nigériens" in lower case is still Niger, as "Nigeriens" is
                entries[key] = _Entry(old.iso, old.kind, old.surface, True, old.exact, old.rules)
            continue
        entries[key] = _Entry(iso, kind, surface, any_case=surface[:1].islower(),
                              exact="exact" in rules, rules=_rules_for(surface, rules))
    pattern = r"(?<!\w)" + _trie(sorted(entries)) + r"(?!\w)"
    return entries, re.compile(pattern)


def _trie(keys: list[str]) -> str:
    """An alternation factored by common prefixes: the engine never tries 3,000 branches."""
    root: _Node = {}
    for key in keys:
        node = root
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: _Node) -> str:
        alts = [(_SEP if ch == " " else re.escape(ch)) + emit(child)
                for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        # greedy optional: the longer form is tried first, the shorter one on backtrack
        return f"(?:{body})?" if "" in node else body

    return emit(root)


# -- matching -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hit:
    entry: _Entry
    start: int
    end: int
    iso: str | None


_SPACES = re.compile(r"\s+")
_SEP_RE = re.compile(_SEP)


def _case_ok(entry: _Entry, written: str) -> bool:
    if entry.exact:
        return _SPACES.sub(" ", written) in {entry.surface, *data.EXACT_FORMS.get(entry.iso or "", ())}
    return entry.any_case or written[:1].isupper()


def _raw_hits(text: str, folded: str, lookup: bool) -> list[_Hit]:
    entries, pattern = _table(lookup)
    hits: list[_Hit] = []
    pos = 0
    while (m := pattern.search(folded, pos)) is not None:
        entry = entries.get(_SEP_RE.sub(" ", m.group()))
        if entry is None or not _case_ok(entry, text[m.start():m.end()]):
            pos = m.start() + 1  # a shorter form may start at a later word
            continue
        hits.append(_Hit(entry, m.start(), m.end(), entry.iso))
        pos = m.end()
    return hits


_NEXT_WORD = re.compile(r" ([A-Z][a-z]+(?:['-][A-Za-z]+)?)")
_PREV_WORD = re.compile(r"(?:^|(.)\s*)\b([A-Z][a-z]+\.?) $", re.S)
_TITLE_CASE_NEXT = re.compile(r"\s+[A-Z]")


def _is_person(text: str, start: int, end: int) -> bool:
    """"Georgia Mendes", "Ms. Jordan", "said Chad Miller": a name, not a country."""
    after = text[end:end + 40]
    capital_follows = _TITLE_CASE_NEXT.match(after) is not None
    m = _NEXT_WORD.match(after)
    if m and m.group(1) not in data.COUNTRY_FOLLOWERS:
        # a third capitalized word means a Title Case headline, not a surname
        return _TITLE_CASE_NEXT.match(after[m.end():]) is None
    p = _PREV_WORD.search(text[max(0, start - 40):start])
    if p is None:
        return False
    word = p.group(2)
    if word in data.PERSON_TITLES:
        return True
    sentence_start = p.group(1) is None or p.group(1) in '.!?"“:;'
    return not (sentence_start or capital_follows or word.rstrip(".") in data.NOT_FIRST_NAMES)


_LANG_BEFORE = re.compile(
    r"\b(?:in|into|from|speak|speaks|speaking|spoken|translated|both)\s+"
    r"(?:[A-Z][a-z]+(?:\s*,\s*|\s+(?:and|or)\s+|\s*/\s*))*$")
_LANG_AFTER = re.compile(
    r"[\s-]*(?:language|languages|speaking|speakers?|versions?|translations?|editions?"
    r"|subtitles|interpretation|interpreters?|-language)\b")
_CHAIN_AFTER = re.compile(r"(?:(?:\s*,\s*|\s+(?:and|or)\s+|\s*/\s*)[A-Z][a-z]+)*")
_FUNCTION_AFTER = re.compile(
    r"\s*(?:[.,;:)!?\]]|$|(?:on|at|and|or|for|from|with|by|to|as|the|is|are|was|were"
    r"|only|too|also|online|free)\b)")


def _is_language(text: str, start: int, end: int) -> bool:
    """"available in English, French and Spanish": languages, not countries."""
    if _LANG_AFTER.match(text, end):
        return True
    if not _LANG_BEFORE.search(text[max(0, start - 80):start]):
        return False
    tail = _CHAIN_AFTER.match(text, end)
    return _FUNCTION_AFTER.match(text, tail.end() if tail else end) is not None


# UN documents write the country "the Niger": "the Government of the Niger", "the Niger
# authorities"; the river flows, is crossed, and has banks
_UN_NIGER_BEFORE = re.compile(r"\b(?:[Gg]overnment|[Aa]uthorities|[Pp]resident|[Mm]inistry|"
                              r"[Dd]elegation|[Pp]eople|[Cc]ourts?|[Pp]olice) of the\s+$")
_UN_NIGER_AFTER = re.compile(r"(?:'s|’s)?\s+(?:authorities|government|delegation|police|army"
                             r"|nationals|prosecutors|officials|courts)\b")
# "Georgia man sentenced": US local news names people by their state; the country's
# people are "Georgian"
_US_NEWS_IDIOM = re.compile(r"\s+(?:man|woman|men|women|couple|resident|residents|teen|teenager"
                            r"|driver|trucker|sheriff|deputies|officials?)\b")
_THE_BEFORE = re.compile(r"\bthe\s+$", re.I)
_COMMA_OR_PARENTHESIS = re.compile(r"\s*[,(]\s*")
_EAST_BEFORE = re.compile(r"\b(?:north-?|south-?)?east(?:ern)?\s+$")
_LIST_GAP = re.compile(r"\s*(?:,|,?\s*and|,?\s*et|,?\s*y)?\s*(?:the\s+)?", re.I)


def _resolve(text: str, folded: str, hits: list[_Hit]) -> list[_Hit]:
    kept: list[_Hit] = []
    for hit in hits:
        rules = hit.entry.rules
        if hit.iso is None:
            continue
        if "person" in rules and _is_person(text, hit.start, hit.end):
            continue
        if "us-state" in rules and (_US_NEWS_IDIOM.match(text, hit.end) or any(
                cue in folded[max(0, hit.start - 80):hit.end + 80] for cue in data.US_GEORGIA_CUES)):
            hit.iso = "us"  # "Savannah, Georgia": a US state is a place in the US
        if "lang" in rules and _is_language(text, hit.start, hit.end):
            continue
        kept.append(hit)
    # "the Niger" is the river unless it stands in a list of countries
    out: list[_Hit] = []
    for i, hit in enumerate(kept):
        if "the-niger" in hit.entry.rules and _THE_BEFORE.search(text[max(0, hit.start - 5):hit.start]):
            prev_gap = text[kept[i - 1].end:hit.start] if i else "x"
            next_gap = text[hit.end:kept[i + 1].start] if i + 1 < len(kept) else "x"
            in_list = _LIST_GAP.fullmatch(prev_gap) or _LIST_GAP.fullmatch(next_gap)
            if not (in_list or _UN_NIGER_BEFORE.search(text, max(0, hit.start - 40), hit.start)
                    or _UN_NIGER_AFTER.match(text, hit.end)):
                continue
        out.append(hit)
    out = _resolve_congo(folded, out)
    _resolve_cities(text, out)
    return out


def _resolve_cities(text: str, hits: list[_Hit]) -> None:
    """"Tripoli, Lebanon": a town followed by its country takes that country."""
    for hit, nxt in itertools.pairwise(hits):
        if ("city" in hit.entry.rules and nxt.entry.kind in ("name", "code")
                and _COMMA_OR_PARENTHESIS.fullmatch(text[hit.end:nxt.start])):
            hit.iso = nxt.iso


def _resolve_congo(folded: str, hits: list[_Hit]) -> list[_Hit]:
    isos = {h.iso for h in hits}
    drc, roc = "cd" in isos, "cg" in isos
    out: list[_Hit] = []
    for hit in hits:
        if hit.iso == _CONGO:
            bare = "congo" in hit.entry.rules
            if _EAST_BEFORE.search(folded[max(0, hit.start - 16):hit.start]):
                hit.iso = "cd"
            elif drc != roc:
                hit.iso = "cd" if drc else "cg"
            elif bare and not drc:
                hit.iso = "cg"  # the UN short name
            else:
                continue
        out.append(hit)
    return out


def _mentions(text: str, lookup: bool) -> list[CountryMention]:
    folded = fold(text)
    hits = _resolve(text, folded, _raw_hits(text, folded, lookup))
    return [CountryMention(h.iso, text[h.start:h.end], h.start, h.end, h.entry.kind)
            for h in hits if h.iso]


def find_countries(text: str) -> list[CountryMention]:
    """Every country mention in ``text``, in order (see the module docstring for rules)."""
    return _mentions(text, lookup=False) if text else []


def find_places(text: str) -> list[CountryMention]:
    """The towns and regions named in ``text``, venues included ("Vienna", "Male")."""
    return [m for m in _mentions(text, lookup=True) if m.kind == "place"] if text else []


def lookup_place(text: str) -> str | None:
    """The country of a venue: "Cairo, Egypt", "Bangkok (Thailand)", "Egypt", "Cairo"."""
    mentions = _mentions(text, lookup=True) if text else []
    names = [m for m in mentions if m.kind in ("name", "code")]
    if names:
        return names[-1].iso2  # "Vienna International Centre, Vienna, Austria"
    places = [m for m in mentions if m.kind == "place"]
    return places[0].iso2 if places else None


def place_name(text: str) -> str | None:
    """A venue as "City, Country" in English: "Niamey (Niger)" → "Niamey, Niger",
    "Ciudad de Panamá" → "Panama City, Panama"; None when the country is unknown."""
    iso = lookup_place(text)
    if iso is None:
        return None
    country = country_name(iso)
    for m in _mentions(text, lookup=True):
        if m.kind == "place" and m.iso2 == iso:
            return f"{_city_english(m.matched)}, {country}"
    first = _COMMA_OR_PARENTHESIS.split(text.strip())[0].strip(" ).")
    if first and lookup_place(first) is None:
        return f"{first}, {country}"
    return country


@cache
def _english_cities() -> dict[str, str]:
    names: dict[str, str] = {}
    for row in data.CITIES + data.LOOKUP_ONLY_CITIES:
        for form in row[1:]:
            names.setdefault(_key(form), row[1])
    return names


def _city_english(written: str) -> str:
    return _english_cities().get(_key(written), " ".join(written.split()))


# -- names and regions ------------------------------------------------------------------------


def country_name(iso2: str) -> str:
    """The English short name: "eg" → "Egypt", "cd" → "Democratic Republic of the Congo".

    Raises KeyError for a code that is not ISO 3166-1 alpha-2.
    """
    name = _english_name(iso2.lower())
    if name is None:
        raise KeyError(iso2)
    return name


@lru_cache(maxsize=1024)  # pycountry's look-up is slow, and regions ask for each country
def _english_name(iso: str) -> str | None:
    if iso in data.DISPLAY_NAMES:
        return data.DISPLAY_NAMES[iso]
    country = pycountry.countries.get(alpha_2=iso.upper())
    return None if country is None else str(getattr(country, "common_name", None) or country.name)


def region_of(iso2: str) -> str | None:
    """The UN M49 intermediate region or sub-region slug ("eg" → "northern-africa")."""
    return data.M49.get(iso2.lower())


def region_name(slug: str) -> str:
    """"northern-africa" → "Northern Africa". Raises KeyError for an unknown slug."""
    return data.REGION_NAMES[slug]
