"""The editors' pages through Flask's test client: every route, every role.

Anonymous visitors are sent to the login page, editors are refused the admin pages
(sources, subscribers), every POST needs the form's CSRF token, and each action
shows in the outputs at the next publish and in the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from aggregator.service import Service
from aggregator.web import create_app

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the snapshots polled in, built once; tests copy it."""
    import shutil

    from tests.conftest import ROOT

    folder = tmp_path_factory.mktemp("editor") / "project"
    folder.mkdir()
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "feeds", folder / "feeds")
    with Service.open(folder / "config.toml") as svc:
        svc.poll(all_sources=True, offline=True)
        svc.add_user("ada", "admin", PASSWORD)
        svc.add_user("ed", "editor", PASSWORD)
    return folder


@pytest.fixture
def app_dir(polled: Path, tmp_path: Path) -> Path:
    import shutil

    dest = tmp_path / "project"
    shutil.copytree(polled, dest)
    return dest


@pytest.fixture
def app(app_dir: Path) -> Iterator[Any]:
    with Service.open(app_dir / "config.toml") as svc:
        application = create_app(svc.config)
        application.config["TESTING"] = True
        yield application


def csrf_of(html: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1).decode()


def login(client: FlaskClient, name: str) -> str:
    page = client.get("/login")
    token = csrf_of(page.data)
    r = client.post("/login", data={"username": name, "password": PASSWORD,
                                    "csrf_token": token, "next": "/editor/"})
    assert r.status_code in (302, 303), r.data[:500]
    return csrf_of(client.get("/editor/").data)


@pytest.fixture
def editor(app: Any) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, login(client, "ed")


@pytest.fixture
def admin(app: Any) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, login(client, "ada")


def a_story(app: Any) -> str:
    from aggregator.web.context import get_service

    return get_service(app).store.find_stories(now=get_service(app).clock(), limit=1).stories[0].id


EDITOR_PAGES = ["/editor/", "/editor/stories", "/editor/stories?q=smuggling&state=all",
                "/editor/digest", "/editor/digest/preview", "/editor/audit"]
ADMIN_PAGES = ["/editor/sources", "/editor/sources/new", "/editor/sources/unodc-stories",
               "/editor/subscribers", "/editor/subscribers.csv"]


@pytest.mark.parametrize("path", EDITOR_PAGES + ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_login(app: Any, path: str) -> None:
    r = app.test_client().get(path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", EDITOR_PAGES)
def test_editor_pages_answer_editors(editor: tuple[FlaskClient, str], path: str) -> None:
    client, _ = editor
    r = client.get(path)
    assert r.status_code == 200, r.data[:300]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_refuse_editors_and_answer_admins(editor: tuple[FlaskClient, str],
                                                      admin: tuple[FlaskClient, str],
                                                      path: str) -> None:
    assert editor[0].get(path).status_code == 403
    assert admin[0].get(path).status_code == 200


def test_story_page_shows_tags_with_why_and_the_cluster(app: Any,
                                                        editor: tuple[FlaskClient, str]) -> None:
    from aggregator.web.context import get_service

    svc = get_service(app)
    merged = next(s for s in svc.store.find_stories(now=svc.clock(), limit=100).stories
                  if s.duplicates)
    page = editor[0].get(f"/editor/stories/{merged.id}").data.decode()
    from markupsafe import escape

    assert str(escape(merged.title)) in page
    assert "Tags, and why" in page and "tags." in page
    for d in merged.duplicates:
        assert f"/editor/copies/{d.id}/split" in page


def test_actions_need_the_csrf_token(app: Any, editor: tuple[FlaskClient, str]) -> None:
    client, token = editor
    sid = a_story(app)
    assert client.post(f"/editor/stories/{sid}/hide").status_code == 400
    assert client.post(f"/editor/stories/{sid}/hide",
                       data={"csrf_token": "forged"}).status_code == 400
    from aggregator.web.context import get_service

    assert not get_service(app).get_story(sid).hidden
    r = client.post(f"/editor/stories/{sid}/hide", data={"csrf_token": token})
    assert r.status_code == 303
    assert get_service(app).get_story(sid).hidden


def test_pin_with_expiry_then_publish_puts_it_first(app: Any, app_dir: Path,
                                                    editor: tuple[FlaskClient, str]) -> None:
    from aggregator.web.context import get_service

    client, token = editor
    svc = get_service(app)
    oldest = svc.store.find_stories(now=svc.clock(), limit=100).stories[-1]
    r = client.post(f"/editor/stories/{oldest.id}/pin", data={
        "csrf_token": token, "order": "1", "until": "2099-12-31", "note": "Background"})
    assert r.status_code == 303
    story = svc.get_story(oldest.id)
    assert story.pinned and story.pin is not None and story.pin.note == "Background"
    assert story.pin.by == "ed" and story.pin.until is not None
    assert client.post("/editor/publish", data={"csrf_token": token}).status_code == 303
    index = (app_dir / "output" / "index.html").read_text(encoding="utf-8")
    first = re.search(r"<article[^>]*>.*?</article>", index, re.S)
    assert first and oldest.title.split(":")[0][:40] in first.group(0)
    featured = (app_dir / "output" / "featured.xml").read_text(encoding="utf-8")
    from aggregator.publish.feeds import story_guid

    assert story_guid(oldest.id) in featured  # its GUID, from the story id
    audit = client.get("/editor/audit").data.decode()
    assert "pin" in audit and oldest.id in audit and "publish" in audit
    # a date in the past is refused, not stored
    r = client.post(f"/editor/stories/{oldest.id}/pin", data={
        "csrf_token": token, "until": "2001-01-01"}, follow_redirects=True)
    assert b"already passed" in r.data


def test_hide_unhide_merge_split(app: Any, editor: tuple[FlaskClient, str]) -> None:
    from aggregator.web.context import get_service

    client, token = editor
    svc = get_service(app)
    a, b = svc.store.find_stories(now=svc.clock(), limit=2).stories
    client.post(f"/editor/stories/{b.id}/hide", data={"csrf_token": token})
    assert svc.get_story(b.id).hidden
    client.post(f"/editor/stories/{b.id}/unhide", data={"csrf_token": token})
    assert not svc.get_story(b.id).hidden
    r = client.post(f"/editor/stories/{a.id}/merge", data={"csrf_token": token, "other": b.id})
    assert r.status_code == 303
    merged = svc.get_story(a.id)
    copy = merged.duplicates[0]
    r = client.post(f"/editor/copies/{copy.id}/split", data={"csrf_token": token})
    assert r.status_code == 303 and "/editor/stories/" in r.headers["Location"]
    bad = client.post(f"/editor/stories/{a.id}/merge", data={"csrf_token": token,
                                                            "other": "nonexistent"},
                      follow_redirects=True)
    assert b"no story with id" in bad.data


def test_tags_can_be_added_and_removed_and_stay(app: Any, editor: tuple[FlaskClient, str]) -> None:
    from aggregator.web.context import get_service

    client, token = editor
    svc = get_service(app)
    sid = a_story(app)
    client.post(f"/editor/stories/{sid}/tags", data={"csrf_token": token, "action": "add",
                                                     "tag": "country:mt"})
    assert "country:mt" in svc.get_story(sid).tags
    gone = svc.get_story(sid).tags[0] if svc.get_story(sid).tags[0] != "country:mt" else \
        svc.get_story(sid).tags[1]
    client.post(f"/editor/stories/{sid}/tags", data={"csrf_token": token, "action": "remove",
                                                     "tag": gone})
    assert gone not in svc.get_story(sid).tags
    # re-running the rules keeps the editor's word
    svc.apply_tag_rules()
    tags = svc.get_story(sid).tags
    assert "country:mt" in tags and gone not in tags
    assert sid in {s.id for s in svc.store.list_stories(tag="country:mt")}
    bad = client.post(f"/editor/stories/{sid}/tags", data={"csrf_token": token, "action": "add",
                                                           "tag": "<b>x</b>"},
                      follow_redirects=True)
    assert b"is not a tag" in bad.data and b"<b>x</b>" not in bad.data


def test_sources_admin_add_check_disable(app: Any, admin: tuple[FlaskClient, str]) -> None:
    client, token = admin
    # loopback and link-local addresses are refused (allow_private is off)
    for url in ("http://127.0.0.1/feed.xml", "http://169.254.169.254/latest/meta-data/",
                "http://[::1]/feed", "http://10.1.2.3/rss"):
        r = client.post("/editor/sources/new", data={
            "csrf_token": token, "id": "evil", "url": url, "kind": "feed", "do": "save"})
        assert r.status_code == 400, url
        assert b"allow_private is off" in r.data or b"link-local" in r.data, url
    r = client.post("/editor/sources/new", data={"csrf_token": token, "id": "bad id!",
                                                 "url": "https://example.org/feed",
                                                 "do": "save"})
    assert r.status_code == 400 and b"expected an id of lower-case letters" in r.data
    r = client.post("/editor/sources/unodc-stories/disable", data={"csrf_token": token})
    assert r.status_code == 303
    from aggregator.web.context import get_service

    assert not get_service(app).store.get_source("unodc-stories").enabled
    client.post("/editor/sources/unodc-stories/enable", data={"csrf_token": token})
    assert get_service(app).store.get_source("unodc-stories").enabled
    # a file source is read-only here
    r = client.post("/editor/sources/unodc-stories", data={
        "csrf_token": token, "url": "https://example.org/x", "kind": "feed", "do": "save"})
    assert r.status_code == 400 and b"edit that file" in r.data


def test_subscribers_admin(app: Any, admin: tuple[FlaskClient, str]) -> None:
    client, token = admin
    r = client.post("/editor/subscribers", data={"csrf_token": token, "email": "x@example.org",
                                                 "tags": "country:ly", "confirmed": "1"})
    assert r.status_code == 303
    listing = client.get("/editor/subscribers?q=x@").data.decode()
    assert "x@example.org" in listing and "country:ly" in listing
    csv_text = client.get("/editor/subscribers.csv").data.decode()
    assert csv_text.splitlines()[0] == "email,tags,status,created_at,confirmed_at"
    assert "x@example.org,country:ly,active" in csv_text
    from aggregator.web.context import get_service

    sub = get_service(app).store.get_subscriber("x@example.org")
    client.post(f"/editor/subscribers/{sub.id}/remove", data={"csrf_token": token})
    assert "x@example.org" not in client.get("/editor/subscribers").data.decode()


def test_digest_page_approve_and_preview(app: Any, app_dir: Path,
                                         editor: tuple[FlaskClient, str]) -> None:
    client, token = editor
    page = client.get("/editor/digest").data.decode()
    assert "As a subscriber will see it" in page and "<iframe" in page
    preview = client.get("/editor/digest/preview")
    assert preview.status_code == 200 and b"Migrant smuggling digest" in preview.data
    assert "default-src 'none'" in preview.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in preview.headers["Content-Security-Policy"]
    r = client.post("/editor/digest/test", data={"csrf_token": token,
                                                 "address": "me@example.org"},
                    follow_redirects=True)
    assert b"A test copy went to me@example.org" in r.data
    assert list((app_dir / "var" / "outbox").glob("test.*.eml"))


def test_item_content_is_sanitized_and_text_escaped(app: Any,
                                                    editor: tuple[FlaskClient, str]) -> None:
    from aggregator.web.context import get_service

    svc = get_service(app)
    sid = a_story(app)
    svc.store.pin(sid, svc.clock(), note='<script>alert("x")</script>')
    page = editor[0].get(f"/editor/stories/{sid}").data.decode()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;" in page


POST_ROUTES = [("/editor/publish", False), ("/editor/stories/{sid}/pin", False),
               ("/editor/stories/{sid}/unpin", False), ("/editor/stories/{sid}/hide", False),
               ("/editor/stories/{sid}/unhide", False), ("/editor/stories/{sid}/tags", False),
               ("/editor/stories/{sid}/merge", False), ("/editor/copies/x/split", False),
               ("/editor/digest/approve", False), ("/editor/digest/test", False),
               ("/editor/sources/new", True), ("/editor/sources/unodc-stories", True),
               ("/editor/sources/unodc-stories/disable", True),
               ("/editor/sources/unodc-stories/check", True),
               ("/editor/subscribers", True), ("/editor/subscribers/1/remove", True)]


@pytest.mark.parametrize(("route", "admin_only"), POST_ROUTES)
def test_every_action_refuses_anonymous_and_admin_ones_refuse_editors(
        app: Any, editor: tuple[FlaskClient, str], route: str, admin_only: bool) -> None:
    path = route.format(sid=a_story(app))
    anonymous = app.test_client()
    token = csrf_of(anonymous.get("/login").data)  # a valid token, but no login
    r = anonymous.post(path, data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    client, editor_token = editor
    if admin_only:
        assert client.post(path, data={"csrf_token": editor_token}).status_code == 403
    # and nothing changed for it
    from aggregator.web.context import get_service

    assert get_service(app).store.get_source("unodc-stories").enabled


def test_subscribe_form_is_rate_limited_per_client_and_per_address(app: Any,
                                                                   app_dir: Path) -> None:
    client = app.test_client()
    token = csrf_of(client.get("/subscribe").data)
    for _ in range(3):  # the same address three times: one confirmation email
        r = client.post("/subscribe", data={"csrf_token": token, "email": "x@example.org"})
        assert r.status_code == 200 and b"Check your inbox" in r.data
    assert len(list((app_dir / "var" / "outbox").glob("confirm.*.eml"))) == 1
    r = client.post("/subscribe", data={"csrf_token": token, "email": "y@example.org"})
    assert r.status_code == 200
    r = client.post("/subscribe", data={"csrf_token": token, "email": "z@example.org"})
    assert r.status_code == 200
    r = client.post("/subscribe", data={"csrf_token": token, "email": "w@example.org"})
    assert r.status_code == 429  # the sixth try from this client within the hour
    assert len(list((app_dir / "var" / "outbox").glob("confirm.*.eml"))) == 3
    bad = app.test_client()
    t2 = csrf_of(bad.get("/subscribe").data)
    r = bad.post("/subscribe", data={"csrf_token": t2, "email": "not an address"},
                 environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert r.status_code == 400 and b"not a valid email address" in r.data
    assert bad.post("/subscribe", data={"email": "v@example.org"},
                    environ_base={"REMOTE_ADDR": "10.9.9.8"}).status_code == 400  # no CSRF


def test_editor_pages_pass_the_nu_html_checker(app: Any, admin: tuple[FlaskClient, str],
                                               tmp_path: Path) -> None:
    from tests import vnu

    vnu.require_vnu()
    client, token = admin
    sid = a_story(app)
    pages = {
        "dashboard": client.get("/editor/").data,
        "stories": client.get("/editor/stories?q=migrant&state=all").data,
        "story": client.get(f"/editor/stories/{sid}").data,
        "sources": client.get("/editor/sources").data,
        "source-new": client.get("/editor/sources/new").data,
        "source-check": client.post("/editor/sources/unodc-stories/check",
                                    data={"csrf_token": token}).data,
        "digest": client.get("/editor/digest").data,
        "subscribers": client.get("/editor/subscribers").data,
        "audit": client.get("/editor/audit").data,
        "subscribe": client.get("/subscribe").data,
    }
    files = []
    for name, body in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_bytes(body)
        files.append(path)
    messages = vnu.check_html(files)
    assert not messages, "\n".join(m.format(tmp_path) for m in messages)


LISTING = b"""<!DOCTYPE html><html lang="en"><head><title>News</title></head><body>
<div class="entry"><h3><a href="/news/one.html">Smugglers arrested in Libya after boat capsized</a></h3>
<span class="date">20 November 2026</span><p class="teaser">Police in Tripoli arrested four men.</p></div>
<div class="entry"><h3><a href="/news/two.html">Workshop on migrant smuggling in Cairo</a></h3>
<span class="date">18 November 2026</span><p class="teaser">Prosecutors met in Cairo, Egypt.</p></div>
</body></html>"""


def test_check_previews_an_html_source_and_stores_nothing(polled: Path, tmp_path: Path) -> None:
    """The way to get selectors right: the form's values, fetched and parsed, not saved."""
    import shutil

    from tests.httpserver import HTTPTestServer, static

    project = tmp_path / "project"
    shutil.copytree(polled, project)
    text = (project / "config.toml").read_text().replace("[fetch]\n",
                                                        "[fetch]\nallow_private = true\n", 1)
    (project / "config.toml").write_text(text)
    with HTTPTestServer() as server, Service.open(project / "config.toml") as svc:
        server.route("/news/", static(LISTING, content_type="text/html; charset=utf-8"))
        application = create_app(svc.config)
        client = application.test_client()
        token = login(client, "ada")
        form = {"csrf_token": token, "id": "local-news", "url": server.url("/news/"),
                "kind": "html", "title": "Local news", "select_item": "div.entry",
                "select_title": "h3 a", "select_link": "h3 a", "select_date": "span.date",
                "select_summary": "p.teaser", "do": "check"}
        r = client.post("/editor/sources/new", data=form)
        page = r.data.decode()
        assert r.status_code == 200, page[:500]
        assert "2 entries from" in page
        assert "Smugglers arrested in Libya after boat capsized" in page
        assert "2026-11-20" in page and "country:ly" in page
        before = len(svc.list_sources())
        assert svc.store.find_source_by_url(server.url("/news/")) is None
        # a wrong item selector shows nothing, and says where to look
        r = client.post("/editor/sources/new", data={**form, "select_item": "li.nope"})
        assert b"matches the item selector &#39;li.nope&#39;" in r.data
        # then saving it makes a source (the next poll fetches it)
        r = client.post("/editor/sources/new", data={**form, "do": "save"})
        assert r.status_code == 303
        assert len(svc.list_sources()) == before + 1
        saved = svc.store.get_source("local-news")
        assert saved.definition.select is not None and saved.definition.select.item == "div.entry"
        # and editing it (it was added here) is allowed
        r = client.post("/editor/sources/local-news", data={**form, "title": "Local", "do": "save"})
        assert r.status_code == 303 and svc.store.get_source("local-news").definition.title == \
            "Local"
