"""Accounts, logging in, sessions, CSRF and the audit log, through Flask's test client.

The app's service is built here with a clock the tests move and cheap argon2
parameters (the real ones take a good fraction of a second per check); every test
that touches the store runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aggregator import accounts
from aggregator.config import load_config
from aggregator.errors import AccountLocked, LoginFailed, NotFoundError, UsageError
from aggregator.service import Service
from aggregator.store import Store
from aggregator.web import create_app
from aggregator.web.auth import (
    LOGIN_ATTEMPTS,
    RateLimiter,
    admin_required,
    audit,
    csrf_token,
    current_user,
    login_required,
    safe_next,
)
from tests import vnu
from tests.conftest import NOW, tamper

PW = "correct horse battery"
ADMIN_PW = "staple of the admins"
CHEAP = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def svc(project: Path, db_url: str, clock: Clock) -> Iterator[Service]:
    config = load_config(project / "config.toml")
    config = replace(config, storage=replace(config.storage, url=db_url))
    service = Service(config, Store.open(db_url), clock=clock)
    service.hasher = CHEAP
    service.add_user("ana", "editor", PW)
    service.add_user("root", "admin", ADMIN_PW)
    yield service
    service.close()


# a test-only blueprint standing in for the editor pages
probe = Blueprint("probe", __name__)


@probe.route("/test-only/page", methods=["GET", "POST", "DELETE"])
@login_required
def page() -> str:
    user = current_user()
    assert user is not None
    audit("probe", "page", "from a test")
    return f"hello {user.name} ({user.role})"


@probe.route("/test-only/admin")
@admin_required
def admin_page() -> str:
    return "for admins"


@pytest.fixture
def app(svc: Service) -> Flask:
    app = create_app(svc.config)
    app.extensions["aggregator.service"] = svc  # what get_service() would build, with our clock
    app.register_blueprint(probe)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def form_token(response: TestResponse) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert found, response.text
    return found.group(1)


def login(client: FlaskClient, name: str = "ana", password: str = PW, *,
          next: str | None = None, addr: str = "127.0.0.1") -> TestResponse:
    token = form_token(client.get("/login"))
    data = {"username": name, "password": password, "csrf_token": token}
    if next is not None:
        data["next"] = next
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": addr})


def session_token(client: FlaskClient) -> str:
    with client.session_transaction() as s:
        return str(s["csrf"])


def set_cookie(response: TestResponse) -> str:
    [cookie] = [v for v in response.headers.getlist("Set-Cookie") if v.startswith("session=")]
    return cookie


def location(response: TestResponse) -> str:
    return response.headers["Location"]


# -- accounts in the service -------------------------------------------------------------


def test_names_roles_and_passwords_are_checked(svc: Service) -> None:
    for name in ("", "a" * 65, "ana maria", "ana/x", "ñandú", "x\n"):
        with pytest.raises(UsageError, match="cannot be a user name"):
            svc.add_user(name, "editor", PW)
    with pytest.raises(UsageError, match="not a role"):
        svc.add_user("bea", "owner", PW)
    with pytest.raises(UsageError, match="at least 10 characters"):
        svc.add_user("bea", "editor", "short")
    with pytest.raises(UsageError, match="must not be the user name"):
        svc.add_user("bea.bernal", "editor", "Bea.Bernal")
    with pytest.raises(UsageError, match="already exists"):
        svc.add_user("ana", "admin", PW)
    with pytest.raises(NotFoundError, match="no user named 'nobody'"):
        svc.set_password("nobody", PW)
    with pytest.raises(NotFoundError):
        svc.remove_user("nobody")
    assert [(u.name, u.role, u.is_admin) for u in svc.list_users()] == [
        ("ana", "editor", False), ("root", "admin", True)]


def test_passwords_are_stored_as_argon2id_hashes(svc: Service) -> None:
    found = svc.store.get_credentials("ana")
    assert found is not None
    user, stored = found
    assert stored.startswith("$argon2id$") and PW not in stored
    assert "password" not in repr(user) and stored not in repr(user)


def test_authenticate_and_what_a_failure_says(svc: Service) -> None:
    assert svc.authenticate("ana", PW).last_login_at == NOW
    with pytest.raises(LoginFailed) as wrong:
        svc.authenticate("ana", PW + "!")
    with pytest.raises(LoginFailed) as unknown:
        svc.authenticate("nobody", PW)
    with pytest.raises(LoginFailed) as not_a_name:
        svc.authenticate("no body", PW)
    assert str(wrong.value) == str(unknown.value) == str(not_a_name.value) \
        == "wrong name or password"
    assert type(wrong.value) is type(unknown.value) is LoginFailed


def test_unknown_and_locked_names_spend_a_hash_check(svc: Service,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spent: list[str] = []
    real = accounts.spend_verify_time
    monkeypatch.setattr(accounts, "spend_verify_time",
                        lambda h, p: (spent.append(p), real(h, p))[1])
    with pytest.raises(LoginFailed):
        svc.authenticate("nobody", "guess one")
    for _ in range(accounts.MAX_FAILED_LOGINS):
        with pytest.raises(LoginFailed):
            svc.authenticate("ana", "guess two")
    with pytest.raises(AccountLocked):
        svc.authenticate("ana", PW)
    assert spent == ["guess one", PW]


def test_five_failures_lock_for_fifteen_minutes(svc: Service, clock: Clock) -> None:
    for i in range(1, accounts.MAX_FAILED_LOGINS):
        with pytest.raises(LoginFailed) as e:
            svc.authenticate("ana", "not the password")
        assert not isinstance(e.value, AccountLocked)
        assert svc.get_user("ana").failed_logins == i
    with pytest.raises(AccountLocked) as locked:
        svc.authenticate("ana", "not the password")
    until = NOW + timedelta(minutes=15)
    assert locked.value.until == until and "try again after 12:15 UTC" in str(locked.value)
    assert svc.get_user("ana").locked_until == until
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked):  # even with the right password
        svc.authenticate("ana", PW)
    clock.advance(seconds=1)
    user = svc.authenticate("ana", PW)
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_success_resets_the_count_and_a_new_password_lifts_a_lock(svc: Service) -> None:
    for _ in range(accounts.MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginFailed):
            svc.authenticate("ana", "not the password")
    svc.authenticate("ana", PW)
    for _ in range(accounts.MAX_FAILED_LOGINS - 1):  # four more: still not locked
        with pytest.raises(LoginFailed):
            svc.authenticate("ana", "not the password")
    assert svc.get_user("ana").locked_until is None
    with pytest.raises(AccountLocked):
        svc.authenticate("ana", "not the password")
    svc.set_password("ana", "a brand new password")
    assert svc.authenticate("ana", "a brand new password").name == "ana"


def test_a_hash_made_with_old_parameters_is_redone_at_login(svc: Service) -> None:
    before = svc.store.get_credentials("ana")
    svc.hasher = PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    svc.authenticate("ana", PW)
    after = svc.store.get_credentials("ana")
    assert before and after and before[1] != after[1] and "m=128,t=2" in after[1]
    svc.authenticate("ana", PW)
    again = svc.store.get_credentials("ana")
    assert again and again[1] == after[1]


def test_the_audit_log_filters_and_pages_newest_first(svc: Service, clock: Clock) -> None:
    for i in range(5):
        svc.audit("ana" if i % 2 else None, "pin" if i < 3 else "hide", f"s{i}", f"#{i}")
        clock.advance(minutes=1)
    entries = svc.list_audit()
    assert [e.target for e in entries] == ["s4", "s3", "s2", "s1", "s0"]
    assert entries[0].at == NOW + timedelta(minutes=4) and entries[0].detail == "#4"
    assert [e.target for e in svc.list_audit(2, 2)] == ["s2", "s1"]
    assert [e.target for e in svc.list_audit(user="ana")] == ["s3", "s1"]
    assert [e.target for e in svc.list_audit(action="pin", user="ana")] == ["s1"]
    assert svc.count_audit() == 5 and svc.count_audit(action="hide") == 2
    with pytest.raises(UsageError, match="audit action"):
        svc.audit("ana", "Pin it!", "s1")


# -- logging in --------------------------------------------------------------------------


def test_the_login_page(client: FlaskClient) -> None:
    r = client.get("/login?next=/editor/stories")
    assert r.status_code == 200 and r.mimetype == "text/html"
    for field in ('name="username"', 'name="password"', 'name="csrf_token"',
                  'name="next" value="/editor/stories"', '<label for="username">',
                  '<label for="password">'):
        assert field in r.text
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_login_leads_to_the_editor_pages_and_is_audited(app: Flask, client: FlaskClient,
                                                        svc: Service) -> None:
    r = login(client)
    assert r.status_code == 303 and location(r) == "/editor/"
    page = client.get("/test-only/page")
    assert page.status_code == 200 and page.text == "hello ana (editor)"
    assert page.headers["Cache-Control"] == "no-store"
    assert svc.get_user("ana").last_login_at == NOW
    [probe_entry, entry] = svc.list_audit(2)
    assert (entry.user, entry.action, entry.target, entry.detail) == (
        "ana", "login", "ana", "from 127.0.0.1")
    assert (probe_entry.user, probe_entry.action) == ("ana", "probe")
    if "editor" in app.blueprints:  # the editor pages, where a login leads
        assert client.get("/editor/").status_code == 200
    # logged in, the login page sends you on
    again = client.get("/login?next=/test-only/page")
    assert again.status_code == 302 and location(again) == "/test-only/page"


def test_wrong_password_and_unknown_name_look_the_same(client: FlaskClient,
                                                       svc: Service) -> None:
    wrong = login(client, "ana", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 403
    message = "Wrong name or password (or the account is locked)."
    assert message in wrong.text and message in unknown.text
    assert wrong.text.replace('value="ana"', 'value="nobody"') == unknown.text
    assert client.get("/test-only/page").status_code == 302
    failed = svc.list_audit(action="login.failed")
    assert [(e.user, e.target) for e in failed] == [(None, "(unknown name)"), (None, "ana")]


def test_lockout_through_the_form_and_its_end(client: FlaskClient, clock: Clock) -> None:
    for _ in range(accounts.MAX_FAILED_LOGINS - 1):
        assert "Wrong name or password" in login(client, "ana", "not it").text
    fifth = login(client, "ana", "not it")
    assert fifth.status_code == 403
    assert "This account is locked after too many wrong passwords; try again after " \
           "12:15 UTC." in fifth.text
    right = login(client, "ana", PW, addr="10.0.0.9")
    assert right.status_code == 403 and "locked" in right.text
    assert client.get("/test-only/page").status_code == 302
    clock.advance(minutes=15)
    assert login(client, "ana", PW).status_code == 303
    assert client.get("/test-only/page").status_code == 200


def test_logins_are_limited_per_client_address(app: Flask, client: FlaskClient) -> None:
    for _ in range(LOGIN_ATTEMPTS):
        assert login(client, "nobody", "not it", addr="10.0.0.1").status_code == 403
    refused = login(client, "root", ADMIN_PW, addr="10.0.0.1")
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    assert client.get("/test-only/page").status_code == 302
    other = login(client, "root", ADMIN_PW, addr="10.0.0.2")
    assert other.status_code == 303


def test_the_rate_limiter_forgets_old_hits() -> None:
    now = [0.0]
    limiter = RateLimiter(3, 60, clock=lambda: now[0])
    assert [limiter.hit("a") for _ in range(3)] == [None, None, None]
    assert limiter.hit("a") == 60 and limiter.hit("b") is None
    now[0] = 59.5
    assert limiter.hit("a") == 0.5
    now[0] = 60
    assert limiter.hit("a") is None


@pytest.mark.parametrize("target", [
    "//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)",
    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "http:/evil.example",
    "editor/", "", " /editor/", "///evil.example",
])
def test_next_never_leads_off_site(client: FlaskClient, target: str) -> None:
    assert safe_next(target) == "/editor/"
    r = login(client, next=target)
    assert r.status_code == 303 and location(r) == "/editor/"


def test_next_leads_back_to_the_page_asked_for(client: FlaskClient) -> None:
    r = client.get("/test-only/page?tag=country:ly&page=2")
    assert r.status_code == 302
    to = urlsplit(location(r))
    assert to.path == "/login"
    [target] = parse_qs(to.query)["next"]
    assert target == "/test-only/page?tag=country:ly&page=2"
    done = login(client, next=target)
    assert location(done) == target
    assert safe_next("/editor/stories?tag=a&b=%2F%2F") == "/editor/stories?tag=a&b=%2F%2F"


def test_roles(client: FlaskClient) -> None:
    anonymous = client.get("/test-only/admin")
    assert anonymous.status_code == 302 and location(anonymous).startswith("/login?next=")
    login(client, "ana", PW)
    editor = client.get("/test-only/admin")
    assert editor.status_code == 403 and "For administrators only" in editor.text
    assert editor.headers["Cache-Control"] == "no-store"
    other = create_app_client(client)
    login(other, "root", ADMIN_PW)
    assert other.get("/test-only/admin").text == "for admins"


def create_app_client(client: FlaskClient) -> FlaskClient:
    return client.application.test_client()


# -- CSRF ----------------------------------------------------------------------------------


def test_unsafe_requests_need_the_sessions_token(client: FlaskClient) -> None:
    login(client)
    token = session_token(client)
    missing = client.post("/test-only/page")
    assert missing.status_code == 400 and "This form has expired" in missing.text
    assert client.post("/test-only/page", data={"csrf_token": "x" + token}).status_code == 400
    assert client.post("/test-only/page", data={"csrf_token": token}).status_code == 200
    assert client.post("/test-only/page", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.delete("/test-only/page", headers={"X-CSRF-Token": "nope"}).status_code == 400
    assert client.delete("/test-only/page", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.put("/test-only/page").status_code == 405  # no such view: routing answers
    # another session's token is no good here
    other = create_app_client(client)
    login(other, "root", ADMIN_PW)
    assert client.post("/test-only/page",
                       data={"csrf_token": session_token(other)}).status_code == 400
    # nor is a form without a session at all
    fresh = create_app_client(client)
    assert fresh.post("/login", data={"username": "ana", "password": PW,
                                      "csrf_token": token}).status_code == 400


def test_the_token_changes_at_login(client: FlaskClient) -> None:
    before = form_token(client.get("/login"))
    login(client)
    assert session_token(client) != before


def test_token_authorized_public_pages_need_no_csrf_token(client: FlaskClient,
                                                          svc: Service) -> None:
    d = svc.digests
    sub = d.add("reader@example.org", confirmed=True).subscriber
    prefs = d.link("preferences", sub).split("token=")[1]
    saved = client.post("/preferences", data={"token": prefs, "topic": list(d.sections[:1])})
    assert saved.status_code == 200 and "saved" in saved.text.lower()
    unsub = d.link("unsubscribe", sub).split("token=")[1]
    # RFC 8058: the mail provider POSTs the body below to the link, without cookies
    one_click = client.post(f"/unsubscribe?token={unsub}",
                            data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "You are unsubscribed" in one_click.text
    assert svc.store.get_subscriber("reader@example.org").status == "unsubscribed"
    pending = d.add("new@example.org").subscriber
    confirm = d.link("confirm", pending).split("token=")[1]
    assert client.post("/confirm", data={"token": confirm}).status_code == 200


# -- sessions ------------------------------------------------------------------------------


def test_cookie_flags_over_http_and_https(app: Flask) -> None:
    plain = app.test_client()
    cookie = set_cookie(plain.get("/login"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    secure = app.test_client()
    r = secure.get("/login", base_url="https://localhost")
    assert "Secure" in set_cookie(r)
    token = form_token(r)
    done = secure.post("/login", base_url="https://localhost",
                       data={"username": "ana", "password": PW, "csrf_token": token})
    assert done.status_code == 303
    cookie = set_cookie(done)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a permanent session: the cookie ends with the login


def test_a_login_lasts_twelve_hours(client: FlaskClient, clock: Clock) -> None:
    login(client)
    clock.advance(hours=11, minutes=59)
    assert client.get("/test-only/page").status_code == 200
    clock.advance(minutes=1)
    r = client.get("/test-only/page")
    assert r.status_code == 302 and location(r).startswith("/login?next=")
    clock.advance(minutes=-5)  # the session was ended, not just refused
    assert client.get("/test-only/page").status_code == 302


def test_a_tampered_cookie_is_no_session(client: FlaskClient) -> None:
    login(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    value = cookie.value
    client.set_cookie("session", tamper(value))
    assert client.get("/test-only/page").status_code == 302


def test_removing_a_user_or_changing_the_password_ends_their_sessions(
        app: Flask, client: FlaskClient, svc: Service) -> None:
    login(client)
    assert client.get("/test-only/page").status_code == 200
    svc.set_password("ana", "another long password")
    assert client.get("/test-only/page").status_code == 302
    login(client, "ana", "another long password")
    assert client.get("/test-only/page").status_code == 200
    svc.remove_user("ana")
    assert client.get("/test-only/page").status_code == 302
    # a new account under an old name is not the old account
    admin = app.test_client()
    login(admin, "root", ADMIN_PW)
    svc.remove_user("root")
    svc.add_user("root", "editor", ADMIN_PW)
    assert admin.get("/test-only/admin").status_code == 302


def test_logout(client: FlaskClient, svc: Service) -> None:
    login(client)
    assert client.post("/logout").status_code == 400  # without the token
    r = client.post("/logout", data={"csrf_token": session_token(client)})
    assert r.status_code == 303 and location(r) == "/login"
    assert client.get("/test-only/page").status_code == 302
    assert [(e.user, e.action) for e in svc.list_audit(1)] == [("ana", "logout")]


def test_output_files_and_health_need_no_key_and_set_no_cookie(app: Flask,
                                                               svc: Service) -> None:
    secret = svc.config.storage.data_dir / "secret_key"
    secret.unlink(missing_ok=True)
    client = app.test_client()
    r = client.get("/healthz")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    assert not secret.exists()
    client.get("/login")
    assert secret.exists()


def test_a_logged_in_editor_gets_no_cookie_with_public_answers(client: FlaskClient) -> None:
    login(client)
    assert client.get("/test-only/page").status_code == 200
    public = client.get("/healthz")
    assert public.status_code == 200 and "Set-Cookie" not in public.headers
    assert "Cookie" not in public.headers.get("Vary", "")


def test_helpers_outside_views(app: Flask) -> None:
    with app.test_request_context("/"):
        assert current_user() is None
        token = csrf_token()
        assert token == csrf_token() and len(token) >= 32


# -- the pages are valid HTML ----------------------------------------------------------------


def test_auth_pages_pass_the_nu_html_checker(app: Flask, tmp_path: Path) -> None:
    vnu.require_vnu()
    client = app.test_client()
    pages: dict[str, Any] = {
        "login": client.get("/login"),
        "failed": login(client, "ana", "not it"),
        "csrf": client.post("/test-only/page"),
    }
    for _ in range(LOGIN_ATTEMPTS):
        login(client, "nobody", "not it", addr="10.0.0.3")
    pages["limited"] = login(client, "nobody", "not it", addr="10.0.0.3")
    login(client)
    pages["forbidden"] = client.get("/test-only/admin")
    assert [r.status_code for r in pages.values()] == [200, 403, 400, 429, 403]
    files = []
    for name, r in pages.items():
        path = tmp_path / f"{name}.html"
        path.write_bytes(r.data)
        files.append(path)
    messages = vnu.check_html(files)
    assert not messages, "\n".join(m.format(tmp_path) for m in messages)
