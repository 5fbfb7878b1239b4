"""``aggregator worker`` as a real process: it polls, publishes, sends the digest on its
schedule (shortened here to seconds), catches up after being down within the grace,
never twice, and exits 0 on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.service import Service

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def configure(project: Path, *, at: datetime | None = None, grace: str = "1h",
              extra: str = "") -> None:
    text = (project / "config.toml").read_text(encoding="utf-8")
    if at is not None:
        text = text.replace('# weekday = "monday"', f'weekday = "{WEEKDAYS[at.weekday()]}"')
        text = text.replace('# time = "08:00"', f'time = "{at.strftime("%H:%M:%S")}"')
    text = text.replace("[worker]\n", f'[worker]\ntick = "1s"\npublish_delay = "500ms"\n'
                        f'digest_grace = "{grace}"\n{extra}', 1)
    (project / "config.toml").write_text(text, encoding="utf-8")


class Worker:
    """A worker process whose log lines (stderr) are read as they come."""

    def __init__(self, project: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                                      str(project / "config.toml"), "worker", "--offline",
                                      "--log-format", "json", *args], cwd=project,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        _RUNNING.append(self)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def events(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in list(self.lines) if line.startswith("{")]

    def wait_started(self) -> None:
        """Until its "start" line: its signal handlers are in place (start-up can take
        seconds on a busy machine, and a signal before them would just kill it)."""
        wait_for(lambda: any(e["event"] == "start" for e in self.events())
                 or self.proc.poll() is not None, timeout=120)

    def stop(self, sig: int = signal.SIGTERM) -> list[dict[str, object]]:
        self.wait_started()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        assert self.proc.returncode == 0, "".join(self.lines)
        return self.events()


_RUNNING: list[Worker] = []


@pytest.fixture(autouse=True)
def _no_worker_left_behind() -> Iterator[None]:
    """A failed test must not leave its workers running (and polling) behind it."""
    yield
    while _RUNNING:
        worker = _RUNNING.pop()
        if worker.proc.poll() is None:
            worker.proc.kill()
            worker.proc.wait(timeout=30)


def start(project: Path, *args: str) -> Worker:
    return Worker(project, *args)


def stop(worker: Worker) -> list[dict[str, object]]:
    return worker.stop()


def wait_for(predicate, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def outbox(project: Path) -> list[Path]:
    folder = project / "var" / "outbox"
    return sorted(folder.glob("digest.*.eml")) if folder.is_dir() else []


def last_week_sent(project: Path) -> None:
    """A digest already went out last week: the next one waits for its schedule."""
    with Service.open(project / "config.toml") as svc:
        svc.digests.add("a@example.org", confirmed=True)
        svc.digests.add("b@example.org", confirmed=True)
        now = svc.clock()
        period = svc.digests.current_period()
        year, week = period.split("-W")
        previous = (datetime.fromisocalendar(int(year), int(week), 1) - timedelta(days=7))
        key = f"{previous.isocalendar()[0]}-W{previous.isocalendar()[1]:02d}"
        record, _ = svc.store.create_digest(key, now - timedelta(days=14),
                                            now - timedelta(days=7), {"period": key}, 0, now)
        svc.store.finish_digest(record.id, now)


def test_worker_polls_publishes_sends_the_first_digest_and_stops_on_sigterm(
        project: Path) -> None:
    configure(project)
    with Service.open(project / "config.toml") as svc:
        svc.digests.add("a@example.org", confirmed=True)
    proc = start(project)
    wait_for(lambda: (project / "output" / "feed.xml").is_file() and len(outbox(project)) == 1,
             timeout=60)
    events = stop(proc)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "stop"
    poll = next(e for e in events if e["event"] == "poll")
    assert poll["polled"] == 8 and poll["ok"] == 8 and poll["new"] == 105
    assert any(e["event"] == "publish" and e["written"] for e in events)
    digest = next(e for e in events if e["event"] == "digest")
    assert digest["outcome"] == "sent" and digest["sent"] == 1
    assert (project / "var" / f"jobs-{events[0]['worker']}.sqlite").is_file()


def test_the_digest_goes_out_on_its_schedule(project: Path) -> None:
    last_week_sent(project)
    at = (datetime.now(UTC) + timedelta(seconds=6)).replace(microsecond=0)
    configure(project, at=at)
    proc = start(project)
    time.sleep(2)
    assert outbox(project) == []  # polled and published, but not yet time
    wait_for(lambda: len(outbox(project)) == 2, timeout=40)
    assert datetime.now(UTC) >= at
    events = stop(proc)
    assert [e["outcome"] for e in events if e["event"] == "digest"] == ["sent"]


def test_a_worker_down_at_send_time_sends_once_when_back_within_the_grace(
        project: Path) -> None:
    last_week_sent(project)
    at = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    configure(project, at=at, grace="1h")
    first = start(project, "--name", "w1")
    time.sleep(2)
    stop(first)  # down before the digest's time
    wait_for(lambda: datetime.now(UTC) > at + timedelta(seconds=1))
    assert outbox(project) == []
    second = start(project, "--name", "w1")  # back, with its job store
    wait_for(lambda: len(outbox(project)) == 2, timeout=40)
    events = stop(second)
    assert [e["outcome"] for e in events if e["event"] == "digest"] == ["sent"]
    third = start(project, "--name", "w1")  # and again: nothing more
    time.sleep(3)
    stop(third)
    assert len(outbox(project)) == 2


def test_past_the_grace_the_missed_digest_waits_for_next_week(project: Path) -> None:
    last_week_sent(project)
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    configure(project, at=at, grace="1s")
    first = start(project, "--name", "w2")
    time.sleep(1.5)
    stop(first)
    wait_for(lambda: datetime.now(UTC) > at + timedelta(seconds=3))
    second = start(project, "--name", "w2")
    time.sleep(4)
    events = stop(second)
    assert outbox(project) == []
    assert not any(e["event"] == "digest" for e in events)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_either_signal_while_working(project: Path, sig: int) -> None:
    configure(project)
    worker = start(project)
    worker.wait_started()
    time.sleep(0.3)  # most likely in the middle of the first poll
    worker.stop(sig)
    with Service.open(project / "config.toml") as svc:
        # nothing left claimed: the next worker can take every source at once
        claimed = svc.store.claim_sources(datetime.now(UTC), "next", timedelta(minutes=1),
                                          due_only=False)
        assert len(claimed) == len(svc.list_sources()) == 8
