"""The README's digest steps, end to end through real processes with the file transport."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import sys
from pathlib import Path

from aggregator.service import Service
from aggregator.web import create_app
from tests import vnu


def cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", "--config",
                           str(project / "config.toml"), *args], cwd=project,
                          capture_output=True, text=True, timeout=300)


def test_run_once_leaves_the_digest_in_the_outbox_and_a_public_copy(project: Path) -> None:
    for args in (["alice@example.org", "--confirmed"],
                 ["bob@example.org", "--tags", "country:ly", "--confirmed"],
                 ["carol@example.org"]):  # pending: gets the confirmation only
        assert cli(project, "subscribers", "add", *args).returncode == 0
    run = cli(project, "run", "--once", "--offline")
    assert run.returncode == 0, run.stderr
    assert "Digest 2026-W" in run.stdout and "2 sent now" in run.stdout
    outbox = project / "var" / "outbox"
    digests = sorted(outbox.glob("digest.*.eml"))
    assert len(digests) == 2
    to = sorted(email.message_from_bytes(p.read_bytes(), policy=email.policy.default)["To"]
                for p in digests)
    assert to == ["alice@example.org", "bob@example.org"]
    assert len(list(outbox.glob("confirm.*.eml"))) == 1
    status = json.loads(cli(project, "digest", "status", "--json").stdout)
    period = status["period"]
    assert status["status"] == "sent" and status["deliveries"] == {"sent": 2}
    public = project / "output" / "digests" / f"{period}.html"
    assert public.is_file()
    assert "alice" not in public.read_text(encoding="utf-8")
    # a second cycle sends nothing more
    again = cli(project, "run", "--once", "--offline")
    assert again.returncode == 0 and "Digest" not in again.stdout
    assert len(list(outbox.glob("digest.*.eml"))) == 2
    # preview and status speak to people
    preview = cli(project, "digest", "preview")
    assert preview.returncode == 0 and "(frozen)" in preview.stdout
    html, text = (Path(line) for line in preview.stdout.splitlines()[1:3])
    assert html.is_file() and text.is_file()
    assert "deliveries: 2 sent" in cli(project, "digest", "status").stdout
    overall = cli(project, "status").stdout
    assert f"{period} was sent (2 sent)" in overall and "2 active subscribers" in overall


def test_approval_gates_run_once_and_send(project: Path) -> None:
    text = (project / "config.toml").read_text().replace("# approval = false", "approval = true")
    (project / "config.toml").write_text(text)
    assert cli(project, "subscribers", "add", "alice@example.org", "--confirmed").returncode == 0
    run = cli(project, "run", "--once", "--offline")
    assert run.returncode == 0 and "waits for approval" in run.stdout
    refused = cli(project, "digest", "send")
    assert refused.returncode == 2 and "waits for approval" in refused.stderr
    approved = cli(project, "digest", "approve", "--by", "editor")
    assert approved.returncode == 0 and "approved by editor" in approved.stdout
    sent = cli(project, "digest", "send")
    assert sent.returncode == 0 and "1 sent now" in sent.stdout


def test_digest_pages_pass_the_nu_html_checker(project: Path, tmp_path: Path) -> None:
    vnu.require_vnu()
    assert cli(project, "subscribers", "add", "alice@example.org", "--confirmed").returncode == 0
    assert cli(project, "run", "--once", "--offline").returncode == 0
    preview = cli(project, "digest", "preview", "--tags", "country:ly").stdout.splitlines()
    pages = [*sorted((project / "output" / "digests").glob("*.html")), Path(preview[1])]
    # the public pages, as the web app serves them
    with Service.open(project / "config.toml") as service:
        sub = service.store.get_subscriber("alice@example.org")
        client = create_app(service.config).test_client()
        for i, purpose in enumerate(("unsubscribe", "preferences", "confirm")):
            link = service.digests.link(purpose, sub).split("/", 3)[3]
            page = tmp_path / f"public-{i}.html"
            page.write_bytes(client.get("/" + link).data)
            pages.append(page)
        done = tmp_path / "done.html"
        done.write_bytes(client.post("/unsubscribe", data={
            "token": service.digests.link("unsubscribe", sub).split("token=")[1]}).data)
        pages.append(done)
    messages = vnu.check_html(pages)
    assert not messages, "\n".join(m.format(project) for m in messages)


def test_with_nobody_subscribed_the_digest_waits_for_the_first_subscriber(project: Path) -> None:
    """The README's order: the quick start first, subscribers after; they still get the
    week's digest (nothing was frozen while nobody could receive it)."""
    first = cli(project, "run", "--once", "--offline")
    assert first.returncode == 0, first.stderr
    assert "no active subscriber yet" in first.stdout
    assert json.loads(cli(project, "digest", "status", "--json").stdout)["status"] is None
    assert cli(project, "subscribers", "add", "alice@example.org", "--confirmed").returncode == 0
    second = cli(project, "run", "--once", "--offline")
    assert second.returncode == 0 and "1 sent now" in second.stdout
    (mail,) = (project / "var" / "outbox").glob("digest.*.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert msg["To"] == "alice@example.org"
    assert ": 60 new stories" in msg["Subject"]  # the week's stories, not an empty digest
