"""``aggregator sources check ID``: fetch now, explain each step, store nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.httpserver import HTTPTestServer, static, status

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Local news</title><link>http://example.org/</link>
<ttl>120</ttl>
<item><title>Smugglers arrested in Libya</title><link>http://example.org/1</link>
<guid>1</guid><pubDate>Fri, 27 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>A day with no date</title><link>http://example.org/2</link><guid>2</guid></item>
</channel></rss>"""


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", "--config",
                           str(project / "config.toml"), *args], cwd=project,
                          capture_output=True, text=True, timeout=120)


def test_check_explains_each_step_and_stores_nothing(project: Path) -> None:
    text = (project / "config.toml").read_text().replace("[fetch]\n",
                                                        "[fetch]\nallow_private = true\n", 1)
    (project / "config.toml").write_text(text)
    with HTTPTestServer() as server:
        server.route("/feed.xml", static(RSS))
        server.route("/gone.xml", status(404))
        for sid, path in (("local", "/feed.xml"), ("broken", "/gone.xml")):
            (project / "feeds" / f"{sid}.toml").write_text(
                f'[[source]]\nid = "{sid}"\nurl = "{server.url(path)}"\nkind = "feed"\n')
        r = cli(project, "sources", "check", "local")
        assert r.returncode == 0, r.stderr
        lines = r.stdout.splitlines()
        assert lines[0].startswith("local: new, 0 errors in a row")
        assert lines[1] == f"  request: GET {server.url('/feed.xml')}"
        assert lines[2].startswith(f"  response: 200 from {server.url('/feed.xml')}")
        assert "bytes after decompression" in lines[2]
        assert lines[3].startswith("  parse: rss20, 2 entries, titled 'Local news'")
        assert "one poll every 7200 s" in lines[3]
        assert "2 kept" in lines[4] and "1 without a date" in lines[4]
        assert "Smugglers arrested in Libya" in r.stdout and "country:ly" in r.stdout
        data = json.loads(cli(project, "sources", "check", "local", "--json").stdout)
        assert data["items"] == 2 and data["error"] is None
        assert [s.split(":")[0] for s in data["steps"]] == ["request", "response", "parse",
                                                            "items"]
        bad = cli(project, "sources", "check", "broken")
        assert bad.returncode == 1
        assert "  request: failed:" in bad.stdout and "404" in bad.stdout
        assert server.paths().count("/feed.xml") == 2
    # nothing was stored
    listed = json.loads(cli(project, "sources", "list", "--json").stdout)
    assert {s["id"]: s["items"] for s in listed}["local"] == 0
    assert {s["id"]: s["status"] for s in listed}["local"] == "new"
    missing = cli(project, "sources", "check", "nope")
    assert missing.returncode == 4 and "nope" in missing.stderr
