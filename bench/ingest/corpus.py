"""The ingest bench's corpus: N feeds of M items, written once under bench/results/.

Feeds are 5-80 KB (log-uniform), 60% RSS 2.0, 30% Atom, 10% RSS 1.0, their items
HTML paragraphs with links and emphasis from a Zipf-like vocabulary. One item in
eight is a story republished from a shared pool: another feed's title and text with
one word changed, its own link and guid. Deterministic for a given seed.

    .venv/bin/python bench/ingest/corpus.py --feeds 1000 --items 20   # writes and exits
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import accumulate
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[2]
FORMATS = (("rss2", 0.6), ("atom", 0.3), ("rss1", 0.1))


def corpus_dir(feeds: int, items: int) -> Path:
    return ROOT / "bench" / "results" / f"ingest-{feeds}x{items}"


class _Words:
    def __init__(self, rng: random.Random, size: int = 20_000) -> None:
        letters = "etaoinshrdlucmfwypvbgkjqxz"
        self.vocab = ["".join(rng.choice(letters[: 8 + i % 18]) for _ in range(rng.randint(2, 10)))
                      for i in range(size)]
        self.cum = list(accumulate(1 / (r + 1) for r in range(size)))
        self.rng = rng

    def take(self, n: int) -> list[str]:
        return self.rng.choices(self.vocab, cum_weights=self.cum, k=n)


def _paragraphs(words: _Words, rng: random.Random, nbytes: int, host: str) -> str:
    out: list[str] = []
    size = 0
    while size < nbytes:
        ws = words.take(rng.randint(25, 70))
        if rng.random() < 0.5:
            i = rng.randrange(len(ws))
            ws[i] = f'<a href="https://{host}/ref/{rng.randrange(10**6)}">{ws[i]}</a>'
        if rng.random() < 0.3:
            i = rng.randrange(len(ws))
            ws[i] = f"<em>{ws[i]}</em>"
        p = "<p>" + " ".join(ws).capitalize() + f" {rng.randint(2, 2000)} people.</p>"
        out.append(p)
        size += len(p)
    return "".join(out)


def _rss2(feed: dict, items: list[dict]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
             'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
             f"<title>{escape(feed['title'])}</title><link>{feed['link']}</link>"
             f"<description>{escape(feed['title'])} news</description><language>en</language>"]
    for it in items:
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{it['link']}</link>"
            f'<guid isPermaLink="false">{it["guid"]}</guid>'
            f"<pubDate>{format_datetime(it['date'])}</pubDate>"
            f"<dc:creator>{escape(it['author'])}</dc:creator>"
            + "".join(f"<category>{c}</category>" for c in it["categories"])
            + f"<description>{escape(it['html'])}</description></item>")
    parts.append("</channel></rss>\n")
    return "".join(parts)


def _atom(feed: dict, items: list[dict]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">',
             f"<title>{escape(feed['title'])}</title><id>{feed['link']}</id>"
             f'<link href="{feed["link"]}"/><updated>{items[0]["date"].isoformat()}</updated>']
    for it in items:
        parts.append(
            f"<entry><title>{escape(it['title'])}</title><id>{it['guid']}</id>"
            f'<link rel="alternate" href="{it["link"]}"/>'
            f"<updated>{it['date'].isoformat()}</updated>"
            f"<published>{it['date'].isoformat()}</published>"
            f"<author><name>{escape(it['author'])}</name></author>"
            + "".join(f'<category term="{c}"/>' for c in it["categories"])
            + f'<summary type="text">{escape(it["summary"])}</summary>'
            f'<content type="html">{escape(it["html"])}</content></entry>')
    parts.append("</feed>\n")
    return "".join(parts)


def _rss1(feed: dict, items: list[dict]) -> str:
    parts = ['<?xml version="1.0" encoding="utf-8"?>\n<rdf:RDF '
             'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
             'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
             'xmlns:content="http://purl.org/rss/1.0/modules/content/">',
             f'<channel rdf:about="{feed["link"]}"><title>{escape(feed["title"])}</title>'
             f"<link>{feed['link']}</link><description>news</description><items><rdf:Seq>"
             + "".join(f'<rdf:li rdf:resource="{it["link"]}"/>' for it in items)
             + "</rdf:Seq></items></channel>"]
    for it in items:
        parts.append(
            f'<item rdf:about="{it["link"]}"><title>{escape(it["title"])}</title>'
            f"<link>{it['link']}</link><dc:date>{it['date'].isoformat()}</dc:date>"
            f"<dc:creator>{escape(it['author'])}</dc:creator>"
            f"<description>{escape(it['summary'])}</description>"
            f"<content:encoded>{escape(it['html'])}</content:encoded></item>")
    parts.append("</rdf:RDF>\n")
    return "".join(parts)


WRITERS = {"rss2": _rss2, "atom": _atom, "rss1": _rss1}


def _story(words: _Words, rng: random.Random, per_item: int, host: str) -> tuple[str, str]:
    """A title and an HTML body of about ``per_item`` bytes, for a story told first here."""
    title = " ".join(words.take(rng.randint(5, 12))).capitalize()
    html = (_paragraphs(words, rng, per_item, host) if per_item > 150
            else "<p>" + " ".join(words.take(12)) + "</p>")
    return title, html


def generate(folder: Path, feeds: int, items: int, seed: int = 8) -> None:
    """Write ``folder/feeds/NNNN.xml`` and ``folder/corpus.json`` (formats, sizes), and
    ``folder/next/NNNN.xml``: each feed as it is a poll later, one new item on top."""
    rng = random.Random(seed)
    words = _Words(rng)
    now = datetime(2026, 11, 28, 12, tzinfo=UTC)
    pool: list[dict] = []  # stories other feeds republish
    (folder / "feeds").mkdir(parents=True, exist_ok=True)
    kinds, choices = zip(*FORMATS, strict=True)
    meta = []
    written: list[tuple[str, str, dict, list[dict], int]] = []
    for f in range(feeds):
        fmt = rng.choices(kinds, choices)[0]
        host = f"site{f:04d}.example.org"
        target = int(5_000 * 16 ** rng.random())  # 5-80 KB, log-uniform
        # escaping the HTML adds ~20%; an item's fields besides its text take ~250 bytes
        per_item = int(target / 1.2) // items - 250
        feed = {"title": " ".join(words.take(3)).title(), "link": f"https://{host}/"}
        rows = []
        for i in range(items):
            date = now - timedelta(minutes=rng.randint(0, 60 * 24 * 30))
            if pool and rng.random() < 0.125:
                orig = rng.choice(pool)
                ws = orig["html"].split(" ")
                ws[rng.randrange(len(ws))] = words.take(1)[0]
                title, html = orig["title"], " ".join(ws)
            else:
                title, html = _story(words, rng, per_item, host)
            row = {"title": title, "html": html, "link": f"https://{host}/news/{f}-{i}",
                   "guid": f"urn:bench:{f}:{i}", "date": date,
                   "author": " ".join(words.take(2)).title() if per_item > 400 else "",
                   "categories": words.take(rng.randint(0, 3)),
                   "summary": " ".join(words.take(min(30, max(3, per_item // 40))))}
            rows.append(row)
            if rng.random() < 0.05:
                pool.append(row)
        rows.sort(key=lambda r: r["date"], reverse=True)
        body = WRITERS[fmt](feed, rows).encode()
        (folder / "feeds" / f"{f:04d}.xml").write_bytes(body)
        meta.append({"id": f"{f:04d}", "format": fmt, "bytes": len(body)})
        written.append((fmt, host, feed, rows, per_item))
    # the next version of each feed, drawn after all of the first (which stay the same)
    (folder / "next").mkdir(exist_ok=True)
    rng = random.Random(seed + 1)
    words = _Words(rng)
    for f, (fmt, host, feed, rows, per_item) in enumerate(written):
        title, html = _story(words, rng, per_item, host)
        new = {"title": title, "html": html,
               "link": f"https://{host}/news/{f}-{items}", "guid": f"urn:bench:{f}:{items}",
               "date": now + timedelta(minutes=30), "author": "", "categories": [],
               "summary": " ".join(words.take(12))}
        (folder / "next" / f"{f:04d}.xml").write_bytes(WRITERS[fmt](feed, [new, *rows]).encode())
    (folder / "corpus.json").write_text(json.dumps(meta), encoding="utf-8")


def ensure(feeds: int, items: int) -> Path:
    folder = corpus_dir(feeds, items)
    if not (folder / "corpus.json").exists() or not (folder / "next").is_dir():
        generate(folder, feeds, items)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    folder = ensure(args.feeds, args.items)
    meta = json.loads((folder / "corpus.json").read_text())
    sizes = sorted(m["bytes"] for m in meta)
    print(f"{folder}: {len(meta)} feeds, {sum(sizes) / 1e6:.1f} MB, "
          f"{sizes[0] / 1e3:.1f}-{sizes[-1] / 1e3:.1f} KB, median {sizes[len(sizes) // 2] / 1e3:.1f} KB")


if __name__ == "__main__":
    main()
