"""The feeds of one publish, put together from entries rendered once or kept from the last.

    last publish's record (state) ──► feeds whose stories and files are unchanged: kept
                                 └──► the other feeds' files, cut into entries
    stories whose entry no file holds ─► fetched (if not at hand) ─► render_entries
    each feed: header + its stories' entries ─► the writer ─► this publish's record

A story's entry depends on the story and the site alone, so it is rendered at most
once per publish whichever feeds carry it, and a publish takes the entries of
unchanged stories from the files the last one wrote. "Unchanged" is the story's id
and revision: the store bumps the revision with every change to a story (its update
time included), even within one clock tick. What each feed file holds is recorded in
the ``state`` table, with the file's size and modification time; a file that is not
as the record says (deleted, edited, left by a killed publish) is neither kept nor
cut up, and ``publish --force`` ignores the record. The record also names what every
entry depends on besides the story (the generation: version, site, hub, sources'
titles and addresses); when that changes, everything is rendered again.

What it does not do: choose the stories (the caller passes each feed's stories, in
order), render a whole feed itself (:mod:`aggregator.publish.feeds`), or write files
(:mod:`aggregator.publish.writer`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from aggregator.config import SiteConfig
from aggregator.models import Story
from aggregator.publish.feeds import (
    FeedMeta,
    assemble_atom,
    assemble_json,
    assemble_rss,
    atom_header,
    build_date,
    json_header,
    render_entries,
    rss_header,
    split_atom,
    split_json,
    split_rss,
)
from aggregator.publish.writer import OutputWriter

RECORD_KEY = "publish_feeds"
#: bump when the entries' markup changes in a way the version number would not show
_FORMAT = 1
KINDS = ("rss", "atom", "json")

#: a story's entry as the store last changed it: "<id>:<revision>" (the revision moves
#: with every change to the story, its update time included)
Key = str


class Versioned(Protocol):
    """A :class:`~aggregator.models.Story` or a :class:`~aggregator.models.StoryRef`."""

    @property
    def id(self) -> str: ...
    @property
    def revision(self) -> int: ...
    @property
    def updated(self) -> datetime: ...


def record_key(root: Path) -> str:
    """The ``state`` key of the record for one output folder (one store may feed several)."""
    return f"{RECORD_KEY}:{hashlib.sha256(str(root).encode()).hexdigest()[:16]}"


def key_of(story: Versioned) -> Key:
    return f"{story.id}:{story.revision}"


def generation(site: SiteConfig, hub: str | None, sources: Sequence[tuple[str, ...]]) -> str:
    """What every entry depends on besides its story: a change renders everything again."""
    from aggregator import __version__

    parts = [_FORMAT, __version__, repr(site), hub, sorted(sources)]
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()


@dataclass
class Feed:
    """One feed to write: its files (``meta.self_path`` by kind) and its stories, in order."""

    meta: FeedMeta
    stories: Sequence[Versioned]
    kinds: tuple[str, ...] = KINDS
    #: render even when its stories did not change (its header follows more than them)
    always: bool = False
    #: the featured feed: its build date follows the pins too
    pinned: bool = False

    def path(self, kind: str) -> str:
        return self.meta.self_path[kind]


class FeedSet:
    """Every feed of one publish: :meth:`prepare` them all, then :meth:`write` each."""

    def __init__(self, *, writer: OutputWriter, site: SiteConfig, hub: str | None,
                 generation: str, record: str | None,
                 fetch: Callable[[list[str]], list[Story]]) -> None:
        self.writer, self.site, self.hub, self.generation = writer, site, hub, generation
        self.fetch = fetch
        self._last = _parse_record(record, str(writer.root), generation)
        self._feeds: dict[str, Feed] = {}
        self._kept: dict[str, dict[str, tuple[int, int]]] = {}
        #: per feed, the entries it holds (kept) or will hold
        self._keys: dict[str, list[Key]] = {}
        self._stories: dict[str, Story] = {}
        #: per story, the entry it gets in every feed: its key and update time
        self._content: dict[str, tuple[Key, datetime]] = {}
        self._entries: dict[str, dict[Key, bytes]] = {k: {} for k in KINDS}
        self._files: dict[str, tuple[int, int] | None] = {}
        #: what was kept, reused, read and rendered (for the benchmark and the tests)
        self.stats = {"kept": 0, "reused": 0, "fetched": 0, "rendered": 0}

    def prepare(self, feeds: Sequence[Feed], known: Sequence[Story]) -> None:
        """Decide what to keep, cut old files, read and render the rest.

        ``known``: stories the caller already read (they are not read again).
        """
        self._stories = {s.id: s for s in known}
        pending = []
        for feed in feeds:
            self._feeds[feed.path("rss")] = feed
            kept = self._unchanged(feed)
            if kept is None:
                pending.append(feed)
            else:
                self._kept[feed.path("rss")] = kept
                self.stats["kept"] += 1
        # each story once (all its feeds get the same entry): from old files if they
        # hold it in every format, else rendered from the story, read now if not at hand
        wanted: dict[str, Versioned] = {}
        for feed in pending:
            for s in feed.stories:
                wanted.setdefault(s.id, s)
        self._cut(pending, {key_of(s) for s in wanted.values()})
        render: list[str] = []
        for sid, ref in wanted.items():
            story, key = self._stories.get(sid), key_of(ref)
            if story is not None and story.revision > ref.revision:
                render.append(sid)  # read after its list was: newer than the list says
            elif all(key in self._entries[k] for k in KINDS):
                self._content[sid] = (key, ref.updated)
            else:
                render.append(sid)
        missing = [sid for sid in render if sid not in self._stories
                   or self._stories[sid].revision < wanted[sid].revision]
        if missing:
            found = {s.id: s for s in self.fetch(missing)}
            for sid in missing:  # not found: hidden or merged since its list was read
                if sid in found:
                    self._stories[sid] = found[sid]
                else:
                    self._stories.pop(sid, None)
        fresh = [self._stories[sid] for sid in render if sid in self._stories]
        for story, rendered in zip(fresh, render_entries(self.site, self.hub, fresh),
                                   strict=True):
            key = key_of(story)
            self._content[story.id] = (key, story.updated)
            self._entries["rss"][key] = rendered.rss
            self._entries["atom"][key] = rendered.atom
            self._entries["json"][key] = rendered.json
        self.stats.update(reused=self.stats["reused"] + len(wanted) - len(render),
                          fetched=self.stats["fetched"] + len(missing),
                          rendered=self.stats["rendered"] + len(fresh))

    def write(self, feed: Feed) -> None:
        """Write the feed's files (or keep them as they are)."""
        name = feed.path("rss")
        if name in self._kept:
            for path, st in self._kept[name].items():
                self.writer.keep(path)
                self._files[path] = st
            self._keys[name] = [key_of(s) for s in feed.stories]
            return
        # a story hidden or merged since its list was read has no entry: left out
        content = [self._content[s.id] for s in feed.stories if s.id in self._content]
        keys = self._keys[name] = [key for key, _ in content]
        if feed.pinned:  # the featured feed: its stories are at hand, with their pins
            date = build_date([self._stories[s.id] for s in feed.stories
                               if s.id in self._content], pinned=True)
        else:
            date = max((updated for _, updated in content), default=build_date([]))
        for kind in feed.kinds:
            path = feed.path(kind)
            data = _assemble(kind, feed.meta, date, [self._entries[kind][k] for k in keys])
            self.writer.write(path, data)
            self._files[path] = _stat(self.writer, path)

    def _unchanged(self, feed: Feed) -> dict[str, tuple[int, int]] | None:
        """The feed's files, if its stories and files are what the last publish recorded."""
        last = self._last.get(feed.path("rss"))
        if feed.always or last is None or last.keys != [key_of(s) for s in feed.stories]:
            return None
        files = {}
        for kind in feed.kinds:
            st = _stat(self.writer, feed.path(kind))
            if st is None or last.files.get(feed.path(kind)) != st:
                return None
            files[feed.path(kind)] = st
        return files

    def _cut(self, pending: Sequence[Feed], wanted: set[Key]) -> None:
        """Take the wanted entries from the old files of the feeds to write again.

        Only files the record describes (same size and time) are read, and only as
        many as hold a wanted entry not found yet, those holding most of them first.
        """
        for kind in KINDS:
            files = []
            for feed in pending:
                last = self._last.get(feed.path("rss"))
                path = feed.path(kind) if kind in feed.kinds else None
                if last is not None and path is not None and last.files.get(path) == _stat(
                        self.writer, path):
                    files.append((len(wanted.intersection(last.keys)), path, last.keys))
            found = self._entries[kind]
            for _, path, keys in sorted(files, reverse=True):
                if not any(k in wanted and k not in found for k in keys):
                    continue
                data = self.writer.path_for(path).read_bytes()
                parts = _SPLIT[kind](data)
                if parts is not None and len(parts[1]) == len(keys):
                    for key, entry in zip(keys, parts[1], strict=True):
                        found.setdefault(key, entry)

    # -- the record --------------------------------------------------------------------

    def record(self) -> str:
        """What each feed's files hold now, to store under :func:`record_key`."""
        feeds = {name: {"keys": self._keys.get(name, []),
                        "files": {f.path(k): self._files.get(f.path(k)) for k in f.kinds}}
                 for name, f in self._feeds.items()}
        return json.dumps({"root": str(self.writer.root), "generation": self.generation,
                           "feeds": feeds}, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class _Last:
    keys: list[Key]
    files: dict[str, tuple[int, int] | None]


def _parse_record(text: str | None, root: str, generation: str) -> dict[str, _Last]:
    if not text:
        return {}
    try:
        data = json.loads(text)
        if data.get("root") != root or data.get("generation") != generation:
            return {}
        last = {name: _Last(list(feed["keys"]),
                            {f: (int(st[0]), int(st[1])) if st else None
                             for f, st in feed["files"].items()})
                for name, feed in data["feeds"].items()}
        if all(isinstance(k, str) for feed in last.values() for k in feed.keys):
            return last
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        pass
    return {}  # not a record this version wrote: render everything


def _stat(writer: OutputWriter, name: str) -> tuple[int, int] | None:
    try:
        st = writer.path_for(name).stat()
    except FileNotFoundError:
        return None
    return (st.st_size, st.st_mtime_ns)


_SPLIT = {"rss": split_rss, "atom": split_atom, "json": split_json}


def _assemble(kind: str, meta: FeedMeta, date: datetime, entries: list[bytes]) -> bytes:
    if kind == "rss":
        return assemble_rss(rss_header(meta, date), entries)
    if kind == "atom":
        return assemble_atom(atom_header(meta, date), entries)
    return assemble_json(json_header(meta), entries)
