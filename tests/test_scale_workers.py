"""Many workers on PostgreSQL (issue 8): three ``aggregator worker`` processes share 300
sources on a local server that counts requests and 3,000 subscribers on a local SMTP
server. Every source is fetched once per cycle; every subscriber gets one digest, also
when one worker is SIGKILLed in the middle of sending.

The claims are ``SELECT ... FOR UPDATE SKIP LOCKED`` leases; the schedule and the
leases are shortened to seconds so the test fits CI's time.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from aggregator.store import Store
from aggregator.store.schema import subscribers
from tests.httpserver import HTTPTestServer, Reply, ServedRequest
from tests.smtpserver import SMTPServer

SOURCES = 300
SUBSCRIBERS = 3000
WORKERS = 3


def _feed(n: int) -> bytes:
    items = "".join(
        f"<item><title>Report {n}.{i} on migrant smuggling routes through Libya</title>"
        f"<link>http://news.example.org/{n}/{i}</link><guid>{n}-{i}</guid>"
        f"<pubDate>Fri, 27 Nov 2026 {i:02d}:00:00 GMT</pubDate>"
        f"<description>Source {n} item {i}: smugglers and prosecutors.</description></item>"
        for i in range(2))
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Source {n}</title><link>http://news.example.org/{n}</link>{items}"
            "</channel></rss>").encode()


def _project(tmp_path: Path, db_url: str, http: HTTPTestServer, smtp_port: int) -> Path:
    folder = tmp_path / "project"
    (folder / "feeds").mkdir(parents=True)
    lines = []
    for n in range(SOURCES):
        lines.append(f'[[source]]\nid = "s{n:03d}"\nurl = "{http.url(f"/feed/{n}.xml")}"\n'
                     'kind = "feed"\ninterval = "1h"\n')
    (folder / "feeds" / "many.toml").write_text("\n".join(lines), encoding="utf-8")
    (folder / "config.toml").write_text(f"""
[site]
url = "https://news.example.org/"
[storage]
url = "{db_url}"
[fetch]
allow_private = true
concurrency = 16
per_host_concurrency = 16
timeout = "10s"
[email]
transport = "smtp"
from = "Migrant smuggling news <digest@news.example.org>"
[email.smtp]
host = "127.0.0.1"
port = {smtp_port}
timeout = "10s"
retry_delay = "10ms"
[digest]
lease = "2s"
max_stories = 10
[worker]
tick = "1s"
publish_delay = "1s"
""", encoding="utf-8")
    return folder


def _spawn(folder: Path, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                             str(folder / "config.toml"), "worker", "--name", name,
                             "--log-format", "json"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.postgres
@pytest.mark.slow
def test_three_workers_share_sources_and_subscribers_exactly_once(tmp_path: Path,
                                                                  pg_url: str) -> None:
    hits: Counter[str] = Counter()

    def serve(request: ServedRequest) -> Reply:
        hits[request.path] += 1
        n = int(request.path.rsplit("/", 1)[1].split(".")[0])
        return Reply(200, {"Content-Type": "application/rss+xml; charset=utf-8"}, _feed(n))

    with HTTPTestServer() as http, SMTPServer() as smtp:
        for n in range(SOURCES):
            http.route(f"/feed/{n}.xml", serve)
        folder = _project(tmp_path, pg_url, http, smtp.port)
        store = Store.open(pg_url)  # migrate once, and add the subscribers in bulk
        now = datetime.now(UTC)
        with store.engine.begin() as conn:
            conn.execute(subscribers.insert(), [
                {"email": f"r{i:05d}@example.org", "email_key": f"r{i:05d}@example.org",
                 "status": "active", "tags": [], "created_at": now, "updated_at": now,
                 "confirmed_at": now, "origin": "test"} for i in range(SUBSCRIBERS)])
        workers = [_spawn(folder, f"w{i}") for i in range(WORKERS)]
        try:
            # one worker dies in the middle of the digest
            deadline = time.monotonic() + 120
            while len(smtp.recorder.messages()) < SUBSCRIBERS // 5 or len(hits) < SOURCES:
                assert time.monotonic() < deadline, "the digest never started"
                assert all(w.poll() is None for w in workers), "a worker died"
                time.sleep(0.05)
            workers[0].send_signal(signal.SIGKILL)
            workers[0].wait(10)

            def settled() -> bool:
                with store.engine.connect() as conn:
                    row = conn.execute(sa.text(
                        "SELECT count(*) FILTER (WHERE status IN "
                        "('pending', 'claimed', 'sending')), count(*) FROM deliveries")).one()
                return row[1] == SUBSCRIBERS and row[0] == 0

            deadline = time.monotonic() + 180
            while not settled():
                assert time.monotonic() < deadline, "the digest never finished"
                time.sleep(0.5)
        finally:
            for w in workers[1:]:
                w.send_signal(signal.SIGTERM)
            logs = []
            for w in workers[1:]:
                _out, err = w.communicate(timeout=120)
                assert w.returncode == 0, err[-2000:]
                logs += [json.loads(line) for line in err.splitlines() if line.startswith("{")]

        # every source fetched once: no two workers polled the same one
        assert len(hits) == SOURCES and set(hits.values()) == {1}, \
            {p: n for p, n in hits.items() if n != 1}
        with store.engine.connect() as conn:
            states = dict(conn.execute(sa.text(
                "SELECT status, count(*) FROM deliveries GROUP BY status")).all())
            unknown = set(conn.execute(sa.text(
                "SELECT s.email FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id "
                "WHERE d.status = 'unknown'")).scalars())
            digests = conn.execute(sa.text("SELECT count(*) FROM digests")).scalar()
        store.close()
        received = smtp.recorder.per_recipient()
        assert digests == 1
        # nobody got two; everybody got one, except a message the killed worker was
        # handing over (its fate unknown: reported, never sent twice)
        assert max(received.values()) == 1
        missing = {f"r{i:05d}@example.org" for i in range(SUBSCRIBERS)} - set(received)
        assert missing <= unknown and len(unknown) <= 2, (missing, unknown)
        assert states.get("sent", 0) + states.get("unknown", 0) == SUBSCRIBERS
        assert sum(1 for e in logs if e["event"] == "poll") >= 1
