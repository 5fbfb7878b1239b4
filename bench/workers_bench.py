"""Poll throughput with 1, 2 and 3 worker processes on PostgreSQL.

N sources (default 600) on a local HTTP server that answers each request after a
simulated latency (default 50 ms, like a distant publisher); K processes run
``aggregator poll`` at once against one PostgreSQL database and share the
sources through their claims (``FOR UPDATE SKIP LOCKED``). Each size runs on a fresh
schema; the figure is the wall time until every source was polled once, and the
server's request count proves none was fetched twice.

    .venv/bin/python bench/workers_bench.py --sources 600 --latency 0.05

Needs PostgreSQL ($AGGREGATOR_TEST_DATABASE_URL, default
postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.httpserver import HTTPTestServer, Reply, ServedRequest  # noqa: E402


def feed(n: int) -> bytes:
    items = "".join(f"<item><title>Item {n}.{i} on smuggling routes</title>"
                    f"<link>http://example.org/{n}/{i}</link><guid>{n}-{i}</guid>"
                    f"<description>{'Text of the item. ' * 40}</description></item>"
                    for i in range(10))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>S{n}</title>'
            f"<link>http://example.org/{n}</link>{items}</channel></rss>").encode()


def run(workers: int, sources: int, latency: float, base_url: str) -> tuple[float, Counter[str]]:
    import sqlalchemy as sa

    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base_url}?options={quote(f'-csearch_path={schema}')}"
    hits: Counter[str] = Counter()
    bodies = {n: feed(n) for n in range(sources)}

    def serve(request: ServedRequest) -> Reply:
        time.sleep(latency)
        hits[request.path] += 1
        n = int(request.path.rsplit("/", 1)[1].split(".")[0])
        return Reply(200, {"Content-Type": "application/rss+xml"}, bodies[n])

    folder = ROOT / "bench" / "results" / f"workers-{workers}"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "feeds").mkdir(parents=True)
    try:
        with HTTPTestServer() as server:
            for n in range(sources):
                server.route(f"/f/{n}.xml", serve)
            (folder / "feeds" / "bench.toml").write_text("\n".join(
                f'[[source]]\nid = "s{n:04d}"\nurl = "{server.url(f"/f/{n}.xml")}"\n'
                for n in range(sources)), encoding="utf-8")
            (folder / "config.toml").write_text(
                f'[storage]\nurl = "{url}"\n[fetch]\nallow_private = true\nconcurrency = 16\n'
                # one local host stands for many publishers: lift the per-host limit
                'per_host_concurrency = 16\n[dedupe]\nnear_duplicates = false\n',
                encoding="utf-8")
            cmd = [sys.executable, "-m", "aggregator", "--config", str(folder / "config.toml")]
            subprocess.run([*cmd, "sources", "list"], check=True, capture_output=True,
                           cwd=folder)  # migrate and sync once, outside the timing
            started = time.perf_counter()
            # plain `poll`: the due sources (all of them, new), shared through the claims
            procs = [subprocess.Popen([*cmd, "poll"], cwd=folder,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env={**os.environ, "PYTHONPATH": str(ROOT)})
                     for _ in range(workers)]
            for p in procs:
                p.wait()
            return time.perf_counter() - started, hits
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    base = os.environ.get("AGGREGATOR_TEST_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")
    print(f"{args.sources} sources, {args.latency * 1000:.0f} ms latency, PostgreSQL")
    print("| workers | wall | sources/s | each fetched once |")
    print("|---|---|---|---|")
    for k in args.workers:
        wall, hits = run(k, args.sources, args.latency, base)
        once = len(hits) == args.sources and set(hits.values()) == {1}
        print(f"| {k} | {wall:.1f} s | {args.sources / wall:.0f} | {'yes' if once else 'NO'} |")


if __name__ == "__main__":
    main()
