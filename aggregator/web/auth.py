"""Logging in to the editor pages: sessions, CSRF tokens, roles and the audit helper.

``init_app`` (called by :func:`aggregator.web.create_app`) sets up, for the whole app:

- signed cookie sessions (Flask's, keyed with :func:`aggregator.service.ensure_secret`):
  HttpOnly, SameSite=Lax, Secure whenever the request came over https; a login lasts
  ``SESSION_LIFETIME`` from the moment it was made, however active the session;
- a CSRF check before every POST, PUT, PATCH and DELETE: the form field
  ``csrf_token`` or the header ``X-CSRF-Token`` must hold the session's token, except
  on views marked :func:`csrf_exempt` (the public pages that a signed token in their
  link authorizes);
- ``Cache-Control: no-store`` on every response that depends on who is logged in.

The user is read from the store again on every request, so removing an account or
changing its password ends its sessions at once. Passwords are checked by
:meth:`aggregator.service.Service.authenticate` (argon2id, lockout after repeated
failures); logins are also limited per client address here, in memory.

Not done here: what editors may do (the editor pages, :mod:`aggregator.web.editor`).
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from werkzeug.wrappers import Response as BaseResponse

from aggregator import accounts
from aggregator.errors import AccountLocked, LoginFailed
from aggregator.models import User

#: a login is good for this long, however active (the cookie expires then too)
SESSION_LIFETIME = timedelta(hours=12)
#: login attempts allowed per client address ...
LOGIN_ATTEMPTS = 10
#: ... within this many seconds
LOGIN_WINDOW = 300.0
#: where a login leads when ``next`` is missing or not a path on this site
DEFAULT_NEXT = "/editor/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_LIMITER_KEY = "aggregator.auth.limiter"
_EXEMPT_ATTR = "csrf_exempt"
_key_lock = threading.Lock()

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


# -- the public contract ---------------------------------------------------------------


def current_user() -> User | None:
    """Who is logged in, read from the store (once per request); None if nobody."""
    g._auth_used = True
    if "_auth_user" not in g:
        g._auth_user = _session_user()
    return cast("User | None", g._auth_user)


def login_required(view: F) -> F:
    """Anonymous visitors are sent to the login page, and back here afterwards."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _to_login()
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    """Like :func:`login_required`; an editor who is not an admin gets a 403 page."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return _to_login()
        if not user.is_admin:
            return _page("message", 403, heading="For administrators only",
                         message=f"You are logged in as {user.name}, an editor; this page "
                                 "needs an administrator.", link=("/editor/", "Editor pages"))
        return view(*args, **kwargs)

    return cast(F, wrapped)


def csrf_token() -> str:
    """The session's CSRF token (made on first use); put it in every form."""
    g._auth_used = True
    token = session.get("csrf")
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_exempt(view: F) -> F:
    """Mark a view whose unsafe requests are authorized otherwise (a signed token)."""
    setattr(view, _EXEMPT_ATTR, True)
    return view


def audit(action: str, target: str, detail: str = "") -> None:
    """Record ``action`` on ``target`` in the audit log, by the logged-in user."""
    from aggregator.web.context import get_service

    user = current_user()
    get_service().audit(user.name if user else None, action, target, detail)


def safe_next(target: str | None, default: str = DEFAULT_NEXT) -> str:
    """``target`` if it is a path on this site, else ``default``: no open redirect.

    Browsers read ``\\`` as ``/`` and drop tabs and newlines from URLs, so
    ``/\\evil.example`` and ``/\\t/evil.example`` would lead off-site as ``//`` does.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if "\\" in target or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F
                             for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


# -- the pages -------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    from aggregator.web.context import get_service

    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(target)
        return _login_page(target)
    wait = _limiter().hit(_client())
    if wait is not None:
        response = _page("message", 429, heading="Too many attempts",
                         message=f"Too many logins from your address; try again in "
                                 f"{math.ceil(wait / 60)} minute(s).")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response
    service = get_service()
    name = request.form.get("username", "").strip()
    try:
        user = service.authenticate(name, request.form.get("password", ""))
    except LoginFailed as e:
        known = accounts.is_name(name) and service.store.find_user(name) is not None
        service.audit(None, "login.failed", name if known else "(unknown name)",
                      f"from {_client()}" + ("; locked" if isinstance(e, AccountLocked) else ""))
        message = (str(e)[0].upper() + str(e)[1:] + "." if isinstance(e, AccountLocked)
                   else "Wrong name or password (or the account is locked).")
        return _login_page(target, name, message, 403)
    found = service.session_user(user.name)
    session.clear()
    session.permanent = True
    session.update(user=user.name, login_at=service.clock().timestamp(),
                   stamp=found[1] if found else "", csrf=secrets.token_urlsafe(32))
    g._auth_user = user
    service.audit(user.name, "login", user.name, f"from {_client()}")
    return redirect(target, 303)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    user = current_user()
    if user is not None:
        audit("logout", user.name)
    session.clear()
    return redirect(url_for("auth.login"), 303)


# -- set-up ------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Sessions, the CSRF check, ``no-store`` and the login pages for ``app``."""
    app.session_interface = _SessionInterface()
    # no refresh: a login ends SESSION_LIFETIME after it was made anyway, and a cookie
    # on every answer (the public files too) would let a shared cache keep and hand it on
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
                      SESSION_REFRESH_EACH_REQUEST=False)
    app.extensions[_LIMITER_KEY] = RateLimiter(LOGIN_ATTEMPTS, LOGIN_WINDOW)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)
    app.before_request(_check_csrf)
    app.after_request(_no_store)
    app.register_blueprint(bp)


class RateLimiter:
    """At most ``limit`` hits per key within ``window`` seconds (sliding; thread-safe)."""

    #: past this many keys, forget those with no recent hit
    PRUNE_AT = 10_000

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Count a hit: None if allowed, else the seconds until one will be."""
        with self._lock:
            now = self.clock()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return hits[0] + self.window - now
            hits.append(now)
            if len(self._hits) > self.PRUNE_AT:
                self._hits = {k: v for k, v in self._hits.items()
                              if v and v[-1] > now - self.window}
            return None


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookies; the key read on first use, Secure following the request."""

    def get_signing_serializer(self, app: Flask) -> Any:
        if not app.secret_key:
            from aggregator.service import ensure_secret

            with _key_lock:
                if not app.secret_key:
                    app.secret_key = ensure_secret(app.config["AGGREGATOR"])
        return super().get_signing_serializer(app)

    def open_session(self, app: Flask, request: Any) -> Any:
        # no cookie, no key needed: serving output files never creates the secret
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure if has_request_context() else False


# -- inside ------------------------------------------------------------------------------


def _session_user() -> User | None:
    name = session.get("user")
    if not isinstance(name, str):
        return None
    from aggregator.web.context import get_service

    service = get_service()
    found = service.session_user(name)
    login_at = session.get("login_at")
    now = service.clock().timestamp()
    if (found is None or not hmac.compare_digest(found[1], str(session.get("stamp", "")))
            or not isinstance(login_at, int | float)
            or not login_at - 60 <= now < login_at + SESSION_LIFETIME.total_seconds()):
        session.clear()  # removed, new password, or too old: log in again
        return None
    return found[0]


def _check_csrf() -> Response | None:
    if request.method not in UNSAFE_METHODS or request.endpoint is None:
        return None  # no view will run: routing answers 404 or 405
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, _EXEMPT_ATTR, False):
        return None
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if isinstance(expected, str) and expected and sent and hmac.compare_digest(
            sent.encode("utf-8"), expected.encode("utf-8")):
        return None
    g._auth_used = True
    return _page("message", 400, heading="This form has expired",
                 message="The form was sent without this session's security token (it may "
                         "be from an older session, or from another site). Go back, reload "
                         "the page and send it again.")


def _no_store(response: Response) -> Response:
    if g.get("_auth_used"):
        response.headers["Cache-Control"] = "no-store"
    return response


def _limiter() -> RateLimiter:
    return cast(RateLimiter, current_app.extensions[_LIMITER_KEY])


def _client() -> str:
    return request.remote_addr or "unknown"


def _here() -> str:
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~%")
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def _to_login() -> BaseResponse:
    return redirect(url_for("auth.login", next=_here()), 302)


def _login_page(target: str, username: str = "", error: str | None = None,
                status: int = 200) -> Response:
    return _page("login", status, next=target, username=username, error=error,
                 csrf_token=csrf_token(), action=url_for("auth.login"))


def _page(name: str, status: int, **context: Any) -> Response:
    from aggregator.templating import environment

    config = current_app.config["AGGREGATOR"]
    context.setdefault("link", None)
    html = environment(config.site.templates).get_template(f"auth/{name}.html").render(
        site=config.site, **context)
    return Response(html, status, mimetype="text/html")
