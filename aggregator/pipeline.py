"""The poll pipeline, one source at a time, many sources at once.

    claim due sources | fetch (conditional) | parse | follow linked pages (html)
        | normalize | analyze (tags, event, dedupe features)
        | find near-duplicates | store (one transaction: copies + health)

``fetch`` and ``store`` are the only steps that touch the world; ``parse``,
``normalize``, ``analyze``, ``dedupe`` and the polling ``policy`` are pure. A failure in one source is
recorded on that source and never stops the others. The CLI, the worker and the
web app all call :func:`poll`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from aggregator import __version__, policy
from aggregator.config import Config, source_files
from aggregator.errors import FetchError, SourceError
from aggregator.fetch import Fetcher
from aggregator.models import (
    Analysis,
    EntryData,
    FeedData,
    Item,
    PollReport,
    Response,
    SelectRules,
    Source,
    SourceDef,
    SourceKind,
    SourceOutcome,
    SourceStatus,
)
from aggregator.store import Store, copy_id
from aggregator.tagging import TagRules, compile_rules

if TYPE_CHECKING:
    from aggregator import dedupe
    from aggregator.prepare import ParsePool

# The analysis stack (parse, normalize, analyze, dedupe: numpy, feedparser, lxml) is
# imported where a changed document needs it, so that a poll where every feed answers
# 304 or sends the body it sent last time never loads it (~0.15 s of a warm poll).

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[SourceOutcome], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def retention_cutoff(config: Config, now: datetime) -> datetime | None:
    """Stories dated and first seen before this are pruned (``[storage] retention_days``)."""
    days = config.storage.retention_days
    return now - timedelta(days=days) if days else None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def snapshot_dirs(config: Config) -> list[Path]:
    """Offline snapshots live in ``snapshots/`` beside each source file."""
    dirs = {f.parent / "snapshots" for f in source_files(config)}
    return sorted(d for d in dirs if d.is_dir())


def poll(store: Store, config: Config, *, ids: Sequence[str] | None = None,
         due_only: bool = True, offline: bool = False, clock: Clock = utcnow,
         progress: Progress | None = None, on_claimed: Callable[[int], None] | None = None,
         rng: random.Random | None = None, rules: TagRules | None = None) -> PollReport:
    """Claim the sources that are due (or ``ids``, or all with ``due_only=False``) and poll them."""
    return asyncio.run(poll_async(store, config, ids=ids, due_only=due_only, offline=offline,
                                  clock=clock, progress=progress, on_claimed=on_claimed,
                                  rng=rng, rules=rules))


@dataclass
class _Work:
    """What every source's poll in one run shares."""

    store: Store
    config: Config
    rules: TagRules
    clock: Clock
    rng: random.Random
    #: parses, normalizes and analyzes feeds in other processes (``[fetch] parse_processes``)
    pool: ParsePool | None = None
    #: the health of sources with nothing new (304, or the body parsed last time),
    #: written together once per batch
    not_modified: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    @functools.cached_property
    def index(self) -> dedupe.ClusterIndex | None:
        """The near-duplicate index, made when the first changed feed needs it."""
        return cluster_index(self.store, self.config)

    def flush(self) -> None:
        self.store.update_sources(self.not_modified)
        self.not_modified.clear()


#: ``parse_processes = "auto"`` starts processes for a poll of at least this many feeds:
#: starting them costs ~1 s, what 20-50 feeds take to parse and analyze here
AUTO_POOL_MIN = 100
#: and at most this many (the polling process keeps a core busy too)
AUTO_POOL_MAX = 4


def pool_size(setting: int | str, due: int, cpus: int | None = None) -> int:
    """How many parse processes a poll of ``due`` feeds starts (``[fetch] parse_processes``)."""
    if setting != "auto":
        return int(setting)
    cpus = cpus or os.cpu_count() or 1
    if cpus < 2 or due < AUTO_POOL_MIN:
        return 0
    return min(cpus, AUTO_POOL_MAX)


@contextlib.asynccontextmanager
async def _parse_pool(work: _Work, due: int) -> AsyncIterator[None]:
    processes = pool_size(work.config.fetch.parse_processes, due)
    if not processes:
        yield
        return
    from aggregator.prepare import ParsePool

    work.pool = ParsePool(processes, work.rules)
    try:
        yield
    finally:
        work.pool.close()
        work.pool = None


def cluster_index(store: Store, config: Config) -> dedupe.ClusterIndex | None:
    """The near-duplicate index of one run, loaded from the store as dates require."""
    if not config.dedupe.near_duplicates:
        return None
    from aggregator import dedupe

    def load(lo: datetime, hi: datetime) -> Iterator[dedupe.Entry]:
        # closed with this generator (ClusterIndex closes it): the rows hold a connection
        with contextlib.closing(store.dedupe_entries(lo, hi)) as rows:
            for row in rows:
                yield dedupe.Entry.from_stored(**row)

    return dedupe.ClusterIndex(window=timedelta(seconds=config.dedupe.window), loader=load)


def suggest_stories(index: dedupe.ClusterIndex | None, source_id: str, items: Sequence[Item],
                    analyses: Mapping[str, Analysis], known: set[str],
                    now: datetime) -> tuple[dict[str, str], dict[str, dedupe.Entry]]:
    """For each new item, the story it is a near-duplicate of (by guid).

    Also each new item's index entry (by guid, its story still blank), built once for
    the search and kept for :meth:`~aggregator.dedupe.ClusterIndex.add` after the store.
    """
    if index is None:
        return {}, {}
    out: dict[str, str] = {}
    entries: dict[str, dedupe.Entry] = {}
    for item in items:
        if item.guid in known or item.guid in entries:
            continue
        entry = entries[item.guid] = _entry(source_id, item, analyses[item.guid], "", now)
        found = index.best_match(entry)
        if found is not None:
            out[item.guid] = found.story_id
    return out, entries


def _entry(source_id: str, item: Item, analysis: Analysis, story_id: str,
           now: datetime) -> dedupe.Entry:
    from aggregator import dedupe

    assert analysis.signature is not None
    return dedupe.Entry.from_stored(
        copy_id=copy_id(source_id, item.guid), story_id=story_id, source_id=source_id,
        published=item.published or now, language=item.language,
        features=dict(analysis.features), signature=analysis.signature,
        event_start=analysis.event.start if analysis.event else None)


async def poll_async(store: Store, config: Config, *, ids: Sequence[str] | None = None,
                     due_only: bool = True, offline: bool = False, clock: Clock = utcnow,
                     progress: Progress | None = None,
                     on_claimed: Callable[[int], None] | None = None,
                     rng: random.Random | None = None,
                     rules: TagRules | None = None) -> PollReport:
    """Claim due sources in batches and poll each batch concurrently, until none is left.

    Batches (``4 × [fetch] concurrency``, at least 32) let several workers share the
    sources of one cycle, and keep what a worker that dies holds under its lease small;
    larger ones would save little (a claim costs ~2.5 ms).
    """
    rng = rng or random.Random()
    fc = config.fetch
    batch = max(fc.concurrency * 4, 32)
    # long enough for the listing, its pages and the followed pages of one source (a
    # batch that outlasts it, all on one slow host, may see a source polled twice:
    # harmless, a copy is stored once per source and guid)
    lease = timedelta(seconds=max(300.0, fc.timeout * 8))
    owner = worker_id()
    claimed = store.claim_sources(clock(), owner, lease, ids=ids, due_only=due_only,
                                  limit=batch)
    if on_claimed:
        on_claimed(len(claimed))
    if not claimed:
        return PollReport()
    offline_dirs = snapshot_dirs(config) if offline else None
    outcomes: list[SourceOutcome] = []
    work = _Work(store, config, rules or compile_rules(config.tags, path=config.path),
                 clock, rng)
    due = len(claimed)
    if len(claimed) == batch and fc.parse_processes == "auto":
        due = store.count_claimable(clock(), ids=ids, due_only=due_only) + len(claimed)
    async with Fetcher(fc, offline=offline_dirs) as fetcher, _parse_pool(work, due):
        while claimed:
            tasks = [asyncio.create_task(_poll_one(work, fetcher, s)) for s in claimed]
            try:
                for next_done in asyncio.as_completed(tasks):
                    outcome = await next_done
                    outcomes.append(outcome)
                    if progress:
                        progress(outcome)
            finally:
                work.flush()
            claimed = store.claim_sources(clock(), owner, lease, ids=ids, due_only=due_only,
                                          limit=batch,
                                          exclude=[o.source_id for o in outcomes])
            if on_claimed and claimed:
                on_claimed(len(claimed))
    outcomes.sort(key=lambda o: o.source_id)
    return PollReport(tuple(outcomes))


async def _poll_one(work: _Work, fetcher: Fetcher, source: Source) -> SourceOutcome:
    store, config, clock, rng = work.store, work.config, work.clock, work.rng
    fc = config.fetch
    started = clock()
    try:
        response = await fetcher.fetch(source.fetch_url, etag=source.etag,
                                       last_modified=source.last_modified)
        if response.not_modified:
            return _nothing_new(work, source, response, started, {}, not_modified=True)
        digest = body_digest(source.definition, config, response.content)
        if digest is not None and digest == source.body_hash:
            # no validators, but the very body parsed last time: nothing can be new
            return _nothing_new(work, source, response, started, _validators(response),
                                unchanged=True)
        if work.pool is not None and source.definition.kind is not SourceKind.HTML:
            return await _poll_elsewhere(work, work.pool, source, response, digest, started)
        from aggregator.normalize import normalize_entries
        from aggregator.parse import parse_document

        # max_bytes again: a body gzipped without Content-Encoding is inflated by parse
        feed = parse_document(source.definition, response.url, response.content,
                              response.headers, max_items=fc.max_items_per_fetch,
                              max_bytes=fc.max_bytes)
        if source.definition.kind is SourceKind.HTML:
            feed = await _complete_listing(store, config, fetcher, source, feed)
        now = clock()
        items = normalize_entries(source.definition, feed, now=now,
                                  host_aliases=config.sources.host_aliases, detect=False)
        return _ingest(work, source, response, digest, feed, items[: fc.max_items_per_fetch],
                       now, started)
    except (SourceError, OSError) as e:
        return _record_failure(store, config, source, e, clock, started, rng)
    except Exception as e:  # a bug must not take the other sources down with it
        log.exception("unexpected error while polling %s", source.id)
        err = FetchError(source.fetch_url, f"internal error: {type(e).__name__}: {e}")
        return _record_failure(store, config, source, err, clock, started, rng)


def _nothing_new(work: _Work, source: Source, response: Response, started: datetime,
                 values: Mapping[str, object], *, not_modified: bool = False,
                 unchanged: bool = False) -> SourceOutcome:
    """A 304, or a 200 with the body parsed last time: only the source's health changes."""
    now = work.clock()
    decision = policy.after_success(source, work.config.fetch, now, response=response)
    # written with the batch's other such answers: one transaction, not one each
    work.not_modified.append((source.id, {**decision.values(), "last_success_at": now,
                                          "last_attempt_at": started, **values}))
    return SourceOutcome(source.id, SourceStatus.OK, not_modified=not_modified,
                         unchanged=unchanged)


def _ingest(work: _Work, source: Source, response: Response, digest: str | None,
            feed: FeedData, items: Sequence[Item], now: datetime, started: datetime,
            analyses: Mapping[str, Analysis] | None = None) -> SourceOutcome:
    """Store a parsed feed's items, less what retention removed and what is stored as it is.

    ``items`` come from ``normalize_entries(detect=False)`` unless ``analyses`` (a first
    poll's, made in the parse processes) are given. A feed that changed mostly lists
    what is stored already, as it is: ingest would write nothing of those, so they are
    left out before it, and need no language and no analysis (most of the work of a poll
    that finds one new item). Nothing is stored from a source before its first success,
    so its first poll does not ask.
    """
    from aggregator.analyze import analyze
    from aggregator.normalize import with_language

    store = work.store
    pruned = store.pruned_guids(source.id, [i.guid for i in items])
    if pruned:  # what retention removed is not taken back
        items = [i for i in items if i.guid not in pruned]
    known: set[str] = set()
    if analyses is None:
        # read before ingest's transaction: only this worker writes this source's copies
        # while it holds the lease, and a copy retention removes meanwhile stays removed
        same: set[str] = set()
        if source.last_success_at:
            known, same = store.compare_stored(source.id, items)
        items = [with_language(i) for i in items if i.guid not in same]
        analyses = {i.guid: analyze(i, work.rules) for i in items}
    return _store(work, source, response, digest, feed, items, analyses, known, now, started)


async def _poll_elsewhere(work: _Work, pool: ParsePool, source: Source, response: Response,
                          digest: str | None, started: datetime) -> SourceOutcome:
    """:func:`_poll_one` past the fetch for a feed, with its parse in the pool's processes.

    A source polled before is only parsed there: what changed in it is usually little,
    and is analyzed here (:func:`_ingest`); a first poll, where everything is new, is
    analyzed there too.
    """
    fc, now = work.config.fetch, work.clock()
    whole = source.last_success_at is None
    ready = await pool.prepare(source.definition, response.url, response.content,
                               response.headers, now=now, max_items=fc.max_items_per_fetch,
                               max_bytes=fc.max_bytes,
                               host_aliases=work.config.sources.host_aliases, whole=whole)
    analyses = ({i.guid: a for i, a in zip(ready.items, ready.analyses, strict=True)}
                if whole else None)
    return _ingest(work, source, response, digest, ready.feed, ready.items, now, started,
                   analyses)


def _store(work: _Work, source: Source, response: Response, digest: str | None,
           feed: FeedData, items: Sequence[Item], analyses: Mapping[str, Analysis],
           known: set[str], now: datetime, started: datetime) -> SourceOutcome:
    """Store one fetched source's items (``known``: those stored already) with its
    health, and index what was new."""
    store, fc = work.store, work.config.fetch
    suggestions, entries = suggest_stories(work.index, source.id, items, analyses, known, now)
    decision = policy.after_success(source, fc, now, response=response, feed_ttl=feed.ttl)
    values = decision.values()
    values.update(last_success_at=now, last_attempt_at=started, **_validators(response),
                  body_hash=digest)
    values.update(_redirect_values(source, response.permanent_redirect))
    result = store.ingest(source, items, now, analyses=analyses, suggestions=suggestions,
                          **values)
    if work.index is not None:
        by_guid = {i.guid: i for i in items}
        for guid, (_, story_id) in result.assigned.items():
            entry = entries.get(guid)
            if entry is None:  # an edited copy: its text, and so its features, changed
                entry = _entry(source.id, by_guid[guid], analyses[guid], story_id, now)
            entry.story_id = story_id
            work.index.add(entry)
    return SourceOutcome(source.id, SourceStatus.OK, new=result.new, updated=result.updated,
                         warnings=feed.warnings)


def body_digest(definition: SourceDef, config: Config, content: bytes) -> str | None:
    """What a 200's body is compared on, to skip parsing the one parsed last time.

    The body with what shapes what is made of it: the item limit, the host aliases and
    this version's code (an upgrade parses everything once more). None for html
    sources: their listing's first page can stay the same while the further pages
    they read change.
    """
    if definition.kind is SourceKind.HTML:
        return None
    fc = config.fetch
    shape = (f"{__version__}\0{fc.max_items_per_fetch}\0"
             f"{fc.max_bytes}\0{config.sources.host_aliases!r}\0")
    h = hashlib.blake2b(shape.encode(), digest_size=16)
    h.update(content)
    return h.hexdigest()


def _validators(response: Response) -> dict[str, str | None]:
    return {"etag": response.etag, "last_modified": response.last_modified}


def _record_failure(store: Store, config: Config, source: Source, error: Exception,
                    clock: Clock, started: datetime, rng: random.Random) -> SourceOutcome:
    decision = policy.after_error(source, config.fetch, clock(), error, rng)
    store.update_source(source.id, **decision.values(), last_attempt_at=started)
    log.info("source %s failed: %s", source.id, decision.last_error)
    status = SourceStatus.DISABLED if not decision.enabled else SourceStatus.ERROR
    return SourceOutcome(source.id, status, error=decision.last_error)


def _redirect_values(source: Source, permanent: str | None) -> dict[str, str | None]:
    """A permanent redirect seen on two consecutive polls moves the source's address."""
    if not permanent or permanent == source.fetch_url:
        return {"redirect_candidate": None}
    if source.definition.url == permanent:
        return {"redirect_candidate": None, "effective_url": None}
    if source.redirect_candidate == permanent:
        return {"redirect_candidate": None, "effective_url": permanent}
    return {"redirect_candidate": permanent}


async def _complete_listing(store: Store, config: Config, fetcher: Fetcher, source: Source,
                            first: FeedData) -> FeedData:
    """Read the further listing pages, then follow each new entry's link for its full text."""
    from aggregator.parse import parse_document

    select = source.definition.select
    assert select is not None
    entries = list(first.entries)
    warnings = list(first.warnings)
    page, next_url, seen = 1, first.next_page, {first.url}
    while next_url and page < select.max_pages and next_url not in seen:
        seen.add(next_url)
        page += 1
        try:
            resp = await fetcher.fetch(next_url)
            more = parse_document(source.definition, resp.url, resp.content, resp.headers,
                                  max_items=config.fetch.max_items_per_fetch,
                                  max_bytes=config.fetch.max_bytes)
        except SourceError as e:
            warnings.append(f"listing page {page} skipped: {policy.one_line(str(e))}")
            break
        entries.extend(more.entries)
        warnings.extend(more.warnings)
        next_url = more.next_page
    if select.follow and select.max_follow:
        entries, follow_warnings = await _follow(store, config, fetcher, source, entries)
        warnings.extend(follow_warnings)
    return replace(first, entries=tuple(entries), warnings=tuple(warnings), next_page=None)


async def _follow(store: Store, config: Config, fetcher: Fetcher, source: Source,
                  entries: list[EntryData]) -> tuple[list[EntryData], list[str]]:
    from aggregator.normalize import canonical_url

    select = source.definition.select
    aliases = config.sources.host_aliases
    keys = {e.link: (e.guid or canonical_url(e.link, aliases) or e.link)
            for e in entries if e.link}
    known = store.known_guids(source.id, [k for k in keys.values() if k])
    todo = [e for e in entries if e.link and keys[e.link] not in known]
    todo = todo[: select.max_follow if select else 0]
    followed, warnings = await follow_entries(fetcher, select, entries, todo)
    # Known entries are not followed again, and their page was read when first seen:
    # their listing line alone would read as an edit that puts the teaser in place of
    # that full text. They are left out of this poll, as if unchanged.
    return [e for e in followed if not (e.link and keys[e.link] in known)], warnings


async def follow_entries(fetcher: Fetcher, select: SelectRules | None, entries: list[EntryData],
                         todo: list[EntryData]) -> tuple[list[EntryData], list[str]]:
    """Fetch the page each entry of ``todo`` links to, for its full text and details."""
    from aggregator.parse import parse_page

    warnings: list[str] = []

    async def one(entry: EntryData) -> EntryData:
        assert entry.link
        try:
            resp = await fetcher.fetch(entry.link)
            page = parse_page(resp.content, resp.url, select, resp.headers)
        except SourceError as e:
            warnings.append(f"{entry.link}: not followed: {policy.one_line(str(e))}")
            return entry
        return replace(
            entry,
            title=entry.title or page.title,
            content=page.content or entry.content,
            base=page.base or resp.url,
            published_text=entry.published_text or page.published_text,
            published=entry.published or page.published,
        )

    followed = {id(e): r for e, r in zip(todo, await asyncio.gather(*(one(e) for e in todo)),
                                          strict=True)}
    return [followed.get(id(e), e) for e in entries], warnings


# -- "check now": what a source would give, nothing stored ------------------------------------

#: entries shown by a preview, and linked pages it follows (html sources)
PREVIEW_ITEMS = 25
PREVIEW_FOLLOW = 3


@dataclass(frozen=True, slots=True)
class SourcePreview:
    """What one fetch of a source would store (nothing was stored)."""

    url: str
    items: tuple[Item, ...] = ()
    analyses: tuple[Analysis, ...] = ()
    warnings: tuple[str, ...] = ()
    error: str | None = None
    total: int = 0
    #: what happened, step by step (request, response, parse, items), for people
    steps: tuple[str, ...] = ()


def preview(config: Config, definition: SourceDef, *, rules: TagRules | None = None,
            offline: bool = False, clock: Clock = utcnow) -> SourcePreview:
    """Fetch and parse ``definition`` as a poll would, and store nothing.

    The way to get an html source's selectors right: the editor sees the entries,
    their dates, summaries and tags. Address rules and limits are the poll's.
    """
    rules = rules or compile_rules(config.tags, path=config.path)
    return asyncio.run(_preview(config, definition, rules,
                                snapshot_dirs(config) if offline else None, clock))


async def _preview(config: Config, definition: SourceDef, rules: TagRules,
                   offline_dirs: list[Path] | None, clock: Clock) -> SourcePreview:
    from aggregator.analyze import analyze
    from aggregator.normalize import normalize_entries
    from aggregator.parse import parse_document

    fc = config.fetch
    steps = [f"request: GET {definition.url}" + (" (from the offline snapshots)"
                                                  if offline_dirs else "")]
    stage = "request"
    try:
        async with Fetcher(fc, offline=offline_dirs) as fetcher:
            started = time.monotonic()
            response = await fetcher.fetch(definition.url)
            stage = "parse"
            steps.append(_describe_response(response, time.monotonic() - started))
            feed = parse_document(definition, response.url, response.content, response.headers,
                                  max_items=fc.max_items_per_fetch, max_bytes=fc.max_bytes)
            steps.append(f"parse: {feed.format}, {len(feed.entries)} "
                         f"{'entry' if len(feed.entries) == 1 else 'entries'}"
                         + (f", titled {feed.title!r}" if feed.title else "")
                         + (f"; the publisher asks for at most one poll every {feed.ttl:g} s"
                            if feed.ttl else ""))
            warnings = list(feed.warnings)
            entries = list(feed.entries)
            select = definition.select
            if definition.kind is SourceKind.HTML and select is not None and select.follow:
                stage = "follow"
                todo = [e for e in entries if e.link][:PREVIEW_FOLLOW]
                entries, more = await follow_entries(fetcher, select, entries, todo)
                warnings += more
                steps.append(f"follow: fetched the linked page of the first {len(todo)} "
                             "entries (a poll follows up to max_follow)")
            feed = replace(feed, entries=tuple(entries))
    except SourceError as e:
        steps.append(f"{stage}: failed: {policy.one_line(str(e))}")
        return SourcePreview(definition.url, error=policy.one_line(str(e)), steps=tuple(steps))
    items = normalize_entries(definition, feed, now=clock(),
                              host_aliases=config.sources.host_aliases)
    shown = items[:PREVIEW_ITEMS]
    analyses = tuple(analyze(i, rules) for i in shown)
    undated = sum(1 for i in items if i.published is None)
    tagged = sum(1 for a in analyses if any(not t.rule.startswith("source") for t in a.tags))
    steps.append(f"items: {len(items)} kept (at most {fc.max_items_per_fetch} a fetch)"
                 + (f", {undated} without a date (they take the time they are first seen)"
                    if undated else "")
                 + f"; {tagged} of the first {len(shown)} tagged by the rules"
                 + f"; {sum(1 for a in analyses if a.event)} announcing a meeting")
    return SourcePreview(response.url, tuple(shown), analyses, tuple(warnings), None,
                         len(items), tuple(steps))


def _describe_response(response: Response, seconds: float) -> str:
    h = response.headers
    parts = [f"response: {response.status} from {response.url}",
             h.get("content-type") or "no Content-Type",
             f"{len(response.content):,} bytes after decompression", f"{seconds:.2f} s"]
    if response.permanent_redirect:
        parts.append(f"moved permanently to {response.permanent_redirect}")
    validators = [name for name in ("etag", "last-modified") if h.get(name)]
    parts.append("conditional requests possible (" + ", ".join(validators) + ")"
                 if validators else "no ETag or Last-Modified: every poll downloads it whole")
    if h.get("cache-control"):
        parts.append(f"Cache-Control: {h['cache-control']}")
    return "; ".join(parts)
