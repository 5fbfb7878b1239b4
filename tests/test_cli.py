"""The command line end to end: real processes, a real HTTP server, a temporary project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from tests.httpserver import HTTPTestServer, static, status

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local desk</title><link>http://127.0.0.1/</link>
<description>test</description>
<item><title>Smugglers arrested in port raid</title><link>http://127.0.0.1/a</link>
<guid>a</guid><pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate>
<description>Police arrested five people.</description></item>
<item><title>Court convicts boat organisers</title><link>http://127.0.0.1/b</link>
<guid>b</guid><pubDate>Thu, 26 Nov 2026 10:00:00 GMT</pubDate>
<description>Three were sentenced.</description></item>
</channel></rss>"""

STORY_KEYS = {"id", "title", "url", "source", "published", "tags", "pinned", "hidden", "event",
              "duplicates"}
SOURCE_KEYS = {"id", "url", "kind", "status", "last_error", "error_count", "last_success_at",
               "next_poll_at", "items"}


def cli(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "aggregator", "--config",
                             str(project / "config.toml"), *args],
                            cwd=project, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def as_json(project: Path, *args: str) -> object:
    return json.loads(cli(project, *args, "--json").stdout)


def local_project(tmp_path: Path, server: HTTPTestServer, extra: str = "") -> Path:
    """A project with one source on the local server (private addresses allowed)."""
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "local.toml").write_text(
        f'[[source]]\nid = "local"\nurl = "{server.url("/feed.xml")}"\ntags = ["org:local"]\n')
    (tmp_path / "config.toml").write_text(
        f"[fetch]\nallow_private = true\ntimeout = 5\n{extra}")
    return tmp_path


# -- the shipped snapshots -------------------------------------------------------------


def test_offline_run_produces_the_four_outputs_and_a_summary(project: Path) -> None:
    result = cli(project, "run", "--once", "--offline")
    assert "Polled 8 sources: 8 ok, 0 failed;" in result.stdout
    assert "new items" in result.stdout
    out = project / "output"
    assert {"atom.xml", "feed.json", "feed.xml", "index.html", "featured.xml",
            "tags"} <= {p.name for p in out.iterdir()}
    assert (out / "tags" / "country-eg.xml").is_file() and (out / "tags" / "index.html").is_file()
    feed = feedparser.parse((out / "feed.xml").read_bytes())
    assert not feed.bozo and len(feed.entries) == 88  # 105 copies, 88 stories
    titles = {e.title for e in feed.entries}
    assert ("Second Expert Group Meeting on the Elaboration of Basic Training Modules on "
            "Preventing and Combating the Smuggling of Migrants") in titles
    assert any("Central Mediterranean" in t for t in titles)
    # every entry names its source
    assert all(e.get("source", {}).get("title") for e in feed.entries)
    json_feed = json.loads((out / "feed.json").read_text())
    assert [i["id"] for i in json_feed["items"]] == [e.id for e in feed.entries]


def test_second_offline_run_adds_and_rewrites_nothing(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    files = sorted(p for p in (project / "output").rglob("*") if p.is_file())
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    result = cli(project, "run", "--once", "--offline")
    assert "0 new items" in result.stdout
    assert f"Nothing changed since the last publish: {len(files)} files" in result.stdout
    # poll everything again: still nothing new, nothing rewritten
    assert "0 new items, 0 updated" in cli(project, "poll", "--all", "--offline").stdout
    cli(project, "publish")
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in
             sorted(p for p in (project / "output").rglob("*") if p.is_file())}
    assert after == before


def test_items_and_sources_json_follow_the_contract(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    stories = as_json(project, "items", "list")
    assert isinstance(stories, list) and stories
    for story in stories:
        assert story.keys() >= STORY_KEYS
        assert story["published"].endswith("+00:00")
        assert story["event"] is None or set(story["event"]) == {"start", "end", "location",
                                                                 "country"}
        for dup in story["duplicates"]:
            assert set(dup) == {"id", "source", "url", "title"}
    sources = as_json(project, "sources", "list")
    assert {s["id"] for s in sources} >= {"unodc-stories", "unodc-ms-news-events",
                                          "europol-news", "reliefweb-migrant-smuggling"}
    for source in sources:
        assert source.keys() >= SOURCE_KEYS
        assert source["status"] == "ok" and source["items"] > 0
    # every copy of every source appears exactly once, as a story or as a duplicate
    copies = len(stories) + sum(len(s["duplicates"]) for s in stories)
    assert copies == sum(s["items"] for s in sources)
    one = as_json(project, "items", "show", stories[0]["id"])
    assert one == stories[0]


def test_snapshot_stories_are_clustered_tagged_and_dated(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    stories = as_json(project, "items", "list")
    by_title = {s["title"]: s for s in stories}
    lampara = next(s for s in stories if s["title"].startswith("UNODC-supported operation"))
    assert lampara["source"] == "unodc-press-releases"  # priority 10 represents it
    assert sorted(d["source"] for d in lampara["duplicates"]) == [
        "europol-news", "reliefweb-migrant-smuggling", "un-news-law-crime"]
    assert {"migrant-smuggling", "enforcement", "org:unodc", "org:europol"} <= set(lampara["tags"])
    cairo = next(s for s in stories if s["title"].startswith("Second Expert Group Meeting"))
    assert cairo["event"] == {"start": "2009-03-23", "end": "2009-03-25",
                              "location": "Cairo, Egypt", "country": "eg"}
    assert {"meeting", "country:eg", "region:northern-africa", "country:dz",
            "country:ly", "country:ma", "country:tn"} <= set(cairo["tags"])
    # translations stay stories of their own
    assert sum(1 for t in by_title if t.startswith(("La UNODC", "L'ONUDC", "L’ONUDC"))) == 2
    why = cli(project, "items", "show", cairo["id"], "--explain").stdout
    assert "why these tags:" in why and "gazetteer" in why and "event from:" in why


def test_merge_and_split_correct_the_clusters_and_survive_polling(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    stories = as_json(project, "items", "list")
    lampara = next(s for s in stories if s["title"].startswith("UNODC-supported operation"))
    europol = next(d for d in lampara["duplicates"] if d["source"] == "europol-news")
    out = cli(project, "items", "split", europol["id"]).stdout
    new_id = out.split()[-1]
    assert len(as_json(project, "items", "show", lampara["id"])["duplicates"]) == 2
    assert as_json(project, "items", "show", new_id)["source"] == "europol-news"
    cli(project, "poll", "--all", "--offline")  # corrections survive re-polling
    assert len(as_json(project, "items", "show", lampara["id"])["duplicates"]) == 2
    cli(project, "items", "merge", lampara["id"], new_id)
    merged = as_json(project, "items", "show", lampara["id"])
    assert len(merged["duplicates"]) == 3 and merged["id"] == lampara["id"]
    assert as_json(project, "items", "show", new_id)["id"] == lampara["id"]  # the old id leads on
    assert len(as_json(project, "items", "list")) == len(stories)


def test_tags_test_reports_what_a_rule_change_would_do(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    assert "0 copies in 0 stories would change" in cli(project, "tags", "test").stdout
    with open(project / "config.toml", "a") as config:
        config.write('\n[tags.meeting]\nenabled = false\n')
    out = cli(project, "tags", "test", "--rule", "migrant-smuggling").stdout
    assert "0 copies in 0 stories would change" in out
    changes = json.loads(cli(project, "tags", "test", "--json").stdout)
    assert changes and all(c["removed"] == ["meeting"] or "meeting" in c["removed"]
                           for c in changes)
    assert "would change" in cli(project, "tags", "test").stdout
    cli(project, "tags", "apply")
    assert "0 copies in 0 stories would change" in cli(project, "tags", "test").stdout


def test_listing_pages_are_followed_for_the_full_text(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    stories = as_json(project, "items", "list")
    cairo = next(s for s in stories if s["title"].startswith("Second Expert Group Meeting"))
    shown = cli(project, "items", "show", cairo["id"]).stdout
    assert "Algeria" in shown  # the participants paragraph of the followed page


def test_read_only_commands_never_fetch(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        project = local_project(tmp_path, server)
        for args in (("items", "list"), ("items", "list", "--json"), ("sources", "list"),
                     ("sources", "list", "--json"), ("status",), ("publish",),
                     ("tags", "test")):
            cli(project, *args)
        assert server.requests == []


def test_a_failing_poll_keeps_what_was_stored_and_records_why(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        project = local_project(tmp_path, server)
        assert "2 new items" in cli(project, "poll").stdout
        server.route("/feed.xml", status(500))
        result = cli(project, "poll", "--all")  # exit 0: the failure is recorded
        assert "0 ok, 1 failed" in result.stdout
        [source] = as_json(project, "sources", "list")
        assert source["status"] == "error" and source["error_count"] == 1
        assert "500" in source["last_error"] and source["items"] == 2
        assert len(as_json(project, "items", "list")) == 2
        assert "failed 1x" in cli(project, "status").stdout


def test_poll_takes_only_due_sources_unless_told(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        project = local_project(tmp_path, server)
        cli(project, "poll")
        assert "Polled 0 sources" in cli(project, "poll").stdout  # not due for an hour
        assert "Polled 1 source:" in cli(project, "poll", "--source", "local").stdout
        again = cli(project, "poll", "--all").stdout  # no validators: the body is compared
        assert "Polled 1 source:" in again and "local: unchanged" in again
        assert len(server.requests) == 3
        bad = cli(project, "poll", "--source", "nope", check=False)
        assert bad.returncode == 2 and "no source with id 'nope'" in bad.stderr


def test_gone_disables_the_source_and_says_so(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", status(410))
        project = local_project(tmp_path, server)
        cli(project, "poll")
        [source] = as_json(project, "sources", "list")
        assert source["status"] == "disabled" and "410" in source["last_error"]
        assert "Polled 0 sources" in cli(project, "poll", "--all").stdout
        server.route("/feed.xml", static(RSS))
        cli(project, "sources", "enable", "local")
        assert "2 new items" in cli(project, "poll").stdout


def test_disable_and_enable(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        project = local_project(tmp_path, server)
        assert "local: disabled" in cli(project, "sources", "disable", "local").stdout
        assert "Polled 0 sources" in cli(project, "poll", "--all").stdout
        assert server.requests == []
        cli(project, "sources", "enable", "local")
        assert "Polled 1 source:" in cli(project, "poll").stdout
        missing = cli(project, "sources", "disable", "nope", check=False)
        assert missing.returncode == 4 and "no source with id 'nope'" in missing.stderr


def test_sources_add_discovers_the_feed_of_an_html_page(tmp_path: Path) -> None:
    page = (b'<!DOCTYPE html><html><head><title>Desk</title>'
            b'<link rel="stylesheet" href="/style.css">'
            b'<link rel="alternate" type="application/rss+xml" title="News" href="/desk.xml">'
            b'</head><body>Hello</body></html>')
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        server.route("/desk.xml", static(RSS))
        server.route("/news", static(page, content_type="text/html; charset=utf-8"))
        project = local_project(tmp_path, server)
        added = as_json(project, "sources", "add", server.url("/news"), "--tag", "org:desk")
        assert added["url"] == server.url("/desk.xml") and added["id"] == "local-desk"
        assert added["tags"] == ["org:desk"] and added["status"] == "new"
        again = cli(project, "sources", "add", server.url("/desk.xml"), check=False)
        assert again.returncode == 2 and "already a source" in again.stderr
        server.route("/plain", static(b"<html><body>no feed</body></html>",
                                      content_type="text/html"))
        none = cli(project, "sources", "add", server.url("/plain"), check=False)
        assert none.returncode == 2 and "links to no feed" in none.stderr
        # a source added at run time survives the next start's sync
        assert {s["id"] for s in as_json(project, "sources", "list")} == {"local", "local-desk"}


def test_private_addresses_are_refused_by_default(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        project = local_project(tmp_path, server)
        (project / "config.toml").write_text("[fetch]\ntimeout = 5\n")
        assert "0 ok, 1 failed" in cli(project, "poll").stdout
        [source] = as_json(project, "sources", "list")
        assert source["status"] == "error" and server.requests == []


def test_output_in_a_pipe_is_plain_lines(project: Path) -> None:
    out = cli(project, "poll", "--offline").stdout
    assert "\x1b[" not in out
    assert out.count("\nok ") + out.startswith("ok ") == 8


@pytest.mark.parametrize("args", [["run"], ["items"], ["sources", "frobnicate"]])
def test_usage_errors_exit_2(project: Path, args: list[str]) -> None:
    assert cli(project, *args, check=False).returncode == 2


def test_a_secret_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    with HTTPTestServer() as server:
        project = local_project(tmp_path, server)
        cli(project, "status")
        secret = project / "var" / "secret_key"
        assert secret.stat().st_mode & 0o777 == 0o600
        first = secret.read_bytes()
        assert len(first.strip()) >= 32
        cli(project, "status")
        assert secret.read_bytes() == first  # kept, so signed links stay valid


def test_no_secret_file_when_the_environment_has_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGGREGATOR_SECRET_KEY", "from-the-environment")
    with HTTPTestServer() as server:
        project = local_project(tmp_path, server)
        cli(project, "status")
        assert not (project / "var" / "secret_key").exists()


def test_a_terminal_gets_a_progress_bar_and_the_summary(project: Path) -> None:
    import os
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on a pseudo-terminal
        os.chdir(project)
        os.execv(sys.executable, [sys.executable, "-m", "aggregator", "--config",
                                  str(project / "config.toml"), "poll", "--offline"])
    chunks = []
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert "polling" in screen and "8/8" in screen  # rich's bar
    assert "Polled 8 sources: 8 ok, 0 failed" in screen


def test_pin_hide_and_their_mistakes(project: Path) -> None:
    cli(project, "run", "--once", "--offline")
    first, second = as_json(project, "items", "list")[:2]
    out = cli(project, "pin", second["id"], "--until", "2099-12-31", "--note", "Top",
              "--order", "1").stdout
    assert out.startswith(f"pinned {second['id']} until 2100-01-01")
    shown = as_json(project, "items", "show", second["id"])
    assert shown["pinned"] and shown["pin"]["note"] == "Top" and shown["pin"]["order"] == 1
    cli(project, "publish")
    html = (project / "output" / "index.html").read_text()
    assert html.index(second["id"]) < html.index(first["id"])
    cli(project, "hide", first["id"])
    assert first["id"] not in {s["id"] for s in as_json(project, "items", "list")}
    assert first["id"] in {s["id"] for s in as_json(project, "items", "list", "--all")}
    cli(project, "publish")
    assert first["id"] not in (project / "output" / "index.html").read_text()
    cli(project, "unhide", first["id"])
    cli(project, "unpin", second["id"])
    assert not as_json(project, "items", "show", second["id"])["pinned"]
    past = cli(project, "pin", first["id"], "--until", "2001-01-01", check=False)
    assert past.returncode == 2 and "already passed" in past.stderr
    bad = cli(project, "pin", first["id"], "--until", "soon", check=False)
    assert bad.returncode == 2 and "expected a date" in bad.stderr
    missing = cli(project, "hide", "nope", check=False)
    assert missing.returncode == 4 and "no story with id 'nope'" in missing.stderr


def test_calendar_and_opml_are_published_and_opml_round_trips(project: Path,
                                                               tmp_path: Path) -> None:
    import icalendar

    cli(project, "run", "--once", "--offline")
    calendar = icalendar.Calendar.from_ical((project / "output" / "meetings.ics").read_bytes())
    events = [e for e in calendar.walk("VEVENT")]
    cairo = next(e for e in events if str(e["SUMMARY"]).startswith("Second Expert Group"))
    assert str(cairo["LOCATION"]) == "Cairo, Egypt"
    assert cairo["DTSTART"].dt.isoformat() == "2009-03-23"
    assert cairo["DTEND"].dt.isoformat() == "2009-03-26"  # all-day: the end is exclusive
    starts = [e["DTSTART"].dt for e in events]
    assert starts == sorted(starts, reverse=True) and len(events) >= 9
    opml = cli(project, "sources", "export-opml").stdout
    assert opml == (project / "output" / "sources.opml").read_text()
    assert 'xmlUrl="https://www.unodc.org/unodc/en/feed/stories.xml"' in opml
    # another reader's export: new feeds are added, known ones skipped
    other = tmp_path / "reader.opml"
    other.write_text(opml.replace("</body>", '<outline text="Desk" title="Desk" type="rss" '
                                  'xmlUrl="https://desk.example.org/rss.xml"/></body>'))
    out = cli(project, "sources", "import-opml", str(other), "--tag", "org:desk").stdout
    assert "Added 1 source; 7 already present." in out
    desk = next(s for s in as_json(project, "sources", "list") if s["id"] == "desk")
    assert desk["url"] == "https://desk.example.org/rss.xml" and desk["tags"] == ["org:desk"]
    bad = tmp_path / "bad.opml"
    bad.write_text("<html>not opml</html>")
    failed = cli(project, "sources", "import-opml", str(bad), check=False)
    assert failed.returncode != 0 and "not an OPML file" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1


def test_websub_hub_is_named_in_feeds_and_told_of_changes(project: Path) -> None:
    from urllib.parse import parse_qs

    with HTTPTestServer() as hub:
        hub.route("/hub", status(204))
        config = project / "config.toml"
        config.write_text(config.read_text().replace(
            "[output]\n", f'[output]\nwebsub_hub = "{hub.url("/hub")}"\n', 1))
        cli(project, "run", "--once", "--offline")
        pings = [parse_qs(r.body.decode()) for r in hub.requests if r.method == "POST"]
        assert pings and all(p["hub.mode"] == ["publish"] for p in pings)
        urls = {p["hub.url"][0] for p in pings}
        assert {"http://127.0.0.1:8080/feed.xml", "http://127.0.0.1:8080/atom.xml",
                "http://127.0.0.1:8080/feed.json", "http://127.0.0.1:8080/tags/country-eg.xml"
                } <= urls
        assert not any(u.endswith((".html", ".ics", ".opml")) for u in urls)
        feed = feedparser.parse((project / "output" / "feed.xml").read_bytes())
        assert {"rel": "hub", "href": hub.url("/hub")}.items() <= next(
            link for link in feed.feed.links if link.get("rel") == "hub").items()
        assert json.loads((project / "output" / "feed.json").read_text())["hubs"] == [
            {"type": "WebSub", "url": hub.url("/hub")}]
        before = len(hub.requests)
        cli(project, "publish")  # nothing changed: the hub is not bothered
        assert len(hub.requests) == before
