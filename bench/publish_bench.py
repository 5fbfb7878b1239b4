"""Publish speed on a big store: a full rebuild, a publish with nothing changed, 100 new stories.

    python bench/publish_bench.py [--stories 200000] [--seed 7] [--reuse]

A SQLite store is built once per size and seed, cached in bench/results/ (``--reuse``
keeps it): 40 sources tagged ``org:x``; N stories over five years, one copy each, 2-3 for
a tenth (other sources, 0-2 days later); titles ~80 characters, summaries ~600, content
~3 KB for 30%; 3-8 tags per copy (1-2 of 7 topics, Zipf-weighted countries out of 200,
their M49 regions); an event on 1% of copies. Rows go in by executemany, shaped as
``Store.ingest`` writes them (no MinHash signatures: publishing does not read them).

Each run works on a copy of it (synced to disk first, with the dedupe libraries already
imported, so no step pays for either) and measures time, files and the peak RSS of:
1. a full publish into an empty folder, 2. a publish with nothing changed, 3. 100 new stories
through ``Store.ingest`` (Items with Analysis tags, one call per source, as the pipeline
does) and a publish; then 3 again under cProfile (top 15 by cumulative time printed;
the whole profile saved in bench/results/).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import multiprocessing
import os
import pstats
import random
import resource
import shutil
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pycountry
import sqlalchemy as sa

from aggregator import dedupe
from aggregator.config import Config, OutputConfig, StorageConfig
from aggregator.gazetteer import region_of
from aggregator.models import Analysis, Event, Item, SourceDef, TagReason
from aggregator.publish import publish
from aggregator.store import Store, copy_id, story_id_for
from aggregator.store.schema import copies, copy_events, copy_tags, stories, story_tags
from aggregator.store.stories import _copy_values
from aggregator.tagrules import DEFAULT_RULES

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SPAN = int(timedelta(days=5 * 365).total_seconds())
BATCH = 5_000
ORGS = ("unodc", "iom", "unhcr", "europol", "interpol", "frontex", "unicef", "ilo", "osce",
        "ecowas", "african-union", "council-of-europe")
TOPIC_WEIGHTS = (40, 25, 10, 6, 12, 5, 15)  # migrant-smuggling, human-trafficking, ...


class World:
    """What the generator draws from: words, sentences, tags."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.rng = random.Random(seed + 1)
        letters = "abcdefghijklmnopqrstuvwxyz"
        self.vocab = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
                      for _ in range(5_000)]
        self.sentences = [" ".join(rng.choices(self.vocab, k=rng.randint(12, 18))).capitalize()
                          + "." for _ in range(3_000)]
        codes = sorted(c.alpha_2.lower() for c in pycountry.countries
                       if region_of(c.alpha_2.lower()))
        self.countries = rng.sample(codes, 200)
        self.country_weights = [1 / (rank + 1) for rank in range(200)]
        self.sources = [SourceDef(f"s{i:02d}", f"https://s{i:02d}.example/feed.xml",
                                  title=f"Source {i}", tags=(f"org:{ORGS[i % 12]}",),
                                  origin="feeds/bench.toml") for i in range(40)]

    def tags(self, event: bool) -> list[TagReason]:
        rng, want = self.rng, self.rng.randint(3, 8)
        topics = set(rng.choices(list(DEFAULT_RULES), TOPIC_WEIGHTS, k=rng.choice((1, 2))))
        topics |= {"meeting"} if event else set()
        found = [TagReason(t, f"tags.{t}", rng.choice(self.vocab), "title") for t in topics]
        seen = set(topics)
        while len(found) < want:  # a country, then its region
            iso2 = rng.choices(self.countries, self.country_weights)[0]
            for tag, rule in ((f"country:{iso2}", "gazetteer"), (f"region:{region_of(iso2)}",
                                                                   "region")):
                if tag not in seen and len(found) < want:
                    seen.add(tag)
                    found.append(TagReason(tag, rule, iso2, "summary"))
        return found

    def item(self, source: str, guid: str, published: datetime, title: str | None = None) -> Item:
        rng = self.rng
        title = title or " ".join(rng.choices(self.vocab, k=11)).capitalize()
        summary = " ".join(rng.sample(self.sentences, 5))
        content = [" ".join(rng.sample(self.sentences, 5)) for _ in range(5)] \
            if rng.random() < 0.3 else []
        text = " ".join([title, summary, *content])
        url = f"https://{source}.example/news/{guid}"
        return Item(source_id=source, guid=guid, url=url, canonical_url=url, title=title,
                    summary_html=f"<p>{summary}</p>",
                    content_html="".join(f"<p>{p}</p>" for p in content), text=text,
                    published=published, language="en",
                    content_hash=hashlib.sha256(f"{title}\n{text}".encode()).hexdigest())

    def event(self, published: datetime) -> Event:
        start = (published + timedelta(days=self.rng.randint(-30, 90))).date()
        return Event(start, start + timedelta(days=self.rng.randint(0, 3)),
                     location="Vienna", country=self.rng.choice(self.countries))


def build(path: Path, n: int, seed: int) -> None:
    """Write the synthetic store to ``path`` (through a temporary name)."""
    world, rng = World(seed), random.Random(seed + 2)
    tmp = path.with_suffix(".tmp.db")
    for p in RESULTS.glob(tmp.name + "*"):
        p.unlink()
    store = Store.open(f"sqlite:///{tmp}")
    store.sync_sources(world.sources, NOW - timedelta(seconds=SPAN + 86400))
    ids = [s.id for s in world.sources]
    source_tags = {s.id: s.tags for s in world.sources}
    rows: dict[sa.Table, list[dict[str, Any]]] = {stories: [], copies: [], copy_tags: [],
                                                  copy_events: [], story_tags: []}
    for i in range(n):
        published = NOW - timedelta(seconds=rng.randrange(SPAN))
        first = rng.randrange(40)
        extra = rng.choice((1, 2)) if rng.random() < 0.1 else 0
        sources = [ids[first], *(ids[(first + 1 + k) % 40]
                                 for k in rng.sample(range(39), extra))]
        sid = title = ""
        pooled: set[str] = set()
        for k, source in enumerate(sources):
            when = published + timedelta(hours=rng.uniform(0, 48)) if k else published
            item = world.item(source, f"g{i}-{k}", when, title if k else None)
            title, cid = item.title, copy_id(source, item.guid)
            seen = when + timedelta(minutes=rng.randrange(180))
            if k == 0:
                sid = story_id_for(cid)
                pin = {"pinned_at": NOW - timedelta(days=1), "pin_order": i} if i < 3 else {}
                rows[stories].append({"id": sid, "representative_copy_id": cid,
                                      "first_seen_at": seen, "published_at": when,
                                      "updated_at": seen, "hidden": False, "pinned_at": None,
                                      "pin_order": None, **pin})
            rows[copies].append({**_copy_values(item), "id": cid, "story_id": sid,  # as ingest
                                 "source_id": source, "guid": item.guid, "first_seen_at": seen,
                                 "changed_at": seen, "signature": None, "features": None})
            event = world.event(when) if rng.random() < 0.01 else None
            tags = world.tags(event is not None)
            rows[copy_tags].extend({"copy_id": cid, "tag": t.tag, "rule": t.rule,
                                    "matched": t.matched, "field": t.field} for t in tags)
            pooled.update(t.tag for t in tags)
            pooled.update(source_tags[source])
            if event:
                rows[copy_events].append({"copy_id": cid, "start": event.start,
                                          "end": event.end, "location": event.location,
                                          "country": event.country, "matched": "Meeting"})
        story = rows[stories][-1]
        rows[story_tags].extend({"story_id": sid, "tag": t, "published_at": published,
                                 "first_seen_at": story["first_seen_at"], "hidden": False,
                                 "revision": 0, "updated_at": story["updated_at"]}
                                for t in sorted(pooled))
        if (i + 1) % BATCH == 0 or i == n - 1:
            with store.engine.begin() as conn:
                for table, batch in rows.items():
                    if batch:
                        conn.execute(table.insert(), batch)
                    batch.clear()
            print(f"  built {i + 1} stories", end="\r", file=sys.stderr, flush=True)
    with store.engine.connect() as conn:  # one file, to copy
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    tmp.rename(path)


def ingest_new(store: Store, world: World, now: datetime, run: int) -> int:
    """100 new stories as the pipeline stores them: Items, Analyses, one ingest per source."""
    by_source: dict[str, list[tuple[Item, Analysis]]] = defaultdict(list)
    for j in range(100):
        source = world.sources[(j * 7) % 40].id
        item = world.item(source, f"new{run}-{j}", now - timedelta(minutes=world.rng.randrange(90)))
        event = world.event(now) if j % 20 == 0 else None
        f = dedupe.features(item.title, item.text)
        by_source[source].append((item, Analysis(
            tags=tuple(world.tags(event is not None)), event=event,
            event_text="Meeting" if event else None,
            signature=f.signature, features=f.to_json())))
    sources = {s.id: s for s in store.list_sources()}
    for source, pairs in by_source.items():
        store.ingest(sources[source], [i for i, _ in pairs], now,
                     analyses={i.guid: a for i, a in pairs}, last_success_at=now,
                     last_attempt_at=now)
    return 100


def reset_peak() -> None:
    with contextlib.suppress(OSError):  # Linux: restart the peak RSS (VmHWM, ru_maxrss) here
        Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--reuse", action="store_true", help="keep an existing cached store")
    args = ap.parse_args()
    RESULTS.mkdir(exist_ok=True)
    cached = RESULTS / f"publish-{args.stories}-s{args.seed}.db"
    if not (args.reuse and cached.exists()):
        cached.unlink(missing_ok=True)
        started = time.perf_counter()
        child = multiprocessing.get_context("fork").Process(  # its memory is not ours
            target=build, args=(cached, args.stories, args.seed))
        child.start()
        child.join()
        if child.exitcode:
            sys.exit(f"building the store failed ({child.exitcode})")
        print(f"built {cached.name} in {time.perf_counter() - started:.0f} s")
    work, out = RESULTS / f"publish-{args.stories}-run.db", RESULTS / f"out-{args.stories}"
    for p in RESULTS.glob(work.name + "*"):
        p.unlink()
    shutil.copyfile(cached, work)
    with open(work, "rb+") as copy:  # on disk before the clock starts: else the first fsync
        os.fsync(copy.fileno())      # of a step (a commit's checkpoint, a file) pays for it
    shutil.rmtree(out, ignore_errors=True)
    store = Store.open(f"sqlite:///{work}")
    queries = [0]
    sa.event.listen(store.engine, "before_cursor_execute", lambda *a: queries.__setitem__(
        0, queries[0] + 1))
    config = Config(path=RESULTS / "config.toml", output=OutputConfig(dir=out),  # lock file too
                    storage=StorageConfig(url=f"sqlite:///{work}", data_dir=RESULTS))
    world = World(args.seed + 100)
    print(f"{store.count_stories()} stories, {cached.stat().st_size / 1e6:.0f} MB; output: {out}")
    print(f"{'step':<34} {'seconds':>8} {'written':>8} {'unchanged':>9} {'queries':>8}"
          f" {'peak MB':>8}")

    def step(label: str, fn: Any, profile: cProfile.Profile | None = None) -> float:
        reset_peak()
        queries[0] = 0
        started = time.perf_counter()
        result = profile.runcall(fn) if profile else fn()
        elapsed = time.perf_counter() - started
        written, unchanged = (len(result.written), len(result.unchanged)) \
            if hasattr(result, "written") else ("-", "-")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{label:<34} {elapsed:8.2f} {written!s:>8} {unchanged!s:>9} {queries[0]:8d}"
              f" {peak:8.0f}", flush=True)
        return elapsed

    t1, t2 = NOW + timedelta(minutes=30), NOW + timedelta(minutes=60)
    dedupe.features("warm up", "warm up")  # imports numpy once,
    # as a worker has: step 3a times storing, not them
    step("1 full rebuild (empty output)", lambda: publish(store, config, NOW))
    step("2 publish, nothing changed", lambda: publish(store, config, NOW))
    total = step("3a ingest 100 new stories", lambda: ingest_new(store, world, t1, 1)) \
        + step("3b publish", lambda: publish(store, config, t1))
    profile = cProfile.Profile()
    step("3a' again, under cProfile", lambda: ingest_new(store, world, t2, 2), profile)
    step("3b' again, under cProfile", lambda: publish(store, config, t2), profile)
    store.close()
    print(f"step 3 (ingest + publish): {total:.2f} s; target <= 2 s")
    profile.dump_stats(RESULTS / f"publish-{args.stories}.prof")
    pstats.Stats(profile).strip_dirs().sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
