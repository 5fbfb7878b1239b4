"""The editors' pages under ``/editor/`` (DESIGN §6 "web").

Every page needs a login (:mod:`aggregator.web.auth`); sources and subscribers need
the admin role. Each action is a POST with the form's CSRF token, calls the same
service function the CLI calls, is written to the audit log, and answers with a
redirect to a page that says what happened (post/redirect/get). Editors' changes
reach the public files at the next publish; the "Publish now" button runs one.

Item HTML is shown as stored (sanitized by nh3 at ingest, marked safe in one
filter); everything else is escaped by the template environment.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from aggregator.errors import AggregatorError, ConfigError, NotFoundError, UsageError
from aggregator.service import Service
from aggregator.web import auth
from aggregator.web.context import get_service

bp = Blueprint("editor", __name__, url_prefix="/editor")

PAGE_SIZE = 50


# -- helpers ----------------------------------------------------------------------------


def page(name: str, http_status: int = 200, **context: Any) -> tuple[str, int]:
    """Render ``templates/editor/<name>.html`` with what every editor page needs."""
    from aggregator.publish import tag_label
    from aggregator.templating import environment

    config = current_app.config["AGGREGATOR"]
    env = environment(config.site.templates)
    html = env.get_template(f"editor/{name}.html").render(
        site=config.site, user=auth.current_user(), csrf_token=auth.csrf_token(),
        url_for=url_for, messages=get_flashed_messages(with_categories=True),
        tag_label=tag_label, request=request, **context)
    return html, http_status


def service() -> Service:
    return get_service()


def back(endpoint: str, **values: Any) -> BaseResponse:
    return redirect(url_for(endpoint, **values), code=303)


def act(done: str, action: str, target: str, work: Callable[[], object], *,
        detail: str = "") -> bool:
    """Run an editor action: audit it and say how it went (a refusal is shown, not raised)."""
    try:
        work()
    except (UsageError, NotFoundError, ConfigError) as e:
        flash(str(e), "error")
        return False
    auth.audit(action, target, detail)
    flash(done, "ok")
    return True


def _form(name: str, default: str = "") -> str:
    return (request.form.get(name) or default).strip()


def _date_arg(name: str) -> datetime | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    except ValueError:
        flash(f"{name}: {text!r} is not a date such as 2026-11-28", "error")
        return None


def _int(text: str, name: str, default: int = 0) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name}: {text!r} is not a whole number") from None


# -- dashboard ---------------------------------------------------------------------------


@bp.route("/", methods=["GET"])
@auth.login_required
def dashboard() -> tuple[str, int]:
    svc = service()
    now = svc.clock()
    sources = svc.list_sources()
    per_week = svc.store.items_per_week(now - timedelta(days=7))
    newest = svc.store.find_stories(now=now, limit=10).stories
    pinned = svc.store.find_stories(now=now, state="pinned", limit=50).stories
    return page("dashboard", sources=sources, per_week=per_week, newest=newest, pinned=pinned,
                digest=svc.digests.status(), status=svc.status(), now=now)


@bp.route("/publish", methods=["POST"])
@auth.login_required
def publish_now() -> BaseResponse:
    try:
        report = service().publish()
    except AggregatorError as e:
        flash(f"publish failed: {e}", "error")
        return back("editor.dashboard")
    auth.audit("publish", "output", f"{len(report.written)} files written")
    if report.skipped:
        flash("Nothing changed since the last publish; the files are up to date.", "ok")
    else:
        flash(f"Published: {len(report.written)} files written, "
              f"{len(report.unchanged)} unchanged.", "ok")
    return redirect(auth.safe_next(request.form.get("next"), url_for("editor.dashboard")),
                    code=303)



# -- stories -----------------------------------------------------------------------------


@bp.route("/stories", methods=["GET"])
@auth.login_required
def stories() -> tuple[str, int]:
    from aggregator.store.editorial import STATES

    svc = service()
    args = request.args
    state = args.get("state", "visible")
    if state not in STATES:
        state = "visible"
    try:
        number = max(int(args.get("page", "1")), 1)
    except ValueError:
        number = 1
    filters = {k: (args.get(k) or "").strip() for k in ("q", "tag", "source", "from", "to")}
    until = _date_arg("to")
    found = svc.store.find_stories(
        text=filters["q"] or None, tag=filters["tag"] or None,
        source=filters["source"] or None, since=_date_arg("from"),
        until=until + timedelta(days=1) if until else None, state=state,
        limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE, now=svc.clock())
    keep = {k: v for k, v in {**filters, "state": state}.items() if v and v != "visible"}
    pages = max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)

    def page_url(n: int) -> str:
        return url_for("editor.stories") + "?" + urlencode({**keep, "page": n})

    return page("stories", found=found, filters=filters, state=state, states=STATES,
                number=number, pages=pages, page_url=page_url,
                sources=svc.list_sources(), tags=sorted(svc.store.tag_counts()))


@bp.route("/stories/<sid>", methods=["GET"])
@auth.login_required
def story(sid: str) -> tuple[str, int] | BaseResponse:
    svc = service()
    try:
        resolved = svc.store.resolve_story_id(sid)
        if resolved != sid:
            return back("editor.story", sid=resolved)
        why = svc.explain(sid)
    except NotFoundError:
        abort(404)
    reasons: dict[str, list[Any]] = {}
    for r in why.reasons:
        reasons.setdefault(r.tag, []).append(r)
    return page("story", story=why.story, reasons=reasons, event_text=why.event_text,
                sources={s.id: s for s in svc.list_sources()}, now=svc.clock())


@bp.route("/stories/<sid>/pin", methods=["POST"])
@auth.login_required
def pin(sid: str) -> BaseResponse:
    svc = service()
    user = auth.current_user()

    def work() -> object:
        until_text = _form("until")
        until = None
        if until_text:
            try:
                until = datetime.combine(date.fromisoformat(until_text),
                                         datetime.min.time(), UTC) + timedelta(days=1)
            except ValueError:
                raise UsageError(f"expiry: {until_text!r} is not a date such as "
                                 "2026-12-31") from None
        return svc.pin(sid, until=until, note=_form("note") or None,
                       order=_int(_form("order"), "order"), by=user.name if user else None)

    act("Pinned: it leads the page and featured.xml from the next publish.", "pin", sid, work,
        detail=" ".join(f"{k}={_form(k)}" for k in ("order", "until", "note") if _form(k)))
    return back("editor.story", sid=sid)


@bp.route("/stories/<sid>/<any(unpin, hide, unhide):action>", methods=["POST"])
@auth.login_required
def story_action(sid: str, action: str) -> BaseResponse:
    svc = service()
    work: Callable[[], object] = {
        "unpin": lambda: svc.unpin(sid),
        "hide": lambda: svc.set_hidden(sid, True),
        "unhide": lambda: svc.set_hidden(sid, False),
    }[action]
    done = {"unpin": "Unpinned.", "hide": "Hidden: it leaves every output at the next publish.",
            "unhide": "Visible again from the next publish."}[action]
    act(done, action, sid, work)
    return back("editor.story", sid=sid)


@bp.route("/stories/<sid>/tags", methods=["POST"])
@auth.login_required
def story_tags(sid: str) -> BaseResponse:
    svc = service()
    tag, what = _form("tag").lower(), _form("action", "add")
    if what not in ("add", "remove"):
        abort(400)
    user = auth.current_user()
    act(f"Tag {tag} {'added' if what == 'add' else 'removed'}.", f"tag.{what}", sid,
        lambda: svc.edit_story_tag(sid, tag, add=what == "add",
                                   by=user.name if user else None),
        detail=tag)
    return back("editor.story", sid=sid)


@bp.route("/stories/<sid>/merge", methods=["POST"])
@auth.login_required
def merge(sid: str) -> BaseResponse:
    other = _form("other")
    act(f"Merged {other} into this story.", "merge", sid,
        lambda: service().merge(sid, other), detail=other)
    return back("editor.story", sid=sid)


@bp.route("/copies/<cid>/split", methods=["POST"])
@auth.login_required
def split(cid: str) -> BaseResponse:
    result: list[str] = []

    def work() -> object:
        new = service().split(cid)
        result.append(new.id)
        return new

    if act("Split off into a story of its own.", "split", cid, work) and result:
        return back("editor.story", sid=result[0])
    return redirect(auth.safe_next(request.form.get("next"), url_for("editor.stories")),
                    code=303)


# -- sources (admin) -----------------------------------------------------------------------


@bp.route("/sources", methods=["GET"])
@auth.admin_required
def sources() -> tuple[str, int]:
    svc = service()
    now = svc.clock()
    return page("sources", sources=svc.list_sources(),
                per_week=svc.store.items_per_week(now - timedelta(days=7)), now=now)


def _source_entry(form: Any, sid: str | None = None) -> dict[str, Any]:
    """A source as a ``feeds/*.toml`` entry, from the form (validated like one)."""
    entry: dict[str, Any] = {"id": sid or (form.get("id") or "").strip(),
                             "url": (form.get("url") or "").strip(),
                             "kind": (form.get("kind") or "feed").strip(),
                             "title": (form.get("title") or "").strip()}
    tags = [t.strip() for t in (form.get("tags") or "").replace(",", " ").split() if t.strip()]
    if tags:
        entry["tags"] = tags
    if (form.get("priority") or "").strip():
        try:
            entry["priority"] = int(form["priority"])
        except ValueError:
            raise UsageError(f"priority: {form['priority']!r} is not a whole number") from None
    if (form.get("interval") or "").strip():
        entry["interval"] = form["interval"].strip()
    select = {k: form.get(f"select_{k}", "").strip()
              for k in ("item", "title", "link", "date", "summary", "content", "next")}
    select = {k: v for k, v in select.items() if v}
    if form.get("select_follow"):
        select["follow"] = True
    if select or entry["kind"] == "html":
        entry["select"] = select
    return entry


@bp.route("/sources/new", methods=["GET", "POST"])
@auth.admin_required
def source_new() -> tuple[str, int] | BaseResponse:
    return _source_form(None)


@bp.route("/sources/<sid>", methods=["GET", "POST"])
@auth.admin_required
def source_edit(sid: str) -> tuple[str, int] | BaseResponse:
    return _source_form(sid)


def _source_form(sid: str | None) -> tuple[str, int] | BaseResponse:
    svc = service()
    source = None
    if sid is not None:
        try:
            source = svc.store.get_source(sid)
        except NotFoundError:
            abort(404)
    preview = error = None
    form: Any = request.form if request.method == "POST" else None
    if form is not None:
        try:
            entry = _source_entry(form, sid)
            if form.get("do") == "check":
                preview = svc.preview_source(entry)
            elif source is not None and source.definition.origin != "db":
                raise UsageError(f"{sid} is defined in {source.definition.origin}: edit that "
                                 "file (the next start synchronizes it)")
            else:
                saved = svc.save_source(entry, new=source is None)
                auth.audit("source.add" if source is None else "source.edit", saved.id,
                           saved.fetch_url)
                flash(f"Saved {saved.id}; it is polled at the next cycle.", "ok")
                return back("editor.source_edit", sid=saved.id)
        except (UsageError, ConfigError) as e:
            error = str(e)
    return page("source", 400 if error else 200, source=source, form=form, preview=preview,
                error=error)


@bp.route("/sources/<sid>/<any(enable, disable, check):action>", methods=["POST"])
@auth.admin_required
def source_action(sid: str, action: str) -> tuple[str, int] | BaseResponse:
    svc = service()
    if action == "check":
        try:
            source = svc.store.get_source(sid)
        except NotFoundError:
            abort(404)
        preview = svc.preview_source(source.definition)
        return page("source", source=source, form=None, preview=preview, error=None)
    act(f"{sid} {'enabled' if action == 'enable' else 'disabled'}.", f"source.{action}", sid,
        lambda: svc.set_enabled(sid, action == "enable"))
    return back("editor.sources")


# -- digest ----------------------------------------------------------------------------------


@bp.route("/digest", methods=["GET"])
@auth.login_required
def digest() -> Response:
    svc = service()
    d = svc.digests
    status = d.status()
    content, frozen = d.content_for(status.period)
    from aggregator.digest.build import view_for

    view = view_for(content)
    history = [(r, svc.store.delivery_counts(r.id)) for r in svc.store.list_digests(limit=20, content=False)]
    html, code = page("digest", status=status, view=view, frozen=frozen, history=history,
                      approval=svc.config.digest.approval)
    response = Response(html, code, mimetype="text/html")
    # the page frames the preview, which comes from this site
    from aggregator.web import PAGE_CSP

    response.headers["Content-Security-Policy"] = PAGE_CSP + "; frame-src 'self'"
    return response


@bp.route("/digest/preview", methods=["GET"])
@auth.login_required
def digest_preview() -> Response:
    """The digest's HTML exactly as a subscriber gets it (shown in a sandboxed frame)."""
    from aggregator.digest import build, render

    svc = service()
    d = svc.digests
    period = d.current_period()
    content, _frozen = d.content_for(period)
    tags = [t for t in (request.args.get("tags") or "").split(",") if t]
    rendered = render.personalize(
        render.render_digest(svc.config, build.view_for(content, tags)),
        recipient="subscriber@example.org", unsubscribe_url=svc.config.web_url + "unsubscribe",
        preferences_url=svc.config.web_url + "preferences")
    body = rendered.html if request.args.get("format") != "text" else rendered.text
    response = Response(body, mimetype="text/plain" if request.args.get("format") == "text"
                        else "text/html")
    # the preview is mail content: no script, no form, nothing that acts as this site
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'; form-action 'none'")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.route("/digest/approve", methods=["POST"])
@auth.login_required
def digest_approve() -> BaseResponse:
    svc = service()
    user = auth.current_user()
    act("Approved: the digest is frozen as previewed and goes out when due.", "digest.approve",
        svc.digests.current_period(),
        lambda: svc.digests.approve(by=user.name if user else "editor"))
    return back("editor.digest")


@bp.route("/digest/test", methods=["POST"])
@auth.login_required
def digest_test() -> BaseResponse:
    svc = service()
    address = _form("address")
    act(f"A test copy went to {address}.", "digest.test", svc.digests.current_period(),
        lambda: svc.digests.send_test(address), detail=address)
    return back("editor.digest")


# -- subscribers (admin) ------------------------------------------------------------------------


@bp.route("/subscribers", methods=["GET", "POST"])
@auth.admin_required
def subscribers() -> tuple[str, int] | BaseResponse:
    svc = service()
    if request.method == "POST":
        address = _form("email")
        act(f"{address} added.", "subscriber.add", address,
            lambda: svc.digests.add(address, tags=_form("tags"),
                                    confirmed=bool(request.form.get("confirmed")),
                                    origin="web"))
        return back("editor.subscribers")
    search = (request.args.get("q") or "").strip()
    status = request.args.get("status") or None
    from aggregator.models import SUBSCRIBER_STATUSES

    if status not in SUBSCRIBER_STATUSES:
        status = None
    found = svc.digests.list(status=status, search=search or None)
    return page("subscribers", subscribers=found, search=search, status=status,
                statuses=SUBSCRIBER_STATUSES, counts=svc.store.count_subscribers())


@bp.route("/subscribers/<int:sub_id>/remove", methods=["POST"])
@auth.admin_required
def subscriber_remove(sub_id: int) -> BaseResponse:
    svc = service()
    act("Removed, with their delivery records.", "subscriber.remove", str(sub_id),
        lambda: svc.digests.remove_id(sub_id))
    return back("editor.subscribers")


@bp.route("/subscribers.csv", methods=["GET"])
@auth.admin_required
def subscribers_csv() -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "tags", "status", "created_at", "confirmed_at"])
    for s in service().digests.list():
        writer.writerow([s.email, ",".join(s.tags), s.status, s.created_at.isoformat(),
                         s.confirmed_at.isoformat() if s.confirmed_at else ""])
    auth.audit("subscriber.export", "subscribers.csv")
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="subscribers.csv"'
    return response


# -- audit log ---------------------------------------------------------------------------------


@bp.route("/audit", methods=["GET"])
@auth.login_required
def audit_log() -> tuple[str, int]:
    try:
        number = max(int(request.args.get("page", "1")), 1)
    except ValueError:
        number = 1
    entries = service().list_audit(limit=PAGE_SIZE + 1, offset=(number - 1) * PAGE_SIZE)
    return page("audit", entries=entries[:PAGE_SIZE], number=number,
                more=len(entries) > PAGE_SIZE)
