"""Which language an item is written in.

A feed's declared language is a hint, not a fact: UNODC's English listings carry the
Spanish and French versions of a story. A confident detection (py3langid, limited to
the languages these sources publish in) wins over the declaration; a short or
ambiguous text keeps what the publisher declared.

Speed: py3langid finds the byte n-grams of its model with a state machine walked one
byte at a time in Python (~0.3 µs a byte, most of the cost). Its model's machine is an
Aho-Corasick automaton whose states are strings of at most :data:`_WINDOW` bytes, so
the state after any byte is the state the last ``_WINDOW`` bytes lead to from the
start: :class:`_Identifier` finds the states of all positions at once, ``_WINDOW``
steps of numpy indexing, and scores the same features in the same order, so every
answer is py3langid's own to the last bit. That holds for the model proven so
(:data:`_PROVEN_MODEL`, its SHA-256; ``tests/test_language.py`` proves it again);
another model gets py3langid's own walk.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from typing import Any

#: the languages our sources publish in; limiting the set makes short texts reliable
LANGUAGES = ("en", "fr", "es", "ru", "ar", "pt", "de", "it", "zh")
_MIN_CHARS = 40
_CONFIDENT = 0.90
_SAMPLE = 1500

#: the longest state of the proven model's automaton, in bytes
_WINDOW = 6
#: the SHA-256 of py3langid 0.4.0's data/model.npz.xz
_PROVEN_MODEL = "f4f4a2c3465ca1f081541037f9cac23021d68151c2f709c55ae5eedfca522963"


def model_digest() -> str:
    """The SHA-256 of the model file py3langid loads."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE

    return hashlib.sha256((MODEL_DIR / MODEL_FILE).read_bytes()).hexdigest()


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    cls = _fast_class(LanguageIdentifier) if model_digest() == _PROVEN_MODEL \
        else LanguageIdentifier
    identifier = cls.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def _fast_class(base: Any) -> Any:
    """py3langid's LanguageIdentifier (imported late: it costs start-up) made fast."""
    import numpy as np  # late too: a poll where no feed changed never needs it

    class _Identifier(base):
        __slots__ = ("_after_two", "_nextmove", "_output", "_ptc32", "_rows")

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            width = {2: np.uint16, 4: np.uint32, 8: np.uint64}[self.tk_nextmove.itemsize]
            self._nextmove = np.frombuffer(self.tk_nextmove, dtype=width)
            self._rows = np.asarray(self._rowbase, dtype=np.intp)
            self._output = np.asarray(self.tk_output, dtype=np.intp)
            after_one = self._step(np.zeros(256, dtype=np.intp), np.arange(256))
            #: the state two bytes lead to from the start, by first << 8 | second
            self._after_two = self._step(np.repeat(after_one, 256), np.tile(np.arange(256), 256))
            self._ptc32 = np.asarray(self.nb_ptc, dtype=np.float32)

        def set_languages(self, langs: Any = None) -> None:
            super().set_languages(langs)
            # numpy multiplies py3langid's float16 table as float32 anyway
            self._ptc32 = np.asarray(self.nb_ptc, dtype=np.float32)

        def _step(self, states: Any, data: Any) -> Any:
            return self._nextmove[self._rows[states] + data]

        def _raw_score(self, text: bytes) -> Any:
            features = self._features(text)
            n = len(features)
            if not n:
                return super()._raw_score(b"")  # py3langid's answer for no features
            # py3langid counts with a Counter, and sums in its order: each id once, in
            # order of first occurrence. One sort by (id, position) finds both.
            # (ndarray methods, not numpy's Python-level functions: this runs per item)
            keys = (features << 32) | np.arange(n)
            keys.sort()
            ids = keys >> 32
            new = np.empty(n, dtype=bool)
            new[0] = True
            np.not_equal(ids[1:], ids[:-1], out=new[1:])
            starts = new.nonzero()[0]
            ends = np.empty_like(starts)
            ends[:-1] = starts[1:]
            ends[-1] = n
            order = (keys[starts] & 0xFFFFFFFF).argsort()
            counts = (ends - starts)[order].astype(np.float32)
            return np.log1p(counts) @ self._ptc32[ids[starts[order]]] + self.nb_pc

        def _features(self, text: bytes) -> Any:
            """The features py3langid's walk outputs over ``text``, in order."""
            n = len(text)
            # a NUL byte leaves the start state where it is: with NULs before the text,
            # the window of position i is padded[i : i + _WINDOW], however near the start
            padded = np.frombuffer(bytes(_WINDOW - 1) + text, dtype=np.uint8).astype(np.intp)
            states = self._after_two[(padded[:n] << 8) | padded[1:n + 1]]
            for k in range(2, _WINDOW):
                states = self._step(states, padded[k:n + k])
            features = self._output[states]
            return features[features >= 0]

    return _Identifier


_SUBTAG_SEP = re.compile(r"[-_]")


def primary(tag: str | None) -> str | None:
    """``"en-GB"`` and ``"en_gb"`` → ``"en"``; empty → None (unknown)."""
    code = _SUBTAG_SEP.split(tag.strip(), maxsplit=1)[0].lower() if tag else ""
    return code or None


def detect_language(text: str, declared: str | None = None) -> str | None:
    """The item's language as a primary subtag ("en", "fr", "es"), or None if unknown."""
    hint = primary(declared)
    sample = text[:_SAMPLE]
    if len(sample.strip()) < _MIN_CHARS:
        return hint
    found, probability = _identifier().classify(sample)
    if probability >= _CONFIDENT or (hint is None and probability >= 0.5):
        return str(found)
    return hint
