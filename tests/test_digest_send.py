"""Sending digests through a real SMTP server (aiosmtpd on 127.0.0.1), exactly once.

Real processes are killed where a crash hurts most: before a message is handed over
(it must be sent on the rerun) and while the server holds it (its fate is unknown:
reported, never sent twice).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import html as lxml_html

from aggregator.errors import MailError
from aggregator.service import Service
from tests.smtpserver import SMTPServer

N = 50
LEASE = 1.5


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def write_config(folder: Path, db_url: str, port: int, extra: str = "",
                 connections: int = 2) -> Path:
    """A project config sending through the test server (only sections we need)."""
    (folder / "config.toml").write_text(f"""
[site]
url = "https://news.example.org/"
[storage]
url = "{db_url}"
[email]
transport = "smtp"
from = "Migrant smuggling news <digest@news.example.org>"
[email.smtp]
host = "127.0.0.1"
port = {port}
timeout = "10s"
retry_delay = "10ms"
connections = {connections}
[digest]
lease = "{LEASE}s"
sections = ["enforcement", "training", "meeting", "migrant-smuggling"]
{extra}
""", encoding="utf-8")
    return folder / "config.toml"


@pytest.fixture
def make_project(project: Path, db_url: str, smtp: SMTPServer):
    """A project with the snapshots polled in, and ``n`` confirmed subscribers."""
    def make(n: int = N, extra: str = "", poll: bool = True, connections: int = 2) -> Path:
        write_config(project, db_url, smtp.port, extra, connections)
        with Service.open(project / "config.toml") as service:
            if poll:
                service.poll(all_sources=True, offline=True)
            for i in range(n):
                tags = "country:ly" if i % 10 == 9 else ""
                service.digests.add(f"reader{i:03d}@example.org", tags=tags, confirmed=True)
        return project
    return make


def cli(project: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", "--config",
                           str(project / "config.toml"), *args], cwd=project,
                          capture_output=True, text=True, timeout=timeout)


def spawn(project: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                             str(project / "config.toml"), *args], cwd=project,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def assert_once_each(smtp: SMTPServer, n: int = N) -> None:
    counts = smtp.recorder.per_recipient()
    assert sorted(counts) == [f"reader{i:03d}@example.org" for i in range(n)]
    assert set(counts.values()) == {1}, {a: c for a, c in counts.items() if c != 1}


# -- delivery -------------------------------------------------------------------------


def test_a_digest_reaches_every_subscriber_exactly_once(make_project, smtp: SMTPServer) -> None:
    project = make_project()
    with Service.open(project / "config.toml") as service:
        report = service.digests.send()
        assert report.outcome == "sent" and report.sent == N
        assert service.digests.send().outcome == "already-sent"
        assert service.digests.status().counts == {"sent": N}
    assert_once_each(smtp)
    # [email.smtp] connections (2 by default), each reused for many messages
    assert smtp.recorder.connections == 2


def test_one_connection_when_configured(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=5, connections=1)
    with Service.open(project / "config.toml") as service:
        assert service.digests.send().sent == 5
    assert smtp.recorder.connections == 1
    assert_once_each(smtp, 5)


def test_messages_are_well_formed(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=3)
    with Service.open(project / "config.toml") as service:
        service.digests.send()
    for received in smtp.recorder.messages():
        data = received.data
        assert max(data) < 128, "raw 8-bit bytes in the message"
        assert all(len(line) <= 998 for line in data.split(b"\r\n"))
        msg = received.message
        assert not msg.defects
        for part in msg.walk():
            assert not part.defects, part.defects
        for name in ("From", "To", "Date", "Message-ID", "Subject", "List-Id",
                     "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert msg[name], name
        assert msg["To"] == received.rcpt_tos[0]
        assert re.fullmatch(r"<digest\.2\d{3}-W\d{2}\.\d+@news\.example\.org>", msg["Message-ID"])
        assert msg["List-Id"] == "Migrant smuggling digest <digest.news.example.org>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        links = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert [urlsplit(u).scheme for u in links] == ["https", "mailto"]
        assert re.match(r"Migrant smuggling digest — week \d+, \d{4}: \d+ new stor",
                        msg["Subject"])
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        text, page = parts[0].get_content(), parts[1].get_content()
        hrefs = lxml_html.fromstring(page).xpath("//a/@href")
        assert hrefs and all(urlsplit(h).scheme in ("http", "https") for h in hrefs), hrefs
        assert links[0] in hrefs  # the unsubscribe link of the page is the header's
        for url in re.findall(r"(?m)^\s*(\S+://\S+)$", text):
            assert urlsplit(url).scheme in ("http", "https")
        assert links[0] in text
        assert "<style" not in page.split("</head>")[1]  # CSS inlined into the body
        assert 'style="' in page


def test_filters_are_respected(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=10)  # reader009 takes only country:ly
    with Service.open(project / "config.toml") as service:
        service.digests.send()
        content = service.store.get_digest(service.digests.current_period()).content
    meetings = {e["url"] for e in content["meetings"]}  # upcoming meetings go to everyone
    libya = {e["url"] for e in content["stories"] if "country:ly" in e["tags"]} - meetings
    everyone = {e["url"] for e in content["stories"]} - meetings
    assert libya and libya != everyone
    by_rcpt = {m.rcpt_tos[0]: m.message for m in smtp.recorder.messages()}
    filtered = by_rcpt["reader009@example.org"]
    from html import unescape

    html_part = unescape(filtered.get_body(("html",)).get_content())
    shown = {u for u in everyone if u in html_part}
    assert shown == libya
    assert f": {len(libya)} new stor" in filtered["Subject"]
    full = unescape(by_rcpt["reader000@example.org"].get_body(("html",)).get_content())
    assert {u for u in everyone if u in full} == everyone


def test_one_click_unsubscribe_and_the_next_digest_skips_them(make_project,
                                                              smtp: SMTPServer) -> None:
    from aggregator.web import create_app

    project = make_project(n=3, extra="send_empty = true")
    with Service.open(project / "config.toml") as service:
        service.digests.send()
        msg = next(m.message for m in smtp.recorder.messages()
                   if m.rcpt_tos == ["reader001@example.org"])
        url = re.findall(r"<(https[^>]+)>", msg["List-Unsubscribe"])[0]
        client = create_app(service.config).test_client()
        parts = urlsplit(url)
        response = client.post(f"{parts.path}?{parts.query}",
                               data="List-Unsubscribe=One-Click",
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200
        assert service.store.get_subscriber("reader001@example.org").status == "unsubscribed"
        # a forged or altered token does nothing
        bad = client.post(f"{parts.path}?{parts.query}x", data="List-Unsubscribe=One-Click")
        assert bad.status_code == 400
        # next week
        from datetime import timedelta

        later = service.clock() + timedelta(days=7)
        service.digests.clock = lambda: later
        smtp.recorder.received.clear()
        assert service.digests.send().outcome == "sent"
    assert sorted(smtp.recorder.per_recipient()) == ["reader000@example.org",
                                                     "reader002@example.org"]


def test_temporary_refusals_are_retried(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=3)
    smtp.recorder.data_replies = ["451 4.3.0 try again later", "421 4.7.0 busy"]
    smtp.recorder.rcpt_replies["reader002@example.org"] = "450 4.2.1 mailbox busy"
    with Service.open(project / "config.toml") as service:
        report = service.digests.send()
        assert report.sent == 2 and report.retry_later == 1 and report.outcome == "partial"
        assert sorted(smtp.recorder.per_recipient()) == ["reader000@example.org",
                                                         "reader001@example.org"]
        # the server recovers; the next send finishes the digest
        smtp.recorder.rcpt_replies.clear()
        report = service.digests.send()
        assert report.sent == 1 and report.outcome == "sent"
    assert_once_each(smtp, 3)


def test_hard_refusals_mark_a_subscriber_bouncing(make_project, smtp: SMTPServer) -> None:
    from datetime import timedelta

    project = make_project(n=2, extra="send_empty = true")
    text = (project / "config.toml").read_text().replace(
        'transport = "smtp"', 'transport = "smtp"\nbounce_limit = 2')
    (project / "config.toml").write_text(text)
    smtp.recorder.rcpt_replies["reader001@example.org"] = "550 5.1.1 no such user"
    with Service.open(project / "config.toml") as service:
        d = service.digests
        start = d.clock()
        for week in range(3):
            d.clock = lambda w=week: start + timedelta(days=7 * w)
            d.send()
        sub = service.store.get_subscriber("reader001@example.org")
        assert sub.status == "bouncing" and sub.bounce_count == 2
        assert "550" in (sub.last_error or "")
        # the third digest did not even try them
        third = service.store.get_digest(d.current_period())
        assert service.store.delivery_counts(third.id) == {"sent": 1}
    assert smtp.recorder.per_recipient() == {"reader000@example.org": 3}


def test_an_unreachable_server_stops_the_send_and_loses_nothing(make_project,
                                                                smtp: SMTPServer) -> None:
    project = make_project(n=3)
    text = (project / "config.toml").read_text().replace(f"port = {smtp.port}", "port = 9")
    (project / "config.toml").write_text(text)
    result = cli(project, "digest", "send")
    assert result.returncode == 5
    assert "cannot connect" in result.stderr and "127.0.0.1:9" in result.stderr
    with Service.open(project / "config.toml") as service:
        with pytest.raises(MailError):
            service.digests.send()
        counts = service.digests.status().counts
    assert counts == {"pending": 3}


def test_send_test_copy_marks_nothing(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=2)
    result = cli(project, "digest", "send", "--test", "editor@example.org")
    assert result.returncode == 0, result.stderr
    (msg,) = smtp.recorder.messages()
    assert msg.rcpt_tos == ["editor@example.org"]
    assert msg.message["Subject"].startswith("[Test] Migrant smuggling digest")
    status = json.loads(cli(project, "digest", "status", "--json").stdout)
    assert status["status"] is None and status["deliveries"] == {}


def test_the_empty_digest_is_not_sent_unless_configured(make_project,
                                                        smtp: SMTPServer) -> None:
    project = make_project(n=2, poll=False)
    result = cli(project, "digest", "send")
    assert result.returncode == 0 and "nothing new" in result.stdout
    assert smtp.recorder.messages() == []
    assert json.loads(cli(project, "digest", "status", "--json").stdout)["status"] is None
    text = (project / "config.toml").read_text().replace("[digest]",
                                                        "[digest]\nsend_empty = true")
    (project / "config.toml").write_text(text)
    result = cli(project, "digest", "send")
    assert result.returncode == 0, result.stderr
    assert sorted(smtp.recorder.per_recipient()) == ["reader000@example.org",
                                                     "reader001@example.org"]
    body = smtp.recorder.messages()[0].message.get_body(("plain",)).get_content()
    assert "No new stories this time." in body


# -- crashes and concurrency ------------------------------------------------------------


def _kill_when_held(proc: subprocess.Popen[bytes], smtp: SMTPServer) -> None:
    assert smtp.recorder.held.wait(60), "the sender never reached the hold point"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    smtp.recorder.release()
    time.sleep(LEASE + 0.5)  # the dead sender's leases run out


@pytest.mark.parametrize("kill_after", [0, 7, 31])
def test_a_sender_killed_before_handing_over_resumes_without_duplicates(
        make_project, smtp: SMTPServer, kill_after: int) -> None:
    # one connection: with two, the kill can land while the other one is in DATA, and
    # that message's fate is then unknown (the next test)
    project = make_project(connections=1)
    smtp.recorder.hold_mail_after = kill_after
    _kill_when_held(spawn(project, "digest", "send"), smtp)
    assert len(smtp.recorder.messages()) == kill_after
    result = cli(project, "digest", "send")
    assert result.returncode == 0, result.stderr
    assert_once_each(smtp)
    status = json.loads(cli(project, "digest", "status", "--json").stdout)
    assert status["deliveries"] == {"sent": N} and status["status"] == "sent"


def test_a_sender_killed_while_the_server_holds_a_message_never_sends_it_twice(
        make_project, smtp: SMTPServer) -> None:
    project = make_project(connections=1)
    smtp.recorder.hold_data_after = 12  # the 13th message reaches the server, then the kill
    _kill_when_held(spawn(project, "digest", "send"), smtp)
    assert len(smtp.recorder.messages()) == 13
    result = cli(project, "digest", "send")
    assert result.returncode == 0, result.stderr
    assert_once_each(smtp)  # the one of unknown fate was received once, and not resent
    status = json.loads(cli(project, "digest", "status", "--json").stdout)
    assert status["deliveries"] == {"sent": N - 1, "unknown": 1}
    assert [u["email"] for u in status["unknown"]] == ["reader012@example.org"]
    text = cli(project, "digest", "status").stdout
    assert "unknown fate" in text and "reader012@example.org" in text


def test_two_senders_at_once_send_each_message_once(make_project, smtp: SMTPServer) -> None:
    project = make_project()
    procs = [spawn(project, "digest", "send") for _ in range(2)]
    for p in procs:
        assert p.wait(120) == 0
    assert_once_each(smtp)
    status = json.loads(cli(project, "digest", "status", "--json").stdout)
    assert status["deliveries"] == {"sent": N}


# -- transport settings ---------------------------------------------------------------------


def test_the_rate_spaces_messages_out(make_project, smtp: SMTPServer) -> None:
    project = make_project(n=6, connections=1)
    text = (project / "config.toml").read_text().replace('timeout = "10s"',
                                                        'timeout = "10s"\nrate = 20')
    (project / "config.toml").write_text(text)
    with Service.open(project / "config.toml") as service:
        assert service.digests.send().sent == 6
    # at most 20 a second: from the second message on (the first also waited for the
    # connection to be set up), five messages span at least four slots of 50 ms
    times = sorted(m.at for m in smtp.recorder.messages())
    assert times[-1] - times[1] >= 4 * 0.05 * 0.9, times


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl makes the test certificate")
def test_starttls_and_login_with_credentials_from_the_environment(
        project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # our client verifies the server
    monkeypatch.setenv("TEST_SMTP_USER", "digest")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    with SMTPServer(tls_context=context, credentials=("digest", "s3cret")) as server:
        write_config(project, f"sqlite:///{tmp_path / 'db.sqlite'}", server.port,
                     extra="send_empty = true", connections=1)
        text = (project / "config.toml").read_text().replace(
            'timeout = "10s"', 'timeout = "10s"\nsecurity = "starttls"\n'
            'username_env = "TEST_SMTP_USER"\npassword_env = "TEST_SMTP_PASSWORD"')
        (project / "config.toml").write_text(text)
        with Service.open(project / "config.toml") as service:
            service.poll(all_sources=True, offline=True)
            service.digests.add("reader@example.org", confirmed=True)
            assert service.digests.send().sent == 1
        assert server.logins == ["digest"]
        assert server.recorder.per_recipient() == {"reader@example.org": 1}
        # a wrong password is one clear error, and nothing is lost
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        with Service.open(project / "config.toml") as service:
            service.digests.add("second@example.org", confirmed=True)
            from datetime import timedelta

            later = service.clock() + timedelta(days=7)
            service.digests.clock = lambda: later
            with pytest.raises(MailError, match="login refused: 535"):
                service.digests.send()
            assert service.digests.status().counts == {"pending": 2}
        # without the variable: a config error naming it
        monkeypatch.delenv("TEST_SMTP_USER")
        with Service.open(project / "config.toml") as service:
            service.digests.clock = lambda: later
            with pytest.raises(MailError, match="TEST_SMTP_USER is not set"):
                service.digests.send()
