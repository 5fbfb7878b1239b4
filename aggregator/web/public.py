"""The public subscription pages: subscribe, confirm, unsubscribe (with RFC 8058
one-click), preferences. Every action is authorized by the signed token in the email's link
(:mod:`aggregator.digest.tokens`), so these forms need no session or cookie.

GET never changes anything (mail scanners open links); each page shows a button
that POSTs. The one-click POST a mail client sends (``List-Unsubscribe=One-Click``
in the body, the token in the URL) unsubscribes at once.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request, url_for

from aggregator.digest import Digests
from aggregator.digest.tokens import BadToken
from aggregator.errors import UsageError
from aggregator.web.auth import RateLimiter, csrf_exempt

bp = Blueprint("public", __name__)


def digests() -> Digests:
    """The app's :class:`Digests` (over the app's one service)."""
    from aggregator.web.context import get_service

    return get_service().digests


def _page(name: str, status: int = 200, **context: Any) -> tuple[str, int]:
    from aggregator.templating import environment

    config = current_app.config["AGGREGATOR"]
    env = environment(config.site.templates)
    html = env.get_template(f"public/{name}.html").render(
        site=config.site, title=config.digest.title, url_for=url_for, **context)
    return html, status


def _token() -> str:
    return (request.form.get("token") or request.args.get("token") or "").strip()


def _refused(e: UsageError) -> tuple[str, int]:
    return _page("message", 400, heading="This link does not work", message=str(e).capitalize()
                 + ". Links in our emails are personal; ask for a new one by subscribing again.")


#: subscribe attempts per client address, and confirmation emails per address
SUBSCRIBE_PER_CLIENT = (5, 3600.0)


def _subscribe_limiter() -> RateLimiter:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    limiter = app.extensions.get("aggregator.subscribe_limiter")
    if limiter is None:
        limiter = app.extensions.setdefault("aggregator.subscribe_limiter",
                                            RateLimiter(*SUBSCRIBE_PER_CLIENT))
    return limiter


@bp.route("/subscribe", methods=["GET", "POST"])
def subscribe() -> tuple[str, int]:
    """Double opt-in: the form sends a confirmation email; nothing else happens here.

    The answer is the same whether the address is new, pending or subscribed (the
    form must not tell who subscribes), and mail goes out at most once an hour per
    address and five times an hour per client, so the form cannot mail-bomb anyone.
    """
    from aggregator.publish import tag_label
    from aggregator.web.auth import csrf_token

    d = digests()
    topics = [(t, tag_label(t)) for t in d.sections]
    if request.method == "GET":
        return _page("subscribe", topics=topics, csrf_token=csrf_token(), error=None)
    address = (request.form.get("email") or "").strip()
    chosen = [t for t in request.form.getlist("topic") if t in d.sections]
    if _subscribe_limiter().hit(request.remote_addr or "unknown") is not None:
        return _page("message", 429, heading="Too many requests",
                     message="Please try again in an hour.")
    try:
        d.subscribe(address, tags=chosen)
    except UsageError as e:
        return _page("subscribe", 400, topics=topics, csrf_token=csrf_token(), error=str(e))
    return _page("message", heading="Check your inbox",
                 message=f"If {address} can receive mail, a message with a confirmation link "
                         "is on its way. The subscription starts when you open it.")


@bp.route("/confirm", methods=["GET", "POST"])
@csrf_exempt  # the signed token authorizes; one-click comes without cookies
def confirm() -> tuple[str, int]:
    token = _token()
    try:
        if request.method == "GET":
            sub = digests().subscriber_for("confirm", token)
            return _page("confirm", email=sub.email, token=token, done=sub.status == "active")
        sub = digests().confirm(token)
    except BadToken as e:
        return _refused(e)
    return _page("message", heading="You are subscribed",
                 message=f"{sub.email} will receive the {current_app.config['AGGREGATOR'].digest.title}.")


@bp.route("/unsubscribe", methods=["GET", "POST"])
@csrf_exempt  # the signed token authorizes; one-click comes without cookies
def unsubscribe() -> tuple[str, int]:
    token = _token()
    try:
        if request.method == "GET":
            sub = digests().subscriber_for("unsubscribe", token)
            return _page("unsubscribe", email=sub.email, token=token,
                         done=sub.status == "unsubscribed")
        sub = digests().unsubscribe(token)
    except BadToken as e:
        return _refused(e)
    return _page("message", heading="You are unsubscribed",
                 message=f"{sub.email} will receive no more digests.")


@bp.route("/preferences", methods=["GET", "POST"])
@csrf_exempt  # the signed token authorizes; one-click comes without cookies
def preferences() -> tuple[str, int]:
    from aggregator.publish import tag_label

    d = digests()
    token = _token()
    try:
        sub = d.subscriber_for("preferences", token)
        if request.method == "POST":
            chosen = [t for t in request.form.getlist("topic") if t in d.sections]
            sub = d.set_topics(token, chosen)
            saved = True
        else:
            saved = False
    except BadToken as e:
        return _refused(e)
    except UsageError as e:
        return _page("message", 400, heading="Not saved", message=str(e))
    topics = [(t, tag_label(t), t in sub.tags) for t in d.sections]
    unsubscribe_link = d.link("unsubscribe", sub)
    return _page("preferences", email=sub.email, token=token, topics=topics, saved=saved,
                 unsubscribe_url=unsubscribe_link)
