"""Ingest speed: ``aggregator poll --all`` against the ``reader`` library and a floor.

    .venv/bin/python bench/ingest/run.py --feeds 1000 --items 20 --runs 3

Generates the corpus once (``corpus.py``: N feeds × M items, 5-80 KB, RSS 2.0 / Atom /
RSS 1.0, some stories republished) under ``bench/results/``, serves it from
``server.py`` in a process of its own (ETag, Last-Modified, 304), and times whole
processes, interleaved, ``--runs`` times each:

- ``aggregator poll --all`` cold (a store with the sources and no stories) and warm
  (right after: every feed answers 304);
- ``aggregator poll --all`` "one new item per feed": the store of a cold poll, then
  every feed as it is a poll later (``/next/``: one new item on top of the 20 stored);
- ``aggregator poll --all`` "unchanged": the same feeds from a server that sends no
  ETag or Last-Modified (``/plain/``), polled once before timing, so every answer is a
  200 with the body parsed last time (compared, not parsed again);
- ``reader``'s ``update_feeds`` cold (feeds added, nothing fetched) and warm
  (``scheduled=False``), with the best of ``--reader-workers`` (tried cold, once each);
- the floor: feedparser alone on the same bytes in 2 processes (``floor.py``).

Every process is spawned (never forked), so ``wait4`` gives its own CPU and peak
RSS (``ru_maxrss``: the largest of the process and the children it waited for);
"tree" is the sampled sum of RSS over the process and its children at one moment.
Prints medians, and the ratios of each run paired with the same round's reader/floor.

Needs the bench extras: ``.venv/bin/pip install reader sgmllib3k``.
Targets (issue 8, 2 cores): cold <= 0.4x reader, warm <= 0.5x reader, peak RSS
<= 300 MB, cold <= 1.3x the floor.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from corpus import ensure  # noqa: E402
from server import serve  # noqa: E402

PY = sys.executable
#: the aggregator of this checkout, whatever is installed
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    tree_mb: float
    output: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_rss(pid: int) -> int:
    """Resident KB of ``pid`` and its descendants now."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except (OSError, ValueError):
            pass
    return total


def timed(args: list[str], cwd: Path) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=ENV)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.2):
            peak = max(peak, _tree_rss(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if status != 0:
        raise SystemExit(f"{args} failed ({status}):\n{output}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                  max(peak, usage.ru_maxrss) / 1024, output.strip().splitlines()[-1]
                  if output.strip() else "")


def build_project(folder: Path, ids: list[str], port: int, concurrency: int,
                  processes: int | str, prefix: str = "feeds") -> None:
    """An aggregator project for the corpus, and a template store with its sources."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "feeds").mkdir(parents=True)
    (folder / "config.toml").write_text(f"""\
[storage]
url = "sqlite:///var/aggregator.db"
[fetch]
allow_private = true
# every feed is on one host here: the per-host limit is the overall one
concurrency = {concurrency}
per_host_concurrency = {concurrency}
parse_processes = {json.dumps(processes)}
""", encoding="utf-8")
    write_sources(folder, ids, port, prefix)
    subprocess.run(aggregator(folder, "status"),
                   cwd=folder, check=True, stdout=subprocess.DEVNULL,
                   env=ENV)
    shutil.copy(folder / "var" / "aggregator.db", folder / "template.db")


def write_sources(folder: Path, ids: list[str], port: int, prefix: str) -> None:
    (folder / "feeds" / "bench.toml").write_text("".join(
        f'[[source]]\nid = "bench-{i}"\nurl = "http://127.0.0.1:{port}/{prefix}/{i}.xml"\n\n'
        for i in ids), encoding="utf-8")


def aggregator(project: Path, *args: str) -> list[str]:
    return [PY, "-m", "aggregator", "--config", str(project / "config.toml"), *args]


def build_reader(folder: Path, urls: list[str]) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    subprocess.run([PY, str(HERE / "reader_run.py"), str(folder / "template.db"), "--setup",
                    *urls], check=True)


def _fresh(template: Path, db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="the aggregator's [fetch] concurrency")
    parser.add_argument("--parse-processes", default="0,auto",
                        help="the aggregator's [fetch] parse_processes; several (0,auto): each "
                             "is a variant of its own")
    parser.add_argument("--reader-workers", default="1,4,16",
                        help="tried once each, cold; the fastest is used (one value: no trial)")
    parser.add_argument("--only", default="", help="comma-separated subset: "
                        "aggregator,reader,floor,unchanged,next")
    args = parser.parse_args()
    only = (set(args.only.split(",")) if args.only
            else {"aggregator", "reader", "floor", "unchanged", "next"})

    corpus = ensure(args.feeds, args.items)
    ids = [m["id"] for m in json.loads((corpus / "corpus.json").read_text())]
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=serve, args=(corpus, port, ready), daemon=True)
    server.start()
    ready.wait(60)
    urls = [f"http://127.0.0.1:{port}/feeds/{i}.xml" for i in ids]
    rdir = corpus / "reader"
    variants = [p if p == "auto" else int(p) for p in args.parse_processes.split(",")]
    results: dict[str, list[Sample]] = {}
    try:
        if "aggregator" in only:
            for p in variants:
                build_project(corpus / f"aggregator-p{p}", ids, port, args.concurrency, p)
        if "unchanged" in only:  # polled once, untimed: every later poll finds the same bodies
            for p in variants:
                project = corpus / f"aggregator-p{p}-plain"
                build_project(project, ids, port, args.concurrency, p, prefix="plain")
                subprocess.run(aggregator(project, "poll", "--all"), cwd=project, check=True,
                               stdout=subprocess.DEVNULL, env=ENV)
        if "next" in only:  # the store of one cold poll, then the feeds a poll later
            template = None
            for p in variants:
                project = corpus / f"aggregator-p{p}-next"
                build_project(project, ids, port, args.concurrency, p)
                if template is None:  # the store a cold poll leaves is the same for all
                    subprocess.run(aggregator(project, "poll", "--all"), cwd=project,
                                   check=True, stdout=subprocess.DEVNULL, env=ENV)
                    write_sources(project, ids, port, "next")  # same ids, next versions
                    subprocess.run(aggregator(project, "status"), cwd=project, check=True,
                                   stdout=subprocess.DEVNULL, env=ENV)
                    template = project / "template-next.db"
                    shutil.copy(project / "var" / "aggregator.db", template)
                else:
                    write_sources(project, ids, port, "next")
                    shutil.copy(template, project / "template-next.db")
        workers = [int(w) for w in args.reader_workers.split(",")]
        if "reader" in only:
            build_reader(rdir, urls)
            if len(workers) > 1:
                trial = {}
                for w in workers:
                    _fresh(rdir / "template.db", rdir / "reader.db")
                    s = timed([PY, str(HERE / "reader_run.py"), str(rdir / "reader.db"),
                               "--workers", str(w)], rdir)
                    trial[w] = s.wall
                    print(f"reader workers={w}: cold {s.wall:.2f} s ({s.output})", flush=True)
                workers = [min(trial, key=trial.__getitem__)]
        rcmd = [PY, str(HERE / "reader_run.py"), str(rdir / "reader.db"), "--workers",
                str(workers[0])]
        steps = []
        for p in variants if "aggregator" in only else []:
            project = corpus / f"aggregator-p{p}"
            agg = aggregator(project, "poll", "--all")
            steps += [(f"aggregator cold, parse_processes={p}",
                       lambda project=project: _fresh(project / "template.db",
                                                      project / "var" / "aggregator.db"),
                       agg, project),
                      (f"aggregator warm, parse_processes={p}", None, agg, project)]
        for p in variants if "unchanged" in only else []:
            project = corpus / f"aggregator-p{p}-plain"
            steps.append((f"aggregator unchanged (no validators), parse_processes={p}", None,
                          aggregator(project, "poll", "--all"), project))
        for p in variants if "next" in only else []:
            project = corpus / f"aggregator-p{p}-next"
            steps.append((f"aggregator one new item per feed, parse_processes={p}",
                          lambda project=project: _fresh(project / "template-next.db",
                                                         project / "var" / "aggregator.db"),
                          aggregator(project, "poll", "--all"), project))
        if "reader" in only:
            steps += [(f"reader cold (workers={workers[0]})",
                       lambda: _fresh(rdir / "template.db", rdir / "reader.db"), rcmd, rdir),
                      (f"reader warm (workers={workers[0]})", None, [*rcmd, "--warm"], rdir)]
        if "floor" in only:
            steps += [("floor: feedparser, 2 processes", None,
                       [PY, str(HERE / "floor.py"), str(corpus)], ROOT)]
        for run in range(args.runs):
            for name, before, cmd, cwd in steps:
                if before:
                    before()
                s = timed(cmd, cwd)
                results.setdefault(name, []).append(s)
                print(f"run {run + 1} {name}: {s.wall:.2f} s, CPU {s.cpu:.2f} s, "
                      f"peak RSS {s.rss_mb:.0f} MB (tree {s.tree_mb:.0f} MB) | {s.output}",
                      flush=True)
    finally:
        server.terminate()
    report(results, args, os.getloadavg())


def report(results: dict[str, list[Sample]], args: argparse.Namespace,
           load: tuple[float, float, float]) -> None:
    print(f"\n{args.feeds} feeds x {args.items} items, {args.runs} runs, "
          f"{os.cpu_count()} CPUs, load average at the end {load[0]:.1f}")
    print(f"{'':44} {'wall':>8} {'CPU':>8} {'peak RSS':>9} {'tree':>7}")
    for name, ss in results.items():
        print(f"{name:44} {statistics.median(s.wall for s in ss):7.2f}s "
              f"{statistics.median(s.cpu for s in ss):7.2f}s "
              f"{max(s.rss_mb for s in ss):6.0f} MB {max(s.tree_mb for s in ss):4.0f} MB")

    def ratio(a: str, b: str, target: float) -> None:
        kb = next((k for k in results if k.startswith(b)), None)
        for ka in [k for k in results if k.startswith(a)] if kb else []:
            ratio_of(ka, kb, target)

    def ratio_of(ka: str, kb: str, target: float) -> None:
        rs = [x.wall / y.wall for x, y in zip(results[ka], results[kb], strict=True)]
        med = statistics.median(rs)
        print(f"{ka} / {kb}: median {med:.2f}x (runs: "
              + ", ".join(f"{r:.2f}" for r in rs)
              + f"), target <= {target}x: {'met' if med <= target else 'MISSED'}")

    ratio("aggregator cold", "reader cold", 0.4)
    ratio("aggregator warm", "reader warm", 0.5)
    ratio("aggregator cold", "floor", 1.3)
    for name in [k for k in results if k.startswith("aggregator")]:
        peak = max(s.rss_mb for s in results[name])
        tree = max(s.tree_mb for s in results[name])
        print(f"{name}: peak RSS {peak:.0f} MB (tree {tree:.0f} MB), target <= 300 MB: "
              f"{'met' if peak <= 300 else 'MISSED'}")


if __name__ == "__main__":
    main()
