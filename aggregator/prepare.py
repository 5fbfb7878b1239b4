"""The pure middle of a poll, for one fetched feed: parse, normalize, analyze.

    bytes ─► parse_document ─► normalize_entries ─► first max_items ─► analyze each

:func:`prepare` is what :mod:`aggregator.pipeline` does between fetch and store for a
feed source. It is pure, so :class:`ParsePool` can run it in other processes
(``[fetch] parse_processes``, "auto" by default: two on two cores for a poll of at least
100 feeds). The fetching, the near-duplicate search and the store stay in the polling
process; with both sides of about the same weight, a cold poll takes about its total
CPU divided by two (``bench/README.md``, "Ingest").

What it does not do: follow an html listing's pages or links (that fetches), look at
the store (pruned and known guids), or find near-duplicates (the index lives in the
polling process). For a source polled before, the pipeline asks it for the items
only (``whole=False``): it detects the language of and analyzes the few that changed
itself, after asking the store which are stored as they are.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.errors import ParseError
from aggregator.models import Analysis, FeedData, Item, SourceDef
from aggregator.tagging import TagRules


@dataclass(frozen=True, slots=True)
class Prepared:
    """One document's entries as items, each with its analysis (same order)."""

    feed: FeedData
    items: tuple[Item, ...]
    analyses: tuple[Analysis, ...]


def prepare(definition: SourceDef, url: str, content: bytes, headers: Mapping[str, str],
            *, now: datetime, rules: TagRules, max_items: int, max_bytes: int,
            host_aliases: tuple[tuple[str, ...], ...] = (), whole: bool = True) -> Prepared:
    """Parse a fetched feed and turn its first ``max_items`` entries into analyzed items.

    ``whole=False``: items only, their languages left undetected and no analyses (the
    polling process makes them for what changed: ``normalize_entries(detect=False)``).
    """
    # imported here: a poll that starts a pool and finds nothing changed never loads them
    from aggregator.analyze import analyze
    from aggregator.normalize import normalize_entries
    from aggregator.parse import parse_document

    feed = parse_document(definition, url, content, headers, max_items=max_items,
                          max_bytes=max_bytes)
    items = normalize_entries(definition, feed, now=now, host_aliases=host_aliases,
                              detect=whole)
    items = items[:max_items]
    # the entries themselves are now in items: no need to send them back
    return Prepared(replace(feed, entries=()), tuple(items),
                    tuple(analyze(item, rules) for item in items) if whole else ())


# -- in other processes ----------------------------------------------------------------

_rules: TagRules | None = None


def _init(rules: TagRules) -> None:
    global _rules
    _rules = rules


def _prepare_there(definition: SourceDef, url: str, content: bytes,
                   headers: Mapping[str, str], now: datetime, max_items: int, max_bytes: int,
                   host_aliases: tuple[tuple[str, ...], ...],
                   whole: bool) -> Prepared | tuple[str, str]:
    assert _rules is not None
    try:
        return prepare(definition, url, content, headers, now=now, rules=_rules,
                       max_items=max_items, max_bytes=max_bytes, host_aliases=host_aliases,
                       whole=whole)
    except ParseError as e:  # its (url, message) constructor does not survive pickling
        return e.url, e.message


class ParsePool:
    """``processes`` spawned workers running :func:`prepare`, awaited from the event loop.

    Spawned, not forked: the polling process holds a database connection and threads.
    The tag rules are sent once, when each worker starts.
    """

    def __init__(self, processes: int, rules: TagRules) -> None:
        self._executor = ProcessPoolExecutor(processes, multiprocessing.get_context("spawn"),
                                             initializer=_init, initargs=(rules,))

    async def prepare(self, definition: SourceDef, url: str, content: bytes,
                      headers: Mapping[str, str], *, now: datetime, max_items: int,
                      max_bytes: int, host_aliases: tuple[tuple[str, ...], ...],
                      whole: bool = True) -> Prepared:
        loop = asyncio.get_running_loop()
        done = await loop.run_in_executor(self._executor, _prepare_there, definition, url,
                                          content, dict(headers), now, max_items, max_bytes,
                                          host_aliases, whole)
        if isinstance(done, tuple):
            raise ParseError(*done)
        return done

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
