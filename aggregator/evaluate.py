"""Score dedupe, tags and events against a labelled set: ``aggregator eval PATH``.

PATH holds ``sources.toml`` (source definitions), ``snapshots/`` (their recorded
documents, as in ``feeds/snapshots``) and ``labels.toml`` (one ``[[item]]`` per
entry: ``source``, ``url``, ``cluster``, ``topics``, ``countries``, optional
``event``). The real pipeline polls the sources offline into a temporary SQLite
store with the operator's tag rules and dedupe settings; then:

- duplicate pairs: precision, recall and F1 over every pair of labelled items
  (a pair is positive when both are in one cluster);
- topic tags and countries: micro precision, recall and F1 over (item, tag);
- events: accuracy over the items where the label or the result has an event
  (right when start, end and country agree);
- found: labelled items that came out of the pipeline at all.
"""

from __future__ import annotations

import itertools
import tempfile
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregator.config import (
    Config,
    OutputConfig,
    SourcesConfig,
    StorageConfig,
    find_config_path,
    load_config,
    load_sources,
)
from aggregator.errors import ConfigError
from aggregator.normalize import canonical_url
from aggregator.pipeline import poll
from aggregator.store import Store
from aggregator.tagging import compile_rules
from aggregator.tagrules import DEFAULT_RULES

#: the topics the labels use: the shipped topic rules
TOPICS = frozenset(DEFAULT_RULES)


@dataclass(frozen=True, slots=True)
class PRF:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "tp": self.tp, "fp": self.fp, "fn": self.fn}


@dataclass(frozen=True, slots=True)
class Scores:
    items: int
    found: int
    pairs: PRF
    topics: PRF
    countries: PRF
    events_right: int
    events_total: int
    #: what went wrong, for people tuning rules
    mistakes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def event_accuracy(self) -> float:
        return self.events_right / self.events_total if self.events_total else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "found": self.found, "duplicate_pairs": self.pairs.as_dict(),
                "topics": self.topics.as_dict(), "countries": self.countries.as_dict(),
                "events": {"accuracy": round(self.event_accuracy, 4),
                           "right": self.events_right, "total": self.events_total},
                "mistakes": self.mistakes}

    def report(self) -> str:
        rows = [("duplicate pairs", self.pairs), ("topic tags", self.topics),
                ("countries", self.countries)]
        lines = [f"items found      {self.found}/{self.items}",
                 f"{'':16} {'precision':>9} {'recall':>7} {'F1':>6}"]
        lines += [f"{name:16} {p.precision:9.3f} {p.recall:7.3f} {p.f1:6.3f}" for name, p in rows]
        lines.append(f"{'event accuracy':16} {self.event_accuracy:9.3f} "
                     f"({self.events_right}/{self.events_total})")
        for kind, found in self.mistakes.items():
            if found:
                lines.append(f"\n{kind} ({len(found)}):")
                lines.extend(f"  {m}" for m in found[:40])
        return "\n".join(lines)


def load_base_config(path: str | None) -> Config:
    """The operator's config (for tag rules and dedupe settings), or the defaults."""
    try:
        return load_config(path)
    except ConfigError:
        if path or find_config_path(None).exists():
            raise
        return Config(path=Path.cwd() / "config.toml")


def evaluate(path: str | Path, base: Config, *, now: datetime | None = None) -> Scores:
    folder = Path(path).resolve()
    labels = _labels(folder / "labels.toml")
    with tempfile.TemporaryDirectory(prefix="aggregator-eval-") as tmp:
        config = replace(
            base,
            path=folder / "eval.toml",
            storage=StorageConfig(url=f"sqlite:///{Path(tmp) / 'eval.db'}", data_dir=Path(tmp)),
            sources=SourcesConfig(paths=("sources.toml",),
                                  host_aliases=base.sources.host_aliases),
            output=OutputConfig(dir=Path(tmp) / "output"),
        )
        store = Store.open(config.storage.url)
        try:
            store.sync_sources(load_sources(config), now or datetime.now(UTC))
            poll(store, config, due_only=False, offline=True,
                 rules=compile_rules(base.tags, path=base.path),
                 clock=(lambda: now) if now else lambda: datetime.now(UTC))
            return _score(store, labels, config)
        finally:
            store.close()


def _labels(path: Path) -> list[dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(path, None, f"cannot read the labels: {e}") from e
    items = data.get("item")
    if not isinstance(items, list) or not items:
        raise ConfigError(path, "item", "expected [[item]] tables")
    return items


def _score(store: Store, labels: list[dict[str, Any]], config: Config) -> Scores:
    aliases = config.sources.host_aliases
    copies: dict[tuple[str, str | None], str] = {}
    for stored in store.iter_copies():
        key = (stored.item.source_id, canonical_url(stored.item.url, aliases))
        copies[key] = stored.story_id
    stories = {s.id: s for s in store.list_stories(include_hidden=True)}
    mistakes: dict[str, list[str]] = {"missing items": [], "false merges": [],
                                      "missed merges": [], "topics": [], "countries": [],
                                      "events": []}
    found: list[tuple[dict[str, Any], str]] = []
    for label in labels:
        sid = copies.get((label["source"], canonical_url(label["url"], aliases)))
        if sid is None:
            mistakes["missing items"].append(f"{label['source']} {label['url']}")
        else:
            found.append((label, sid))

    tp = fp = fn = 0
    for (a, sa), (b, sb) in itertools.combinations(found, 2):
        same, merged = a["cluster"] == b["cluster"], sa == sb
        tp += same and merged
        fp += merged and not same
        fn += same and not merged
        if merged != same:
            kind = "false merges" if merged else "missed merges"
            mistakes[kind].append(f"{_name(a)}  ~  {_name(b)}")

    topics, countries = [0, 0, 0], [0, 0, 0]
    right = total = 0
    for label, sid in found:
        story = stories[sid]
        for counts, kind, expected, got in (
            (topics, "topics", set(label.get("topics", ())), set(story.tags) & TOPICS),
            (countries, "countries", set(label.get("countries", ())),
             {t.split(":", 1)[1] for t in story.tags if t.startswith("country:")}),
        ):
            counts[0] += len(expected & got)
            counts[1] += len(got - expected)
            counts[2] += len(expected - got)
            if expected != got:
                mistakes[kind].append(f"{_name(label)}: +{sorted(got - expected)} "
                                      f"-{sorted(expected - got)}")
        want, have = label.get("event"), story.event
        if want or have:
            total += 1
            ok = bool(want and have and str(have.start) == str(want["start"])
                      and str(have.end) == str(want["end"])
                      and (have.country or None) == (want.get("country") or None))
            right += ok
            if not ok:
                mistakes["events"].append(f"{_name(label)}: want {want}, got {have}")
    return Scores(items=len(labels), found=len(found), pairs=PRF(tp, fp, fn),
                  topics=PRF(*topics), countries=PRF(*countries), events_right=right,
                  events_total=total, mistakes=mistakes)


def _name(label: dict[str, Any]) -> str:
    title = str(label.get("title") or label["url"])
    return f"[{label['source']}] {title[:70]}"
