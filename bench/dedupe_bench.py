"""Clustering speed: 10k and 100k synthetic items, with republications.

    python bench/dedupe_bench.py [--sizes 10000 100000] [--seed 7]

Each synthetic story has a title and ~120 words drawn from a 20,000-word vocabulary
(Zipf-like, so common words are common), a few figures, and a date within one year
(``--scale-days``: a span that grows with the size, so the items per day stay the same).
A quarter are republished by another source 0-2 days later: half copied nearly
whole, half re-written (a third of the words replaced, the figures kept). Items go
through the same path as in the pipeline: features (MinHash signature), a query of
the LSH index, verification, insertion. Prints the time per size, the growth ratio
and the duplicate-pair precision/recall against the generator's truth.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator import dedupe

START = datetime(2026, 1, 1, tzinfo=UTC)


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 10))))
    return sorted(words)


def generate(n: int, seed: int, days: float = 365) -> list[tuple[str, str, str, datetime, str]]:
    """(story key, source, title, published, text) for ``n`` items."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(vocab))]
    items: list[tuple[str, str, str, datetime, str]] = []
    story = 0
    while len(items) < n:
        story += 1
        words = rng.choices(vocab, weights, k=130)
        figures = [str(rng.randint(12, 5000)) for _ in range(rng.randint(0, 4))]
        for f in figures:
            words.insert(rng.randrange(len(words)), f)
        title, body = " ".join(words[:10]), " ".join(words[10:])
        published = START + timedelta(minutes=rng.randrange(int(days * 24 * 60)))
        source = f"s{rng.randrange(40)}"
        key = f"story{story}"
        items.append((key, source, title, published, f"{title} {body}"))
        if rng.random() < 0.25 and len(items) < n:
            other = f"s{(int(source[1:]) + 1 + rng.randrange(39)) % 40}"
            later = published + timedelta(hours=rng.uniform(0, 48))
            if rng.random() < 0.5:  # copied, a word or two changed
                copy = list(words)
                copy[rng.randrange(10, len(copy))] = rng.choice(vocab)
            else:  # re-written: a third of the words replaced, figures kept
                copy = [w if (w in figures or rng.random() > 0.33) else rng.choice(vocab)
                        for w in words]
                rng.shuffle(copy[:10])
            items.append((key, other, " ".join(copy[:10]), later,
                          " ".join(copy[:10]) + " " + " ".join(copy[10:])))
    items.sort(key=lambda x: x[3])
    return items[:n]


def run(n: int, seed: int, days: float = 365) -> tuple[float, float, float]:
    items = generate(n, seed, days)
    index = dedupe.ClusterIndex(window=timedelta(days=7))
    started = time.perf_counter()
    assigned: dict[int, str] = {}
    for i, (_key, source, title, published, text) in enumerate(items):
        f = dedupe.features(title, text)
        entry = dedupe.Entry.from_features(f, copy_id=f"c{i}", story_id="", source_id=source,
                                           published=published, language="en")
        found = index.best_match(entry)
        entry.story_id = found.story_id if found else f"c{i}"
        assigned[i] = entry.story_id
        index.add(entry)
    elapsed = time.perf_counter() - started
    truth: dict[str, list[int]] = defaultdict(list)
    got: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        truth[item[0]].append(i)
        got[assigned[i]].append(i)
    true_pairs = {p for members in truth.values() for p in itertools.combinations(members, 2)}
    got_pairs = {p for members in got.values() for p in itertools.combinations(members, 2)}
    tp = len(true_pairs & got_pairs)
    precision = tp / len(got_pairs) if got_pairs else 1.0
    recall = tp / len(true_pairs) if true_pairs else 1.0
    return elapsed, precision, recall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--days", type=float, default=365,
                    help="time span of the smallest size (default: one year)")
    ap.add_argument("--scale-days", action="store_true",
                    help="grow the time span with the size (constant items per day)")
    args = ap.parse_args()
    dedupe.features("warm up", "warm up the imports and permutations")
    times = []
    print(f"{'items':>8} {'seconds':>8} {'items/s':>8} {'pair P':>7} {'pair R':>7}")
    for n in args.sizes:
        days = args.days * n / args.sizes[0] if args.scale_days else args.days
        elapsed, precision, recall = run(n, args.seed, days)
        times.append(elapsed)
        print(f"{n:8d} {elapsed:8.2f} {n / elapsed:8.0f} {precision:7.3f} {recall:7.3f}",
              flush=True)
    if len(times) > 1:
        print(f"growth {args.sizes[0]} -> {args.sizes[-1]}: {times[-1] / times[0]:.1f}x "
              f"for {args.sizes[-1] / args.sizes[0]:.0f}x the items")


if __name__ == "__main__":
    main()
