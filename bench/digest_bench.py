"""Sending one digest to many subscribers through a local SMTP server.

Builds a project in ``bench/results/digest-<N>/`` (the shipped snapshots polled
offline, N confirmed subscribers, one in ten with a topic filter), starts an
aiosmtpd sink in a process of its own (so it does not share our interpreter),
and times ``aggregator digest send`` as a whole process: wall time, peak RSS
(from the kernel's accounting of the child), messages the server accepted.

    .venv/bin/python bench/digest_bench.py --subscribers 10000

Target (issue 5): 10,000 subscribers in <= 60 s and <= 250 MB on 2 cores.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sink(port: int, ready: Any, count: Any) -> None:
    from aiosmtpd.controller import Controller

    class Sink:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            with count.get_lock():
                count.value += 1
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_project(folder: Path, n: int, port: int) -> None:
    from aggregator.service import Service

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copytree(ROOT / "feeds", folder / "feeds")
    (folder / "config.toml").write_text(f"""
[site]
url = "https://news.example.org/"
[email]
transport = "smtp"
from = "Migrant smuggling news <digest@news.example.org>"
[email.smtp]
host = "127.0.0.1"
port = {port}
connections = {os.environ.get("BENCH_CONNECTIONS", "2")}
[digest]
sections = ["enforcement", "legislation", "training", "publication", "meeting",
            "human-trafficking", "migrant-smuggling"]
""", encoding="utf-8")
    with Service.open(folder / "config.toml") as service:
        service.poll(all_sources=True, offline=True)
        filters = ["country:ly", "enforcement", "country:eg,country:tn", "training"]
        from aggregator.store.schema import subscribers

        now = service.clock()
        rows = [{"email": f"reader{i:06d}@example.org", "email_key": f"reader{i:06d}@example.org",
                 "status": "active", "tags": filters[(i // 10) % len(filters)].split(",") if i % 10 == 9 else [],
                 "created_at": now, "updated_at": now, "confirmed_at": now, "origin": "bench"}
                for i in range(n)]
        with service.store.engine.begin() as conn:  # bulk: `subscribers import` is per row
            conn.execute(subscribers.insert(), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=10_000)
    args = parser.parse_args()
    port = _free_port()
    folder = ROOT / "bench" / "results" / f"digest-{args.subscribers}"
    # "spawn", never fork: a forked child starts with the parent's memory, and the peak
    # RSS the kernel reports for the sender would include it
    ctx = multiprocessing.get_context("spawn")
    t0 = time.perf_counter()
    builder = ctx.Process(target=build_project, args=(folder, args.subscribers, port))
    builder.start()
    builder.join()
    print(f"project with {args.subscribers:,} subscribers built in "
          f"{time.perf_counter() - t0:.1f} s")

    ready = ctx.Event()
    count = ctx.Value("i", 0)
    sink = ctx.Process(target=_sink, args=(port, ready, count), daemon=True)
    sink.start()
    ready.wait(30)
    try:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                                 str(folder / "config.toml"), "digest", "send"], cwd=folder,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.stdout is not None
        output = proc.stdout.read().decode()
        # the rusage of this child alone (the sink is a child too)
        _pid, _status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    finally:
        sink.terminate()
    print(output.strip())
    print(f"digest send: {wall:.1f} s wall, {args.subscribers / wall:,.0f} messages/s, "
          f"peak RSS {usage.ru_maxrss / 1024:.0f} MB, CPU {usage.ru_utime + usage.ru_stime:.1f} s, "
          f"server accepted {count.value:,}")


if __name__ == "__main__":
    main()
