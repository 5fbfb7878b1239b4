"""Near-duplicate search: the rules that join re-published copies and keep the rest apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aggregator import dedupe
from aggregator.dedupe import ClusterIndex, Entry, features, figures, verify

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
STORY = ("63 arrests in action against criminal networks smuggling migrants across the "
         "Central Mediterranean. Police in Libya, Tunisia, Italy and Malta arrested 63 "
         "suspects and freed 212 migrants, among them 41 children, in Operation Lampara; "
         "11 boats and 1,200,000 euros were seized on 24 November.")
REWRITE = ("Dozens arrested as UN-backed operation targets smugglers on the Mediterranean. "
           "Sixty-three people were detained across Libya, Tunisia, Italy and Malta, the "
           "operation said; 212 migrants including 41 children were rescued and 11 vessels "
           "taken, officials reported on Tuesday.")


def entry(text: str, *, source: str = "a", at: datetime = T0, language: str | None = "en",
          places: tuple[str, ...] = (), title_places: tuple[str, ...] = (),
          copy: str = "", event: date | None = None) -> Entry:
    title = text.split(".")[0]
    f = features(title, text, places=places, title_places=title_places)
    return Entry.from_features(f, copy_id=copy or f"{source}-{hash(text) & 0xffff}",
                               story_id=copy or "s", source_id=source, published=at,
                               language=language, event_start=event)


def test_figures_are_what_a_story_reports_not_its_dates() -> None:
    assert figures(STORY) == {"63", "212", "41", "11", "1200000"}
    assert figures("On 4 November 2026 and November 24, and 12 de marzo, 2019: 15 boats") == {
        "15"}


def test_a_rewrite_with_the_same_figures_joins() -> None:
    found = verify(entry(REWRITE, source="b"), entry(STORY), WEEK, dedupe.Thresholds())
    assert found is not None and "figures in common" in found.reason


def test_a_copy_of_the_same_text_joins() -> None:
    copy = STORY.replace("Police", "Officers")
    found = verify(entry(copy, source="b"), entry(STORY), WEEK, dedupe.Thresholds())
    assert found is not None and found.reason.startswith("same text")


@pytest.mark.parametrize(("change", "why"), [
    ({"source": "a"}, "one source's items are a series"),
    ({"at": T0 + timedelta(days=9)}, "too far apart"),
    ({"language": "fr"}, "a translation"),
    ({"places": ("dm",)}, "another country"),
    ({"event": date(2026, 12, 1)}, "another meeting"),
])
def test_guards_keep_copies_apart(change: dict[str, object], why: str) -> None:
    base = entry(STORY, places=("ly",), event=date(2026, 11, 24))
    other = {"source": "b", "places": ("ly",), "event": date(2026, 11, 24), **change}
    assert verify(entry(STORY, **other), base, WEEK, dedupe.Thresholds()) is None, why  # type: ignore[arg-type]


def test_titles_of_different_years_are_different_meetings() -> None:
    a = entry("Regional meeting on migrant smuggling 2011. Experts met in Abuja.")
    b = entry("Regional meeting on migrant smuggling 2015. Experts met in Abuja.", source="b")
    assert verify(b, a, timedelta(days=9999), dedupe.Thresholds()) is None


def test_the_index_finds_candidates_only_near_in_time() -> None:
    index = ClusterIndex(window=WEEK)
    first = entry(STORY, copy="c1")
    index.add(first)
    index.add(entry(STORY.replace("Malta", "Greece"), copy="c2", at=T0 + timedelta(days=60)))
    probe = entry(REWRITE, source="b", at=T0 + timedelta(days=1))
    assert index.candidates(probe) == {"c1"}
    found = index.best_match(probe)
    assert found is not None and found.story_id == "c1"


def test_a_story_never_takes_two_copies_of_one_source() -> None:
    index = ClusterIndex(window=WEEK)
    index.add(entry(STORY, copy="c1"))                                    # story c1, source a
    weaker = STORY.replace("in Operation Lampara; 11 boats", "and boats")  # fewer facts
    index.add(entry(weaker, source="b", copy="c2"))                       # story c2
    probe = entry(REWRITE, source="c", at=T0 + timedelta(hours=5))
    best = index.best_match(probe)
    assert best is not None and best.story_id == "c1"  # c1 scores higher when allowed
    index._story_sources["c1"].add("c")  # source c already has a copy in story c1
    found = index.best_match(probe)
    assert found is not None and found.story_id == "c2"


def test_the_index_loads_stored_copies_by_date_range_once() -> None:
    calls: list[tuple[datetime, datetime]] = []

    def loader(lo: datetime, hi: datetime) -> list[Entry]:
        calls.append((lo, hi))
        return [entry(STORY, copy="stored")]

    index = ClusterIndex(window=WEEK, loader=loader)
    assert index.best_match(entry(REWRITE, source="b")) is not None
    index.best_match(entry(REWRITE, source="c", at=T0 + timedelta(days=2)))
    assert len(calls) == 1 and calls[0][0] <= T0 - WEEK and calls[0][1] >= T0 + WEEK


def test_signatures_are_stable_across_processes() -> None:
    import subprocess
    import sys

    code = ("from aggregator.dedupe import signature; "
            "print(signature(['libya', 'smuggling', 'boats']).hex())")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1 and runs == {dedupe.signature(["libya", "smuggling", "boats"]).hex()
                                       + "\n"}


def test_signatures_are_datasketchs_byte_for_byte() -> None:
    """Signatures are stored: the numpy MinHash must stay datasketch's affine32 one
    (seed 1, crc32 tokens), byte for byte, and so must its permutations."""
    import random
    import zlib

    from datasketch.minhash import MinHash

    reference = MinHash(num_perm=dedupe.NUM_PERM, seed=1, scheme=dedupe.SCHEME)
    a, b = dedupe._permutations()
    assert (reference.permutations[0] == a).all() and (reference.permutations[1] == b).all()

    def datasketch_signature(words: list[str]) -> bytes:
        minhash = MinHash(num_perm=dedupe.NUM_PERM, seed=1, scheme=dedupe.SCHEME,
                          hashfunc=zlib.crc32)
        minhash.update_batch([w.encode("utf-8") for w in words])
        return bytes(minhash.hashvalues.astype("<u8").tobytes())

    rnd = random.Random(5)
    cases: list[list[str]] = [[], [""], ["libya"], ["libya", "libya"], STORY.split(),
                              REWRITE.split(), sorted(features("", STORY).words)]
    for size in (1, 2, 3, 10, 150, 2000):
        for _ in range(15):
            cases.append(["".join(rnd.choice("abcxyzéñж中 \x00\U0001f600")
                                  for _ in range(rnd.randint(0, 12))) for _ in range(size)])
    for words in cases:
        assert dedupe.signature(words) == datasketch_signature(words), words[:5]
    assert dedupe.signature(iter(["a", "b"])) == datasketch_signature(["a", "b"])


def test_start_up_does_not_import_datasketch() -> None:
    import subprocess
    import sys

    code = ("import sys; from aggregator.analyze import analyze; "
            "from aggregator.dedupe import signature; signature(['a']); "
            "print(sorted(m for m in ('datasketch', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_words_of_ascii_text_are_the_token_regexs() -> None:
    import random

    rnd = random.Random(3)
    # "ℂ" folds to an upper-case C: ASCII after folding is not always lower case
    chars = [chr(i) for i in range(128)] + list("éÉßﬁ²³½٣中Жİıℂ\u0301_")
    for _ in range(5000):
        text = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 60)))
        folded = dedupe.fold(text)
        assert dedupe._words(text) == [
            w for w in dedupe._TOKEN_RE.findall(folded)
            if (len(w) >= 3 or w.isdigit()) and w not in dedupe._STOPWORDS], text
