"""A publish killed at any moment leaves every output file complete, old or new.

Kill points are chosen by a seeded generator (the seed is printed, and
``AGGREGATOR_CRASH_SEED`` replays a run); each iteration removes some outputs so
that the publish has files to write when the kill lands.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
from lxml import etree, html

SEED = int(os.environ.get("AGGREGATOR_CRASH_SEED", "20261128"))
ITERATIONS = 8


def _publish(project: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                             str(project / "config.toml"), "publish"], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _complete(path: Path) -> None:
    data = path.read_bytes()
    assert data, f"{path} is empty"
    if path.suffix in (".xml", ".atom"):
        etree.fromstring(data)
        assert not feedparser.parse(data).bozo, path
    elif path.suffix == ".json":
        json.loads(data)
    elif path.suffix == ".html":
        assert data.rstrip().endswith(b"</html>"), path
        html.fromstring(data)
    elif path.suffix == ".ics":
        assert data.rstrip().endswith(b"END:VCALENDAR"), path
    elif path.suffix == ".opml":
        etree.fromstring(data)


def test_killed_publishes_leave_complete_files(project: Path) -> None:
    subprocess.run([sys.executable, "-m", "aggregator", "--config", str(project / "config.toml"),
                    "run", "--once", "--offline"], cwd=project, check=True,
                   capture_output=True, timeout=300)
    out = project / "output"
    reference = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    started = time.monotonic()
    # --force: a publish with nothing changed is skipped, and that would time nothing
    subprocess.run([sys.executable, "-m", "aggregator", "--config", str(project / "config.toml"),
                    "publish", "--force"], cwd=project, check=True, capture_output=True,
                   timeout=300)
    duration = time.monotonic() - started
    rng = random.Random(SEED)
    print(f"crash seed {SEED}, publish takes {duration:.2f} s")
    killed = 0
    for _ in range(ITERATIONS):
        files = sorted(p for p in out.rglob("*") if p.is_file())
        for path in rng.sample(files, len(files) // 2):
            path.unlink()  # give the publish something to write
        process = _publish(project)
        time.sleep(rng.uniform(0.05, duration))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait(timeout=60)
        for path in out.rglob("*"):
            if path.is_file() and not path.name.endswith(".tmp"):
                _complete(path)  # old or new, never half
    assert killed >= ITERATIONS // 2, "the kills came too late to test anything"
    subprocess.run([sys.executable, "-m", "aggregator", "--config", str(project / "config.toml"),
                    "publish"], cwd=project, check=True, capture_output=True, timeout=300)
    final = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert not [p for p in final if p.name.endswith(".tmp")], "leftovers were not removed"
    assert final == reference  # the rerun finished the work, byte for byte
