"""Rendering a digest: Jinja2 (``templates/email/``), css-inline, and the MIME message.

A digest is rendered once per distinct set of topic filters, with placeholders
where each subscriber's own links go; :func:`personalize` fills them in. The HTML
has its CSS inlined (mail clients drop ``<style>``); the text part says the same.

Messages are built with :mod:`email` under the SMTP policy: CRLF line ends,
headers folded and RFC 2047-encoded where they are not ASCII, bodies in
quoted-printable, so no raw 8-bit byte is ever sent. Header values are checked
for CR/LF by the policy itself; nothing taken from a feed goes into a header.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass, replace
from datetime import datetime
from email.message import EmailMessage
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import escape

from aggregator.config import Config
from aggregator.digest.build import DigestView, period_label
from aggregator.templating import environment

#: stand-ins for what differs per subscriber (URL-safe, survive escaping and inlining)
RECIPIENT = "__RECIPIENT__"
UNSUBSCRIBE_URL = "__UNSUBSCRIBE_URL__"
PREFERENCES_URL = "__PREFERENCES_URL__"

#: building: bodies in quoted-printable lines of at most 76 characters (RFC 2045)
POLICY = email.policy.SMTP
#: writing: a header is folded at spaces only; one that has none where it would need
#: them (a long List-Unsubscribe URL) stays on one line (RFC 5322 allows 998) instead
#: of being turned into encoded words, which would break it
WIRE_POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    html: str
    text: str


@lru_cache(maxsize=4)
def _inliner() -> Any:
    import css_inline

    # keep @media rules in a <style> for the clients that honour them
    return css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def subject_for(config: Config, view: DigestView) -> str:
    n = view.story_count
    return f"{config.digest.title} — {period_label(view.period)}: {n} new " + \
        ("story" if n == 1 else "stories")


def archive_url(config: Config, period: str) -> str:
    return f"{config.site.url}digests/{period}.html"


def _lead(view: DigestView) -> str:
    n = view.story_count
    parts = [f"{n} new {'story' if n == 1 else 'stories'}"]
    m = len(view.meetings)
    if m:
        parts.append(f"{m} upcoming {'meeting' if m == 1 else 'meetings'}")
    return " and ".join(parts) + f" for {period_label(view.period)}."


def render_digest(config: Config, view: DigestView, *, public: bool = False) -> Rendered:
    """The digest's subject, HTML (CSS inlined) and text.

    ``public``: the copy for ``output/digests/``, with no subscriber's links; else
    the placeholders :func:`personalize` replaces.
    """
    from aggregator.publish import tag_label

    env = environment(config.site.templates)
    heading = f"{config.digest.title} — {period_label(view.period)}"
    context = {
        "site": config.site, "view": view, "title": config.digest.title, "heading": heading,
        "lead": _lead(view), "public": public,
        "filter_labels": [tag_label(t) for t in view.filters],
        "archive_url": archive_url(config, view.period),
        "subscribe_url": config.web_url + "subscribe",
        "recipient": RECIPIENT, "unsubscribe_url": UNSUBSCRIBE_URL,
        "preferences_url": PREFERENCES_URL,
    }
    html = env.get_template("email/digest.html").render(context)
    text = env.get_template("email/digest.txt").render(context)
    return Rendered(subject_for(config, view), _inliner().inline(html), text)


def personalize(rendered: Rendered, *, recipient: str, unsubscribe_url: str,
                preferences_url: str) -> Rendered:
    """Put one subscriber's address and links where the placeholders are."""
    def fill(body: str, esc: bool) -> str:
        who = str(escape(recipient)) if esc else recipient
        return (body.replace(RECIPIENT, who)
                .replace(UNSUBSCRIBE_URL, str(escape(unsubscribe_url)) if esc else unsubscribe_url)
                .replace(PREFERENCES_URL,
                         str(escape(preferences_url)) if esc else preferences_url))

    return replace(rendered, html=fill(rendered.html, True), text=fill(rendered.text, False))


def sender_domain(config: Config) -> str:
    _name, addr = email.utils.parseaddr(config.email.sender)
    return addr.rpartition("@")[2].lower() or "localhost"


def list_id(config: Config) -> str:
    """RFC 2919: a name and a dotted identifier under the sender's domain."""
    return f"{config.digest.title} <digest.{sender_domain(config)}>"


def message_id(config: Config, *parts: object) -> str:
    """A Message-ID that says what it is (the same delivery always gets the same one)."""
    return "<" + ".".join(str(p) for p in parts) + f"@{sender_domain(config)}>"


def compose(config: Config, rendered: Rendered, *, to: str, now: datetime,
            msg_id: str, unsubscribe_url: str | None = None,
            unsubscribe_token: str | None = None) -> EmailMessage:
    """A multipart/alternative message: text/plain first, then HTML."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = config.email.sender
    msg["To"] = to
    msg["Subject"] = rendered.subject
    msg["Date"] = email.utils.format_datetime(now)
    msg["Message-ID"] = msg_id
    if unsubscribe_url is not None:
        msg["List-Id"] = list_id(config)
        mailto = config.email.unsubscribe_address or config.email.sender
        _name, addr = email.utils.parseaddr(mailto)
        subject = quote(f"unsubscribe {unsubscribe_token or ''}".strip())
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>, <mailto:{addr}?subject={subject}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def as_bytes(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=WIRE_POLICY)


def render_confirmation(config: Config, *, recipient: str, confirm_url: str,
                        topics: list[str], days: int) -> Rendered:
    env = environment(config.site.templates)
    context = {"site": config.site, "title": config.digest.title, "recipient": recipient,
               "confirm_url": confirm_url, "topics": topics, "days": days}
    html = env.get_template("email/confirm.html").render(context)
    text = env.get_template("email/confirm.txt").render(context)
    subject = f"Confirm your subscription to the {config.digest.title}"
    return Rendered(subject, _inliner().inline(html), text)
