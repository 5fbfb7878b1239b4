"""Subscribers: the CLI, double opt-in, CSV import, tokens and the public pages."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aggregator.digest import tokens
from aggregator.digest.subscribers import normalize_email, normalize_tags, read_csv
from aggregator.errors import UsageError
from aggregator.service import Service
from aggregator.web import create_app
from tests.conftest import tamper


def cli(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", "--config",
                           str(project / "config.toml"), *args], cwd=project, input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def svc(project: Path) -> Iterator[Service]:
    with Service.open(project / "config.toml") as service:
        yield service


def outbox(project: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted((project / "var" / "outbox").glob("*.eml"))]


# -- addresses, tags, CSV ---------------------------------------------------------------


def test_addresses_are_validated_and_normalized() -> None:
    assert normalize_email(" Reader@Example.ORG ") == "Reader@example.org"
    assert normalize_email("x@bücher.example") == "x@xn--bcher-kva.example"
    for bad in ("", "no-at-sign", "a@b", "two@@example.org", "a@example.org\r\nBcc: x@y.z",
                "ünï@example.org", "a b@example.org"):
        with pytest.raises(UsageError):
            normalize_email(bad)


def test_tags_are_checked() -> None:
    assert normalize_tags("country:LY, migrant-smuggling;country:ly") == \
        ("country:ly", "migrant-smuggling")
    with pytest.raises(UsageError, match="is not a tag"):
        normalize_tags("<script>")


def test_csv_rows_and_problems_by_line() -> None:
    data = (b"Email;Tags\nok@example.org;country:ly migrant-smuggling\nbroken\n\n"
            b"OK@example.org;\nsecond@example.org;bad tag!\nthird@example.org;\n")
    rows, problems = read_csv(data, name="people.csv")
    assert [(r.line, r.email, r.tags) for r in rows] == [
        (2, "ok@example.org", ("country:ly", "migrant-smuggling")),
        (7, "third@example.org", ())]
    assert [p.line for p in problems] == [3, 5, 6]
    assert "appears again" in problems[1].message
    with pytest.raises(UsageError, match="no email column"):
        read_csv(b"name,tags\nx,y\n", name="people.csv")


# -- the CLI ----------------------------------------------------------------------------


def test_add_confirmed_and_pending(project: Path) -> None:
    r = cli(project, "subscribers", "add", "editor@example.org", "--confirmed")
    assert r.returncode == 0 and "active" in r.stdout
    r = cli(project, "subscribers", "add", "new@example.org", "--tags", "country:ly")
    assert r.returncode == 0 and "confirmation email was sent" in r.stdout
    (confirm,) = outbox(project)
    assert confirm["To"] == "new@example.org"
    assert confirm["Subject"] == "Confirm your subscription to the Migrant smuggling digest"
    text = confirm.get_body(("plain",)).get_content()
    assert "Libya" in text and re.search(r"http://127\.0\.0\.1:8080/confirm\?token=\S+", text)
    listed = json.loads(cli(project, "subscribers", "list", "--json").stdout)
    assert [(s["email"], s["status"], s["tags"]) for s in listed] == [
        ("editor@example.org", "active", []), ("new@example.org", "pending", ["country:ly"])]
    again = cli(project, "subscribers", "add", "EDITOR@example.org")
    assert "already subscribed" in again.stdout
    bad = cli(project, "subscribers", "add", "not-an-address")
    assert bad.returncode == 2 and "not a valid email address" in bad.stderr
    removed = cli(project, "subscribers", "remove", "new@example.org")
    assert removed.returncode == 0
    assert cli(project, "subscribers", "remove", "new@example.org").returncode == 4
    table = cli(project, "subscribers", "list").stdout
    assert "editor@example.org" in table and "new@example.org" not in table


def test_import_keeps_good_rows_and_names_bad_ones(project: Path) -> None:
    csv_file = project / "people.csv"
    csv_file.write_text("email,tags\na@example.org,country:ly\nnope\nb@example.org,\n",
                        encoding="utf-8")
    r = cli(project, "subscribers", "import", str(csv_file), "--confirmed")
    assert r.returncode == 1
    assert "2 added (active)" in r.stdout and "1 rejected" in r.stdout
    assert "line 3:" in r.stderr and "'nope'" in r.stderr
    listed = json.loads(cli(project, "subscribers", "list", "--json").stdout)
    assert [(s["email"], s["status"], s["origin"]) for s in listed] == [
        ("a@example.org", "active", "import"), ("b@example.org", "active", "import")]
    assert not (project / "var" / "outbox").exists()  # --confirmed: no confirmation mails


# -- tokens and the public pages ---------------------------------------------------------


def test_tokens_are_per_purpose_and_confirm_ones_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    t = tokens.make_token(b"k", "unsubscribe", 7, "A@example.org")
    assert tokens.read_token(b"k", "unsubscribe", t) == tokens.TokenSubject(7, "a@example.org")
    with pytest.raises(tokens.BadToken, match="not valid"):
        tokens.read_token(b"k", "preferences", t)
    with pytest.raises(tokens.BadToken, match="not valid"):
        tokens.read_token(b"other", "unsubscribe", t)
    c = tokens.make_token(b"k", "confirm", 7, "a@example.org")
    import time

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + tokens.CONFIRM_MAX_AGE + 60)
    with pytest.raises(tokens.BadToken, match="expired"):
        tokens.read_token(b"k", "confirm", c)
    # unsubscribe links never expire
    assert tokens.read_token(b"k", "unsubscribe", t).subscriber_id == 7


def test_double_opt_in_through_the_pages(project: Path, svc: Service) -> None:
    result = svc.digests.add("new@example.org")
    assert result.subscriber.status == "pending" and result.confirmation_sent
    text = outbox(project)[0].get_body(("plain",)).get_content()
    link = urlsplit(re.search(r"(http\S+/confirm\?token=\S+)", text).group(1))  # type: ignore[union-attr]
    client = create_app(svc.config).test_client()
    page = client.get(f"{link.path}?{link.query}")
    assert page.status_code == 200 and b"Confirm my subscription" in page.data
    # looking at the page (a mail scanner does) changes nothing
    assert svc.store.get_subscriber("new@example.org").status == "pending"
    token = dict(p.split("=", 1) for p in link.query.split("&"))["token"]
    done = client.post("/confirm", data={"token": token})
    assert done.status_code == 200 and b"You are subscribed" in done.data
    assert svc.store.get_subscriber("new@example.org").status == "active"
    forged = client.post("/confirm", data={"token": tamper(token)})
    assert forged.status_code == 400 and b"not valid" in forged.data


def test_unsubscribe_page_and_preferences(svc: Service) -> None:
    sub = svc.digests.add("r@example.org", confirmed=True).subscriber
    client = create_app(svc.config).test_client()
    prefs = svc.digests.link("preferences", sub)
    parts = urlsplit(prefs)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and b'name="topic"' in page.data
    token = parts.query.split("=", 1)[1]
    saved = client.post("/preferences", data={"token": token,
                                              "topic": ["enforcement", "not-a-topic"]})
    assert saved.status_code == 200 and b"Saved." in saved.data
    assert svc.store.get_subscriber(sub.id).tags == ("enforcement",)
    # the unsubscribe token does not open the preferences, and the other way round
    unsub = svc.digests.link("unsubscribe", sub)
    assert client.post("/preferences", data={"token": unsub.split("=", 1)[1]}).status_code == 400
    assert client.post("/unsubscribe", data={"token": token}).status_code == 400
    shown = client.get(urlsplit(unsub).path + "?" + urlsplit(unsub).query)
    assert shown.status_code == 200 and b"Stop sending" in shown.data
    assert svc.store.get_subscriber(sub.id).status == "active"
    gone = client.post("/unsubscribe", data={"token": unsub.split("=", 1)[1]})
    assert gone.status_code == 200 and b"You are unsubscribed" in gone.data
    assert svc.store.get_subscriber(sub.id).status == "unsubscribed"
    # a removed subscriber's old links stop working
    svc.digests.remove("r@example.org")
    assert client.post("/unsubscribe", data={"token": unsub.split("=", 1)[1]}).status_code == 400
    # and a token names the address too: another subscriber never answers to it
    other = svc.digests.add("someone-else@example.org", confirmed=True).subscriber
    forged = tokens.make_token(b"wrong", "unsubscribe", other.id, "r@example.org")
    assert client.post("/unsubscribe", data={"token": forged}).status_code == 400


def test_public_pages_escape_and_send_security_headers(svc: Service) -> None:
    sub = svc.digests.add("o'brien&co@example.org", confirmed=True).subscriber
    client = create_app(svc.config).test_client()
    link = urlsplit(svc.digests.link("unsubscribe", sub))
    page = client.get(f"{link.path}?{link.query}")
    assert b"o&#39;brien&amp;co@example.org" in page.data
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get("/unsubscribe").status_code == 400
