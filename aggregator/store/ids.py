"""Stable ids and small helpers shared by the store's modules."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator, Sequence
from typing import Any

#: bound IN (...) lists: SQLite's variable limit, PostgreSQL's plan size
CHUNK = 500


def _hash_id(*parts: str, length: int) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    # base32 turns each 5 bytes into 8 characters: the first 10 bytes give the first
    # 16 characters, the same as encoding the whole digest (and ~3x cheaper)
    return base64.b32encode(digest[:10]).decode("ascii").lower()[:length]


def copy_id(source_id: str, guid: str) -> str:
    """Stable id of a copy: the same (source, guid) always gets the same id."""
    return _hash_id("copy", source_id, guid, length=16)


def story_id_for(first_copy_id: str, salt: str = "") -> str:
    """Public id of a story, derived from the copy that founded it (never changes)."""
    return _hash_id("story", first_copy_id, salt, length=12)


def chunks(seq: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]
