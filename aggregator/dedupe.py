"""Which story a new copy belongs to: near-duplicates across sources. Pure.

Exact matches (the same canonical URL, the same normalized content) are joined by
the store. This module finds the rest: the same story re-published by another
source, copied whole (ReliefWeb) or re-titled and re-written (UN News, Europol).

    features(item)      discriminative words of title + lede, the numbers it reports,
                        title words and years, a MinHash signature of the words
    ClusterIndex        over the copies near in time: banded MinHash LSH (copies of
                        the same text), and postings of figures and title countries
                        (re-written copies): candidates without comparing all pairs;
                        loaded from the store by date range on demand
    verify(...)         exact word overlap with shared figures, similar titles or
                        the same place; refuses translations, other years, other
                        meetings, other countries, the same source, and copies far
                        apart in time

Measured on tests/data/eval (bench/README.md): re-written copies overlap 0.15-0.4 in
words and share 2-8 figures or the country of their title; unrelated stories of one
route and week overlap up to 0.23 and share at most one figure.

It does not decide representatives or touch the database.
"""

from __future__ import annotations

import itertools
import re
import string
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np

NUM_PERM = 64
#: datasketch's permutation scheme (computed here with numpy alone, datasketch and the
#: scipy it imports stay out of start-up); stored signatures are only comparable
#: within one
SCHEME = "affine32"
#: LSH bands × rows, for copies of the same text: a pair with word Jaccard 0.55 becomes
#: a candidate 98% of the time; 0.1 (unrelated stories of one field) 2%. Re-written
#: copies, whose word overlap is 0.15-0.4, are found through the figures they report
#: and the countries their titles name instead (see ClusterIndex.candidates).
BANDS, ROWS = 21, 3
#: a figure or place this common in one time bucket says nothing on its own
MAX_POSTINGS = 200
LEDE_WORDS = 160

# Function words in our languages, and words every story of this field carries:
# leaving them out makes two unrelated migrant-smuggling stories look unrelated.
_STOPWORDS = frozenset(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "said", "says", "say", "new", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "year", "years", "week", "month", "months", "today", "yesterday", "according", "including", "include", "includes", "many", "much", "well", "per", "le", "la", "les", "un", "une", "des", "du", "de", "et", "en", "au", "aux", "dans", "par", "pour", "sur", "avec", "est", "sont", "qui", "que", "ce", "cette", "ces", "il", "elle", "ils", "elles", "nous", "vous", "leur", "leurs", "son", "sa", "ses", "ont", "été", "être", "plus", "pas", "ne", "se", "ou", "mais", "el", "los", "las", "unos", "unas", "del", "al", "y", "en", "con", "por", "para", "su", "sus", "es", "son", "que", "se", "lo", "como", "más", "pero", "este", "esta", "estos", "estas", "fue", "han", "ser", "sobre", "entre", "sin", "también", "unodc", "onudc", "un", "united", "nations", "office", "drugs", "crime", "migrant", "migrants", "migration", "smuggling", "smuggler", "smugglers", "smuggled", "people", "persons", "countries", "country", "government", "governments", "national", "international", "regional", "support", "help", "work", "working", "report", "reports", "reported", "news", "trafic", "illicite", "migrants", "tráfico", "ilícito", "migrantes"])
_TOKEN_RE = re.compile(r"[^\W_]+")
_MONTHS = ("january february march april may june july august september october november "
           "december jan feb mar apr jun jul aug sep sept oct nov dec janvier février mars avril mai juin juillet août septembre octobre "
           "novembre décembre enero febrero marzo abril mayo junio julio agosto septiembre "
           "octubre noviembre diciembre")
_FIRST_WORD_RE = re.compile(r"\s+(?:de\s+)?([^\W\d_]+)")
_LAST_WORD_RE = re.compile(r"([^\W\d_]+)\.?\s+$")
_NUMBER_RE = re.compile(r"\d[\d,.]*")
_YEAR_RE = re.compile(r"\b(19[5-9]\d|20\d\d|2100)\b")


_COMBINING_RE = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Lower case without accents: "Tráfico" → "trafico"."""
    if text.isascii():
        return text.lower()
    return _COMBINING_RE.sub("", unicodedata.normalize("NFKD", text.casefold()))


@dataclass(frozen=True, slots=True)
class Features:
    words: frozenset[str]
    numbers: frozenset[str]
    title_words: frozenset[str]
    years: frozenset[int]
    #: countries named in the title, and anywhere (ISO codes, from the gazetteer)
    title_places: frozenset[str]
    places: frozenset[str]
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {"w": sorted(self.words), "n": sorted(self.numbers),
                "t": sorted(self.title_words), "y": sorted(self.years),
                "tp": sorted(self.title_places), "p": sorted(self.places)}


#: in ASCII, _TOKEN_RE's words are runs of letters and digits: everything else splits
_ASCII_SPLIT = "".join(c if c.isalnum() else " " for c in map(chr, range(128)))
#: the ASCII words _words leaves out: stopwords, and words of one or two characters
#: that are not numbers
_ASCII_LEFT_OUT = _STOPWORDS | {
    w for n in (1, 2) for w in map("".join, itertools.product(string.ascii_letters + string.digits,
                                                              repeat=n)) if not w.isdigit()}


def _words(text: str) -> list[str]:
    folded = fold(text)
    if folded.isascii():  # most text, once folded: split and filtered in C, not per word
        return list(itertools.filterfalse(_ASCII_LEFT_OUT.__contains__,
                                          folded.translate(_ASCII_SPLIT).split()))
    return [w for w in _TOKEN_RE.findall(folded)
            if (len(w) >= 3 or w.isdigit()) and w not in _STOPWORDS]


def figures(text: str) -> frozenset[str]:
    """The numbers a story reports (63 arrests, 1,200 dollars), not its dates or years."""
    out = set()
    for m in _NUMBER_RE.finditer(text):
        if m.start() and text[m.start() - 1].isalnum():
            continue  # part of a word or code: "A4", "COVID19"
        digits = m.group().rstrip(",.").replace(",", "")
        if not digits.isdigit():
            continue  # a decimal or a version number
        value = int(digits)
        if value < 10 or (1950 <= value <= 2100 and len(digits) == 4):
            continue
        if value <= 31 and _next_to_month(text, m.start(), m.end()):
            continue  # the day of a date: "24 November", "November 24", "24 de noviembre"
        out.add(digits)
    return frozenset(out)


_MONTH_WORDS = frozenset(fold(_MONTHS).split())


def _next_to_month(text: str, start: int, end: int) -> bool:
    after = _FIRST_WORD_RE.match(text, end)
    before = _LAST_WORD_RE.search(text, max(0, start - 16), start)
    return any(w is not None and fold(w.group(1)) in _MONTH_WORDS for w in (after, before))


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutations for seed 1 (``a * h + b`` mod 2**32, ``a``
    odd), drawn as datasketch draws them: stored signatures stay comparable."""
    draw = np.random.RandomState(1)
    a = draw.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = draw.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


#: the token hash: crc32 is in C, stable across processes (stored signatures stay
#: comparable) and spread enough once the pre-mix and permutations are applied on top
_hash = zlib.crc32


def _premix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer, which datasketch applies before permuting."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(words: Iterable[str]) -> bytes:
    """The MinHash of ``words``: datasketch's affine32 scheme, byte for byte (each of
    the NUM_PERM minima as a little-endian uint64; all ones for no words)."""
    hashes = np.array(list(map(_hash, map(str.encode, words))), dtype=np.uint32)  # UTF-8
    if not len(hashes):
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype="<u8").tobytes()
    a, b = _permutations()
    # uint32 arithmetic wraps: that is the mod 2**32
    permuted = _premix(hashes)[:, None] * a + b
    return np.minimum.reduce(permuted, axis=0).astype("<u8").tobytes()


def features(title: str, text: str, *, title_places: Iterable[str] = (),
             places: Iterable[str] = ()) -> Features:
    """What dedupe compares; ``text`` is the item's plain text (title first)."""
    lede = text[: LEDE_WORDS * 12]
    title_words = _words(title)
    words = frozenset(_words(lede)[:LEDE_WORDS] + title_words)
    return Features(
        words=words,
        numbers=figures(lede),
        title_words=frozenset(title_words),
        years=frozenset(int(y) for y in _YEAR_RE.findall(title)),
        title_places=frozenset(title_places),
        places=frozenset(places),
        signature=signature(words),
    )


def _interned(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(map(sys.intern, values))


@dataclass(slots=True)
class Entry:
    """A copy as the index knows it.

    Word lists are tuples of interned strings, not sets: an index holds a window of
    copies, and 150-word sets cost ~8 KB each and keep the garbage collector busy;
    sets are built only for the few candidates that are verified.
    """

    copy_id: str
    story_id: str
    source_id: str
    published: datetime
    language: str | None
    words: tuple[str, ...]
    numbers: tuple[str, ...]
    title_words: tuple[str, ...]
    years: tuple[int, ...]
    title_places: tuple[str, ...]
    places: tuple[str, ...]
    hashvalues: np.ndarray
    event_start: date | None = None
    bands: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.bands:
            self.bands = band_keys(self.hashvalues)

    @classmethod
    def from_features(cls, f: Features, *, copy_id: str, story_id: str, source_id: str,
                      published: datetime, language: str | None,
                      event_start: date | None = None) -> Entry:
        return cls(copy_id, story_id, source_id, published, language, _interned(f.words),
                   _interned(f.numbers), _interned(f.title_words), tuple(f.years),
                   _interned(f.title_places), _interned(f.places),
                   np.frombuffer(f.signature, dtype="<u8").astype(np.uint64), event_start)

    @classmethod
    def from_stored(cls, *, copy_id: str, story_id: str, source_id: str, published: datetime,
                    language: str | None, features: dict[str, Any], signature: bytes,
                    event_start: date | None = None) -> Entry:
        return cls(copy_id, story_id, source_id, published, language,
                   _interned(features.get("w", ())), _interned(features.get("n", ())),
                   _interned(features.get("t", ())), tuple(features.get("y", ())),
                   _interned(features.get("tp", ())), _interned(features.get("p", ())),
                   np.frombuffer(signature, dtype="<u8").astype(np.uint64), event_start)


@dataclass(frozen=True, slots=True)
class Match:
    story_id: str
    copy_id: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    #: word Jaccard of a copy of the same text
    same_text: float = 0.55
    #: word Jaccard with at least ``shared_figures`` numbers in common: re-written
    same_facts: float = 0.15
    shared_figures: int = 2
    #: word Jaccard with the same country named in both titles: re-written
    same_place: float = 0.20
    #: word Jaccard with this title overlap: re-titled little
    similar: float = 0.30
    similar_title: float = 0.35


Loader = Callable[[datetime, datetime], Iterable[Entry]]

#: odd multipliers that fold a band's rows into one 64-bit key (wrapping is fine)
_BAND_MULT = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9][:ROWS],
                      dtype=np.uint64)


def band_keys(hashvalues: np.ndarray) -> list[int]:
    """One integer per LSH band: copies that agree on a whole band share its key."""
    rows = hashvalues[: BANDS * ROWS].reshape(BANDS, ROWS)
    # uint64 array arithmetic wraps around silently, which is what a hash wants
    keys: list[int] = (rows * _BAND_MULT).sum(axis=1, dtype=np.uint64).tolist()
    return keys


def _post(index: dict[Any, str | list[str]], key: Any, copy: str) -> None:
    # most keys hold one copy: a bare str until a second arrives, so millions of
    # one-element lists do not keep the garbage collector busy
    held = index.get(key)
    if held is None:
        index[key] = copy
    elif isinstance(held, str):
        index[key] = [held, copy]
    else:
        held.append(copy)


def _postings(index: dict[Any, str | list[str]], key: Any) -> Sequence[str]:
    held = index.get(key)
    if held is None:
        return ()
    return (held,) if isinstance(held, str) else held


@dataclass(slots=True)
class _Bucket:
    """The copies of one time bucket: banded LSH, and postings of figures and places."""

    bands: list[dict[int, str | list[str]]] = field(
        default_factory=lambda: [{} for _ in range(BANDS)])
    figures: dict[str, str | list[str]] = field(default_factory=dict)
    places: dict[str, str | list[str]] = field(default_factory=dict)


@dataclass
class ClusterIndex:
    """The copies near in time, loaded from the store one date range at a time.

    Copies are kept in time buckets two windows wide, and a query looks only at the
    two buckets its window touches: the work per item does not grow with the years
    stored.
    """

    window: timedelta
    loader: Loader | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    _buckets: dict[int, _Bucket] = field(default_factory=dict)
    _entries: dict[str, Entry] = field(default_factory=dict)
    _story_sources: dict[str, set[str]] = field(default_factory=dict)
    _loaded: list[tuple[datetime, datetime]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._entries)

    def _width(self) -> float:
        return max(2 * self.window.total_seconds(), 1.0)

    def add(self, entry: Entry) -> None:
        if entry.copy_id in self._entries:
            return
        self._entries[entry.copy_id] = entry
        self._story_sources.setdefault(entry.story_id, set()).add(entry.source_id)
        key = int(entry.published.timestamp() // self._width())
        bucket = self._buckets.setdefault(key, _Bucket())
        for band, band_key in zip(bucket.bands, entry.bands, strict=True):
            _post(band, band_key, entry.copy_id)
        for figure in entry.numbers:
            _post(bucket.figures, figure, entry.copy_id)
        for place in entry.title_places:
            _post(bucket.places, place, entry.copy_id)

    def ensure_loaded(self, around: datetime) -> None:
        """Load the stored copies within the window of ``around`` (once per range)."""
        if self.loader is None:
            return
        lo, hi = around - self.window, around + self.window
        if any(a <= lo and hi <= b for a, b in self._loaded):
            return
        # load a generous range so a batch of items of one week costs one query
        lo, hi = lo - self.window * 4, hi + self.window * 4
        loaded = self.loader(lo, hi)
        try:
            for entry in loaded:
                self.add(entry)
        finally:  # a generator over a database cursor: its connection goes back now,
            # not when the garbage collector gets to it
            close = getattr(loaded, "close", None)
            if close is not None:
                close()
        self._loaded.append((lo, hi))

    def candidates(self, entry: Entry) -> set[str]:
        """Copies in the window: the same text (LSH), two figures, or the title's country."""
        # buckets are two windows wide: [published ± window] touches this bucket and
        # the neighbour on the nearer side
        position = entry.published.timestamp() / self._width()
        bucket = int(position // 1)
        neighbour = bucket - 1 if position - bucket < 0.5 else bucket + 1
        keys: set[str] = set()
        probe = entry.bands
        for b in (bucket, neighbour):
            found = self._buckets.get(b)
            if found is None:
                continue
            for band, key in zip(found.bands, probe, strict=True):
                keys.update(_postings(band, key))
            shared: dict[str, int] = {}
            for figure in entry.numbers:
                postings = _postings(found.figures, figure)
                if len(postings) <= MAX_POSTINGS:
                    for copy in postings:
                        shared[copy] = shared.get(copy, 0) + 1
            keys.update(k for k, n in shared.items() if n >= self.thresholds.shared_figures)
            for place in entry.title_places:
                postings = _postings(found.places, place)
                if len(postings) <= MAX_POSTINGS:
                    keys.update(postings)
        return keys

    def best_match(self, candidate: Entry) -> Match | None:
        """The story ``candidate`` (not yet added) is a near-duplicate of, if any."""
        self.ensure_loaded(candidate.published)
        best: Match | None = None
        words = frozenset(candidate.words)  # once per query, not once per candidate
        # sorted: equal scores go to the same story whatever the hash seed
        for key in sorted(self.candidates(candidate)):
            other = self._entries[key]
            found = verify(candidate, other, self.window, self.thresholds, words=words)
            if found is None:
                continue
            if candidate.source_id in self._story_sources.get(other.story_id, ()):
                continue  # a source never has two copies in one story
            if best is None or found.score > best.score:
                best = found
        return best


def jaccard(a: Iterable[Any], b: Iterable[Any]) -> float:
    a, b = set(a), set(b)
    if not a or not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def _shared(a: tuple[Any, ...], b: tuple[Any, ...]) -> set[Any]:
    return set(a).intersection(b)


def verify(a: Entry, b: Entry, window: timedelta, t: Thresholds, *,
           words: frozenset[str] | None = None) -> Match | None:
    """Whether two copies tell the same story, and why (or None).

    ``words``: ``a.words`` as a set, when the caller verifies many candidates for ``a``.
    """
    if a.source_id == b.source_id:
        return None  # one source's near-identical items are a series, not a republication
    if abs(a.published - b.published) > window:
        return None
    if a.language and b.language and a.language != b.language:
        return None  # translations are stories of their own
    if a.years and b.years and not _shared(a.years, b.years):
        return None  # "... 2011" and "... 2015": one series, two events
    if a.event_start and b.event_start and a.event_start != b.event_start:
        return None
    if a.places and b.places and not _shared(a.places, b.places):
        return None  # Dominica is not the Dominican Republic
    a_words = words if words is not None else frozenset(a.words)
    shared_words = len(a_words.intersection(b.words))  # b.words holds no repeats
    union = len(a_words) + len(b.words) - shared_words
    words_overlap = shared_words / union if union else 0.0
    if words_overlap < min(t.same_facts, t.same_place):
        return None
    shared = len(_shared(a.numbers, b.numbers))
    title = jaccard(a.title_words, b.title_words)
    reason = None
    overlap = words_overlap
    if overlap >= t.same_text:
        reason = f"same text (word overlap {overlap:.2f})"
    elif overlap >= t.same_facts and shared >= t.shared_figures:
        reason = f"same facts (word overlap {overlap:.2f}, {shared} figures in common)"
    elif overlap >= t.same_place and (places := _shared(a.title_places, b.title_places)):
        reason = f"same place ({', '.join(sorted(places))}, word overlap {overlap:.2f})"
    elif overlap >= t.similar and title >= t.similar_title:
        reason = f"similar title and text (word overlap {overlap:.2f}, title {title:.2f})"
    if reason is None:
        return None
    return Match(b.story_id, b.copy_id, overlap + 0.05 * min(shared, 4) + 0.2 * title, reason)
