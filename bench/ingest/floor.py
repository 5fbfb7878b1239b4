"""The floor: feedparser alone on the corpus's bytes in 2 processes.

No network, no storage, no normalizing: 2 spawned workers read and parse the files
in chunks of 25 (sanitizing and relative-URI resolution off, as the aggregator
parses). What is left of a poll once fetching and storing cost nothing.

    python bench/ingest/floor.py bench/results/ingest-1000x20
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path


def _parse(paths: list[str]) -> int:
    import feedparser

    n = 0
    for p in paths:
        with open(p, "rb") as f:
            d = feedparser.parse(f.read(), sanitize_html=False, resolve_relative_uris=False,
                                 response_headers={"content-type": "application/xml"})
        n += len(d.entries)
    return n


def main() -> None:
    files = sorted(str(p) for p in (Path(sys.argv[1]) / "feeds").glob("*.xml"))
    chunks = [files[i:i + 25] for i in range(0, len(files), 25)]  # balanced between the two
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        print(f"{len(files)} feeds, {sum(pool.map(_parse, chunks))} entries")


if __name__ == "__main__":
    main()
