"""One ``reader`` update over the bench corpus, as a process of its own.

    python bench/ingest/reader_run.py DB --setup URL...   # add the feeds (not timed)
    python bench/ingest/reader_run.py DB --workers N [--warm]

``--warm`` passes ``scheduled=False``: reader would otherwise fetch nothing the second
time, since none of the feeds is due yet. Prints feeds and entries in the store.
"""

from __future__ import annotations

import argparse

from reader import make_reader


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--setup", nargs="*")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warm", action="store_true")
    args = parser.parse_args()
    reader = make_reader(args.db)
    if args.setup is not None:
        for url in args.setup:
            reader.add_feed(url)
        return
    reader.update_feeds(workers=args.workers, scheduled=not args.warm)
    counts = reader.get_entry_counts()
    print(f"{reader.get_feed_counts().total} feeds, {counts.total} entries")
    reader.close()


if __name__ == "__main__":
    main()
