"""Which language an item is written in.

A feed's declared language is a hint, not a fact: UNODC's English listings carry the
Spanish and French versions of a story. A confident detection (py3langid, limited to
the languages these sources publish in) wins over the declaration; a short or
ambiguous text keeps what the publisher declared.
"""

from __future__ import annotations

from functools import cache
from typing import Any

#: the languages our sources publish in; limiting the set makes short texts reliable
LANGUAGES = ("en", "fr", "es", "ru", "ar", "pt", "de", "it", "zh")
_MIN_CHARS = 40
_CONFIDENT = 0.90
_SAMPLE = 1500


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def primary(tag: str | None) -> str | None:
    """``"en-GB"`` → ``"en"``."""
    return tag.split("-", 1)[0].lower() if tag else None


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
