"""The editors' app in a real browser: Playwright driving Debian's Chromium.

``aggregator serve`` runs as a real process (waitress) on a free port; the browser
logs in, pins a story with an expiry, publishes and finds it first on the page and
in featured.xml, hides a story, previews and approves the digest, and subscribes
through the public form, confirming from the email the outbox caught.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium``
(``$AGGREGATOR_CHROMIUM`` overrides). Without one the tests are skipped with the
reason, unless ``AGGREGATOR_REQUIRE_BROWSER=1`` (set by CI). With
``AGGREGATOR_SCREENSHOTS=1`` the screenshots the README shows are written to
``docs/screenshots/``.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.service import Service
from tests.conftest import ROOT

CHROMIUM = os.environ.get("AGGREGATOR_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery"
SHOTS = ROOT / "docs" / "screenshots"


def _require_browser() -> None:
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed (pip install -e '.[dev]')"
    if reason is None and not Path(CHROMIUM).is_file():
        reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)"
    if reason:
        if os.environ.get("AGGREGATOR_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (AGGREGATOR_REQUIRE_BROWSER=1): {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    _require_browser()
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copytree(ROOT / "feeds", folder / "feeds")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/"
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[site]\n", f'[site]\nurl = "{base}"\n', 1)
    text = text.replace("# approval = false", "approval = true")
    (folder / "config.toml").write_text(text, encoding="utf-8")
    with Service.open(folder / "config.toml") as svc:
        svc.poll(all_sources=True, offline=True)
        svc.publish()
        svc.add_user("ada", "admin", PASSWORD)
    server = subprocess.Popen([sys.executable, "-m", "aggregator", "--config",
                               str(folder / "config.toml"), "serve", "--port", str(port)],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "healthz", timeout=1).read()
            break
        except OSError as e:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("aggregator serve did not start: " +
                                   (server.stderr.read().decode() if server.stderr else "")) \
                    from e
            time.sleep(0.2)
    yield base, folder
    server.terminate()
    server.wait(10)


@pytest.fixture
def page(site: tuple[str, Path]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])  # root in a container has no sandbox
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        yield pg
        context.close()
        browser.close()


def _shot(page: Any, name: str, tmp: Path) -> None:
    target = SHOTS if os.environ.get("AGGREGATOR_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=False)


def test_editor_pins_publishes_hides_and_approves(site: tuple[str, Path], page: Any,
                                                  tmp_path: Path) -> None:
    base, _folder = site
    page.goto(base + "editor/")
    assert "/login" in page.url  # sent to log in first
    page.fill("#username", "ada")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/editor/$"))
    assert page.locator("h1").inner_text() == "Dashboard"
    _shot(page, "dashboard", tmp_path)

    # pin the oldest story of the first page, with an expiry
    page.click("nav.main >> text=Stories")
    rows = page.locator("tbody tr td a")
    target = rows.nth(rows.count() - 1)
    title = target.inner_text()
    target.click()
    page.fill("#until", "2099-12-31")
    page.fill("#note", "Background for the week")
    page.click("button:has-text('Pin')")
    assert "Pinned" in page.locator(".flash.ok").inner_text()
    _shot(page, "story", tmp_path)
    page.click("button:has-text('Publish now')")
    assert "Publish" in page.locator(".flash.ok").inner_text()
    page.goto(base)
    first = page.locator("article").first.inner_text()
    assert title[:40] in first
    featured = urllib.request.urlopen(base + "featured.xml").read().decode()
    assert title[:40].replace("&", "&amp;") in featured or title[:40] in featured

    # hide another story: gone from the feed after the next publish
    page.goto(base + "editor/stories")
    other = page.locator("tbody tr td a").first
    hidden_title = other.inner_text()
    other.click()
    page.click("button:has-text('Hide')")
    page.click("button:has-text('Publish now')")
    feed = urllib.request.urlopen(base + "feed.xml").read().decode()
    assert hidden_title[:40] not in feed

    # the digest: preview, then approve
    page.click("nav.main >> text=Digest")
    frame = page.frame_locator("iframe.preview")
    assert "Migrant smuggling digest" in frame.locator("h1").inner_text()
    _shot(page, "digest", tmp_path)
    page.click("button:has-text('Approve this digest')")
    assert "Approved" in page.locator(".flash.ok").inner_text()
    log = page.goto(base + "editor/audit")
    assert log is not None
    audit = page.locator("table").inner_text()
    assert "pin" in audit and "hide" in audit and "digest.approve" in audit


def test_subscribe_and_confirm_from_the_email(site: tuple[str, Path], page: Any) -> None:
    base, folder = site
    page.goto(base + "subscribe")
    page.fill("#email", "reader@example.org")
    page.check("input[value='enforcement']")
    page.click("button:has-text('Subscribe')")
    assert page.locator("h1").inner_text() == "Check your inbox"
    (mail,) = (folder / "var" / "outbox").glob("confirm.*.eml")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    link = re.search(r"(http\S+/confirm\?token=\S+)",
                     msg.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]
    page.goto(link)
    page.click("button:has-text('Confirm my subscription')")
    assert page.locator("h1").inner_text() == "You are subscribed"
    with Service.open(folder / "config.toml") as svc:
        sub = svc.store.get_subscriber("reader@example.org")
    assert sub.status == "active" and sub.tags == ("enforcement",)
