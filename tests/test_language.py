"""Language detection: the fast identifier answers exactly as py3langid does.

aggregator.language walks py3langid's automaton over every byte position at once
instead of byte by byte. That is right only because the model's automaton forgets
everything older than its last few bytes: ``test_the_model_automaton_has_a_short_memory``
proves it for the installed model, and the other tests compare answers, probabilities
included, with py3langid's own on real and hostile text.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest

from aggregator import language
from aggregator.language import LANGUAGES, detect_language
from tests.conftest import DATA, ROOT


@pytest.fixture(scope="module")
def fast() -> Any:
    return language._identifier()


@pytest.fixture(scope="module")
def reference() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def test_the_installed_model_is_the_proven_one(fast: Any) -> None:
    # a new py3langid model falls back to py3langid's own (slow) walk: prove the new
    # one with the test below and put its digest in language._PROVEN_MODEL
    assert language.model_digest() == language._PROVEN_MODEL, language.model_digest()
    assert type(fast).__name__ == "_Identifier"


def test_the_model_automaton_has_a_short_memory(fast: Any) -> None:
    """Every transition goes where Aho-Corasick over a trie of strings of at most
    _WINDOW bytes would: to the longest suffix that is a state. The state after any
    text is then the state its last _WINDOW bytes lead to from the start."""
    nextmove, rows = fast._nextmove, fast._rows
    n = len(rows)
    every_byte = np.arange(256)

    def transitions(states: np.ndarray) -> np.ndarray:
        return nextmove[rows[states][:, None] + every_byte].astype(np.intp)

    # the trie: each state's parent and byte, breadth first from the start
    parent = np.full(n, -1)
    byte = np.zeros(n, dtype=np.intp)
    depth = np.full(n, -1)
    depth[0] = 0
    levels = [np.array([0])]
    while levels[-1].size:
        frontier = levels[-1]
        targets = transitions(frontier).ravel()
        unseen = np.flatnonzero(depth[targets] < 0)
        found, first = np.unique(targets[unseen], return_index=True)
        at = unseen[first]
        parent[found], byte[found] = frontier[at // 256], at % 256
        depth[found] = len(levels)
        levels.append(found)
    assert (depth >= 0).all(), "every state is reachable"
    assert depth.max() <= language._WINDOW

    # failure links (longest proper suffix), level by level; every transition that
    # does not go down the trie must go where the failure state's does
    fail = np.zeros(n, dtype=np.intp)
    for d, level in enumerate(levels[:-1]):
        for chunk in np.array_split(level, max(1, len(level) // 4096)):
            if d >= 2:
                fail[chunk] = nextmove[rows[fail[parent[chunk]]] + byte[chunk]]
            targets = transitions(chunk)
            down = (parent[targets] == chunk[:, None]) & (byte[targets] == every_byte)
            expected = transitions(fail[chunk]) if d else np.zeros_like(targets)
            assert (down | (targets == expected)).all(), f"a transition at depth {d}"
    # the padding the fast walk puts before a text
    assert nextmove[rows[0]] == 0 and fast.tk_output[0] < 0


def _texts() -> list[str]:
    """Real text in our languages (the snapshots' feeds and pages) and hostile text."""
    texts: list[str] = []
    for path in sorted((ROOT / "feeds" / "snapshots").rglob("*")) + sorted(
            (DATA / "eval" / "snapshots").rglob("*")):
        if path.suffix in (".xml", ".html", ".json"):
            text = " ".join(re.sub(r"<[^>]*>|&\w+;", " ", path.read_text("utf-8", "replace"))
                            .split())
            texts += [text[i:i + 1500] for i in range(0, min(len(text), 30_000), 1100)]
    rnd = random.Random(8)
    alphabets = ["abcdefghij klmnop.,", "àéèçñü ÀÉ’«»", "абвгдежз ", "العربية ",
                 "中文日本語한국어", "\x00\x01\x7f\x85\u2028\ufeff\U0001f600 ", "AB CD", "e\u0301"]
    for _ in range(800):
        chars = "".join(rnd.sample(alphabets, rnd.randint(1, 3)))
        texts.append("".join(rnd.choice(chars) for _ in range(rnd.randint(0, 1600))))
    return [*texts, "", "a", "ÉCOLE NATIONALE", "x" * 5, "\x00" * 50, "Ça va ? " * 200]


def test_answers_are_py3langids_to_the_last_bit(fast: Any, reference: Any) -> None:
    texts = _texts()
    assert len(texts) > 1000
    for text in texts:
        assert fast.classify(text) == reference.classify(text), text[:80]
    # and the features themselves: the same counts, first seen in the same order
    from py3langid.langid import visit_counts

    for text in texts[:300]:
        data = fast._encode(text)
        walked = visit_counts(reference.tk_nextmove, reference._rowbase,
                              reference.tk_output, data) or Counter()
        found = Counter(fast._features(data).tolist())
        assert found == walked and list(found) == list(walked), text[:80]


def test_detect_language() -> None:
    assert detect_language("Les passeurs ont été arrêtés à la frontière après une "
                           "longue enquête de la police.", "en") == "fr"
    assert detect_language("short", "en-GB") == "en"
    assert detect_language("", None) is None
