"""Processes killed at any moment: the store stays consistent, every output file is
complete (old or new), no subscriber gets a digest twice, and a rerun finishes the work.

``publish``, ``poll`` and ``digest send`` run as real processes and are SIGKILLed
after random delays drawn by a seeded generator (the seed is printed, and
``AGGREGATOR_CRASH_SEED`` replays a run's choices; the processes' own timing still
varies). Most of a short process's life is the interpreter starting, so a kill point
is a *window* of a clean run's timeline, taken in turn, and a random delay within
it: counted from the start ("anywhere"), or from the moment the work becomes visible
(the schema made, the first copy stored, the first message at the SMTP server), so
that the kills land inside the work even when the machine is slower than it was
for the clean run. Each kill is printed with its window and delay.

After every kill :func:`check_store` opens the store (migrations included) and
checks that it holds together; then a rerun must finish the work.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
import sqlalchemy as sa
from lxml import etree, html

from aggregator.models import SourceStatus
from aggregator.service import Service
from aggregator.store import Store
from aggregator.store.engine import database_url
from aggregator.store.schema import (
    copies,
    deliveries,
    digests,
    sources,
    stories,
    story_tags,
    subscribers,
)
from aggregator.store.stories import StoriesMixin
from tests.smtpserver import Recorder, SMTPServer

SEED = int(os.environ.get("AGGREGATOR_CRASH_SEED", "20261128"))
#: killed publishes
ITERATIONS = 8
#: killed polls and digest sends (each followed by a rerun), by database: PostgreSQL
#: gets the same kills, fewer of them (the suite's time is counted)
KILLS = {"sqlite": 6, "postgresql": 3}
#: what a poll leases its sources for with the default [fetch] timeout (the pipeline
#: takes max(5 min, 8 × timeout)): a dead poller's sources wait that long, no longer
POLL_LEASE = timedelta(minutes=5)
#: [digest] lease in these tests: a rerun takes a dead sender's claims over after this
DIGEST_LEASE = 1.0
SUBSCRIBERS = 40

#: a window of kill points: its name, the event it starts at (None: the start), and
#: how long it lasts (the delay is drawn within it)
Window = tuple[str, Callable[[], bool] | None, float]


# -- processes and kill points ----------------------------------------------------------------


def _args(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "aggregator", "--config", str(project / "config.toml"), *args]


def _spawn(project: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_args(project, *args), cwd=project, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(_args(project, *args), cwd=project, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def _finished(process: subprocess.Popen[bytes]) -> bool:
    assert process.stderr is not None
    assert process.wait() == 0, process.stderr.read().decode()
    return False


def _kill_after(process: subprocess.Popen[bytes], delay: float,
                event: Callable[[], bool] | None = None) -> bool:
    """SIGKILL ``process`` ``delay`` seconds after ``event()`` first holds (or after now).

    False if the process finished first (successfully: that is checked).
    """
    deadline = time.monotonic() + 120
    while event is not None and not event():
        if process.poll() is not None:
            return _finished(process)
        assert time.monotonic() < deadline, "the process neither got there nor finished"
        time.sleep(0.005)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        return True
    return _finished(process)


def _kill(process: subprocess.Popen[bytes], rng: random.Random, iteration: int,
          windows: list[Window]) -> tuple[bool, str]:
    """Kill at a random point of the next window; (whether it was killed, what was done)."""
    name, event, length = windows[iteration % len(windows)]
    delay = rng.uniform(0, max(length, 0.01))
    killed = _kill_after(process, delay, event)
    return killed, (f"killed {delay:.2f} s after {name}" if killed
                    else f"not killed: it finished first (meant {delay:.2f} s after {name})")


def _kills(db_url: str) -> int:
    return KILLS[database_url(db_url).get_backend_name()]


# -- the store after a kill ----------------------------------------------------------------------


def check_store(url: str) -> None:
    """The store a killed process left opens, and everything in it holds together."""
    now = datetime.now(UTC)
    with Store.open(url) as store, store.engine.connect() as conn:  # migrations run here
        if store.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        all_stories = {r.id: r for r in conn.execute(sa.select(stories))}
        members: dict[str, set[str]] = {}
        for cid, sid in conn.execute(sa.select(copies.c.id, copies.c.story_id)):
            assert sid in all_stories, f"copy {cid} of a story that does not exist"
            members.setdefault(sid, set()).add(cid)
        live = sorted(sid for sid, s in all_stories.items() if s.merged_into is None)
        for sid, s in all_stories.items():
            if s.merged_into is None:
                assert members.get(sid), f"story {sid} has no copies"
                assert s.representative_copy_id in members[sid], sid
            else:
                assert not members.get(sid) and s.merged_into in all_stories, sid
        # story_tags is an index kept in step with the copies, in the same transaction
        expected = StoriesMixin._tags_from_copies(conn, live)
        indexed: dict[str, set[str]] = {}
        copied = ("published_at", "first_seen_at", "hidden", "revision", "updated_at")
        for row in conn.execute(sa.select(story_tags)):
            story = all_stories[row.story_id]
            assert story.merged_into is None, f"merged story {row.story_id} has tags"
            indexed.setdefault(row.story_id, set()).add(row.tag)
            assert [getattr(row, c) for c in copied] == [getattr(story, c) for c in copied], \
                row.story_id
        assert indexed == {sid: tags for sid, tags in expected.items() if tags}
        # leases end: nothing a dead process claimed is held longer than its term
        for src in conn.execute(sa.select(sources)):
            if src.lease_until is not None:
                assert src.lease_owner and src.lease_until <= now + POLL_LEASE, src.id
        for d in conn.execute(sa.select(deliveries)):
            assert d.status in ("pending", "claimed", "sending", "sent", "unknown", "skipped",
                                "failed"), d.status
            if d.status in ("claimed", "sending"):
                assert d.lease_owner and \
                    d.lease_until <= now + timedelta(seconds=DIGEST_LEASE), d
            if d.status == "sent":
                assert d.sent_at is not None and d.message_id, d
        for record in conn.execute(sa.select(digests)):
            if record.status == "sent":
                still_open = conn.execute(
                    sa.select(sa.func.count()).select_from(deliveries)
                    .where(deliveries.c.digest_id == record.id,
                           deliveries.c.status.in_(("pending", "claimed", "sending")))).scalar()
                assert still_open == 0, f"digest {record.period} is sent with deliveries open"


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(database_url(url))


def _rows(url: str, query: sa.Select[Any]) -> list[Any]:
    engine = _engine(url)
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    engine.dispose()
    return rows


def _empty(url: str) -> None:
    """Start from no database at all (SQLite: no file; PostgreSQL: an empty schema)."""
    if url.startswith("sqlite"):
        path = str(database_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    engine = _engine(url)
    with engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()


class Watcher:
    """How far a poll got (the schema made, copies stored), read without creating
    anything: SQLite read-only, PostgreSQL through one pool for all the reads."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = None if url.startswith("sqlite") else _engine(url)

    def copies(self) -> int | None:
        """Copies stored; None while there is no schema."""
        try:
            if self.engine is None:
                path = database_url(self.url).database
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05) as conn:
                    return int(conn.execute("SELECT count(*) FROM copies").fetchone()[0])
            with self.engine.connect() as c:
                return int(c.execute(sa.text("SELECT count(*) FROM copies")).scalar() or 0)
        except (sqlite3.Error, sa.exc.DBAPIError):
            return None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _configure(project: Path, **sections: str) -> None:
    """Add keys at the top of sections of the project's config (the shipped one)."""
    path = project / "config.toml"
    text = path.read_text()
    for section, keys in sections.items():
        header = f"[{section.replace('_', '.')}]\n"
        assert header in text, header
        text = text.replace(header, header + keys, 1)
    path.write_text(text)


# -- outputs -----------------------------------------------------------------------------------


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


def _check_outputs(out: Path) -> None:
    for path in out.rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            _complete(path)  # old or new, never half


def _files(out: Path) -> dict[Path, bytes]:
    return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}


# -- publish -----------------------------------------------------------------------------------


def _edit(store: Store, rng: random.Random) -> str:
    """One editor's action, so that the next publish has new content to write."""
    now = datetime.now(UTC)
    visible = store.list_stories()
    hidden = [s for s in store.list_stories(include_hidden=True) if s.hidden]
    pinned = [s for s in visible if s.pinned]
    action = rng.choice(["hide", "pin", "unpin", "unhide"])
    if action == "unhide" and hidden:
        store.set_hidden(rng.choice(hidden).id, False, now)
    elif action == "unpin" and pinned:
        store.unpin(rng.choice(pinned).id, now)
    elif action == "hide":
        store.set_hidden(rng.choice(visible).id, True, now)
    else:
        action = "pin"
        store.pin(rng.choice(visible).id, now, note="crash test")
    return action


def test_killed_publishes_leave_complete_files(project: Path) -> None:
    url = f"sqlite:///{project / 'var' / 'aggregator.db'}"
    _run(project, "run", "--once", "--offline")
    out = project / "output"
    started = time.monotonic()
    # --force: a publish with nothing changed is skipped, and that would time nothing
    _run(project, "publish", "--force")
    duration = time.monotonic() - started
    rng = random.Random(SEED)
    print(f"crash seed {SEED}, publish takes {duration:.2f} s")
    killed = 0
    for i in range(ITERATIONS):
        files = sorted(p for p in out.rglob("*") if p.is_file())
        for path in rng.sample(files, len(files) // 2):
            path.unlink()  # give the publish something to write
        with Store.open(url) as store:  # and something new to write
            action = _edit(store, rng)
        process = _spawn(project, "publish")
        was_killed, what = _kill(process, rng, i, [("the start", None, duration)])
        killed += was_killed
        print(f"publish {i}: {action}, {what}")
        _check_outputs(out)
        check_store(url)
    assert killed >= ITERATIONS // 2, "the kills came too late to test anything"
    _run(project, "publish")
    final = _files(out)
    assert not [p for p in final if p.name.endswith(".tmp")], "leftovers were not removed"
    # the rerun finished the work: the files it kept from killed publishes are what a
    # publish that renders everything again writes, byte for byte
    _run(project, "publish", "--force")
    assert _files(out) == final


# -- poll ----------------------------------------------------------------------------------------


def _stored(url: str) -> tuple[set[frozenset[str]], Counter[str]]:
    """The copies grouped into stories (story ids follow the order of ingest; the
    grouping does not), and the copies per source."""
    rows = _rows(url, sa.select(copies.c.story_id, copies.c.source_id, copies.c.guid))
    groups: dict[str, set[str]] = {}
    for sid, source, guid in rows:
        groups.setdefault(sid, set()).add(f"{source}/{guid}")
    return {frozenset(g) for g in groups.values()}, Counter(source for _, source, _ in rows)


def _poll_windows(project: Path, watcher: Watcher) -> list[Window]:
    """Run a clean poll, watching the store: when the schema appears, when the first and
    the last copy are stored, when the process ends. Returns the kill windows."""
    started = time.monotonic()
    process = _spawn(project, "poll", "--all", "--offline")
    schema = first = last = None
    seen = 0
    while process.poll() is None:
        count = watcher.copies()
        now = time.monotonic() - started
        if count is not None and schema is None:
            schema = now
        if count and count > seen:
            first, last, seen = first or now, now, count
        time.sleep(0.005)
    assert process.returncode == 0
    end = time.monotonic() - started
    schema, first, last = schema or end, first or end, last or end
    print(f"a clean poll: schema at {schema:.2f} s, copies stored from {first:.2f} s "
          f"to {last:.2f} s, done at {end:.2f} s")
    return [("the first copy was stored", lambda: bool(watcher.copies()), last - first),
            ("the schema was made", lambda: watcher.copies() is not None, first - schema),
            ("the first copy was stored", lambda: bool(watcher.copies()), last - first),
            ("the start", None, end)]


def _clock_from(start: datetime) -> Callable[[], datetime]:
    """A clock that runs from ``start``: a rerun's view of a later time."""
    origin = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - origin)


def test_killed_polls_leave_a_consistent_store(project: Path, db_url: str) -> None:
    url = db_url
    _configure(project, storage=f'url = "{url}"\n')
    rng = random.Random(SEED)
    print(f"crash seed {SEED}")
    watcher = Watcher(url)
    windows = _poll_windows(project, watcher)
    check_store(url)
    clean, per_source = _stored(url)
    total = sum(per_source.values())
    inside = 0
    for i in range(_kills(url)):
        _empty(url)
        killed, what = _kill(_spawn(project, "poll", "--all", "--offline"), rng, i, windows)
        check_store(url)
        stored = watcher.copies() or 0
        inside += killed and 0 < stored < total
        leases = [u for (u,) in _rows(url, sa.select(sources.c.lease_until)) if u is not None] \
            if watcher.copies() is not None else []
        # the next poll, once the dead poller's leases have run out (they end within
        # POLL_LEASE: checked above): the clock is moved on rather than waited for.
        # Sources the killed poll finished are not due yet; it polls the others.
        later = _clock_from(max([*leases, datetime.now(UTC)]) + timedelta(seconds=1))
        with Service.open(project / "config.toml", clock=later) as service:
            report = service.poll(offline=True)
            after = {s.id: s.status for s in service.store.list_sources()}
        assert [o.error for o in report.outcomes if o.status is not SourceStatus.OK] == []
        assert after == dict.fromkeys(per_source, SourceStatus.OK)
        check_store(url)
        grouped, counted = _stored(url)
        assert counted == per_source
        assert grouped == clean, (sorted(map(sorted, clean - grouped)),
                                  sorted(map(sorted, grouped - clean)))
        print(f"poll {i}: {what}: {stored} of {total} copies stored, {len(leases)} sources "
              f"left leased; the next poll polled {len(report.outcomes)} and stored the rest")
    watcher.close()
    assert inside >= 1, "no kill landed while the poll was storing items"


# -- digest send ------------------------------------------------------------------------------


class SlowRecorder(Recorder):
    """Answers each message a moment after taking it, as a busy server does: a kill
    then often lands while the server holds a message (its fate is unknown)."""

    pause = 0.02

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        await asyncio.sleep(self.pause)
        return reply


@pytest.fixture
def slow_smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.recorder = server.controller.handler = SlowRecorder()
    with server:
        yield server


def _received(smtp: SMTPServer) -> Counter[tuple[str, str]]:
    """Messages the server took, by (period, recipient)."""
    counts: Counter[tuple[str, str]] = Counter()
    for m in smtp.recorder.messages():
        period = str(m.message["Message-ID"]).split(".")[1]  # <digest.2026-W02.17@host>
        counts.update((period, r.lower()) for r in m.rcpt_tos)
    return counts


def _assert_never_twice(smtp: SMTPServer) -> None:
    twice = {k: n for k, n in _received(smtp).items() if n > 1}
    assert not twice, f"received twice: {twice}"


def _deliveries(url: str, period: str) -> dict[str, str]:
    query = (sa.select(subscribers.c.email, deliveries.c.status)
             .join(digests, digests.c.id == deliveries.c.digest_id)
             .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
             .where(digests.c.period == period))
    return {email.lower(): status for email, status in _rows(url, query)}


def _send_timeline(project: Path, smtp: SMTPServer, period: str) -> tuple[float, float, float]:
    """Run a clean send, watching the server: when the first and the last message
    arrive, when the process ends."""
    started = time.monotonic()
    process = _spawn(project, "digest", "send", "--period", period)
    first = last = None
    seen = 0
    while process.poll() is None:
        count = len(smtp.recorder.received)
        if count > seen:
            now = time.monotonic() - started
            first, last, seen = first or now, now, count
        time.sleep(0.005)
    assert process.returncode == 0
    end = time.monotonic() - started
    first, last = first or end, last or end
    print(f"a clean send: messages from {first:.2f} s to {last:.2f} s, done at {end:.2f} s")
    return first, last, end


def _period(n: int) -> str:
    return f"2026-W{n:02d}"


def test_killed_digest_sends_never_send_twice(project: Path, db_url: str,
                                              slow_smtp: SMTPServer) -> None:
    smtp, url = slow_smtp, db_url
    _configure(project, storage=f'url = "{url}"\n',
               digest=f'lease = "{DIGEST_LEASE}s"\nsend_empty = true\n',
               email='transport = "smtp"\n'
                     'from = "Migrant smuggling news <digest@news.example.org>"\n',
               email_smtp=f'host = "127.0.0.1"\nport = {smtp.port}\ntimeout = "10s"\n'
                          'retry_delay = "10ms"\nconnections = 2\n')
    everyone = [f"reader{i:03d}@example.org" for i in range(SUBSCRIBERS)]
    with Service.open(project / "config.toml") as service:
        service.poll(all_sources=True, offline=True)
        for i, address in enumerate(everyone):
            service.digests.add(address, tags="country:ly" if i % 10 == 9 else "",
                                confirmed=True)
    rng = random.Random(SEED)
    print(f"crash seed {SEED}")
    first, last, end = _send_timeline(project, smtp, _period(1))
    assert _received(smtp) == Counter((_period(1), a) for a in everyone)
    number, unfinished, inside = 2, set(), 0
    for i in range(_kills(url)):
        period = _period(number)
        unfinished.add(period)
        before = len(smtp.recorder.received)

        def arrived(before: int = before) -> bool:
            return len(smtp.recorder.received) > before

        windows: list[Window] = [("the first message arrived", arrived, last - first),
                                 ("the start", None, end),
                                 ("the first message arrived", arrived, last - first)]
        process = _spawn(project, "digest", "send", "--period", period)
        killed, what = _kill(process, rng, i, windows)
        _assert_never_twice(smtp)
        check_store(url)
        states = Counter(_deliveries(url, period).values())
        taken = sum(n for (p, _), n in _received(smtp).items() if p == period)
        inside += killed and 0 < taken < SUBSCRIBERS
        print(f"send {i} ({period}): {what}: {taken} received in all, {dict(states)}")
        # the next sender resumes this digest (after a pause: the dead one's claims may
        # still be held, or have run out) or goes on to another and leaves this one
        if states == {"sent": SUBSCRIBERS} or rng.random() < 0.5:
            number += 1
        else:
            time.sleep(rng.uniform(0, 1.5 * DIGEST_LEASE))
    assert inside >= 1, "no kill landed while messages were being sent"
    time.sleep(DIGEST_LEASE + 0.2)  # every dead sender's claims run out
    with Service.open(project / "config.toml") as service:
        for period in sorted(unfinished):
            report = service.digests.send(period)
            assert report.outcome in ("sent", "already-sent"), report
            status = service.digests.status(period)
            assert status.record is not None and status.record.status == "sent"
            assert sum(status.counts.values()) == SUBSCRIBERS
            assert set(status.counts) <= {"sent", "unknown"}, status.counts
            assert len(status.unknown) == status.counts.get("unknown", 0)
    _assert_never_twice(smtp)
    check_store(url)
    received = _received(smtp)
    for period in sorted(unfinished):
        final = _deliveries(url, period)
        assert sorted(final) == everyone
        for address, state in final.items():
            got = received[(period, address)]
            # sent: received once; unknown: the kill came while the server had it,
            # received once or not at all, and never sent again
            assert (state, got) in (("sent", 1), ("unknown", 1), ("unknown", 0)), \
                (period, address, state, got)
    _check_outputs(project / "output")  # the digests' public pages
