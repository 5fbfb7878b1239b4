"""Rendering a digest: Jinja2 (``templates/email/``), css-inline, and the MIME message.

A digest is rendered once per distinct set of topic filters, with placeholders
where each subscriber's own links go; :func:`personalize` fills them in. The HTML
has its CSS inlined (mail clients drop ``<style>``); the text part says the same.

Messages are built with :mod:`email` under the SMTP policy: CRLF line ends,
headers folded and RFC 2047-encoded where they are not ASCII, bodies in
quoted-printable, so no raw 8-bit byte is ever sent (:class:`Composer`). Header
values are checked for CR/LF; nothing taken from a feed goes into a header.
"""

from __future__ import annotations

import binascii
import email.policy
import email.utils
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
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

#: headers are folded at 78 and RFC 2047-encoded where they are not ASCII
POLICY = email.policy.SMTP


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


def public_copy(config: Config, content: dict[str, Any]) -> bytes:
    """The page ``output/digests/<period>.html``: the digest with no subscriber's data."""
    from aggregator.digest.build import view_for

    return render_digest(config, view_for(content), public=True).html.encode("utf-8")


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


class Composer:
    """Builds the wire bytes of many messages that share a subject and a body.

    The headers that are the same for every message are folded once (with the
    email package's SMTP policy: RFC 2047 where not ASCII); per message only the
    recipient's headers are added (List-Unsubscribe on one line, never turned into
    encoded words, which would break its URLs) and the two parts encoded, with the C
    quoted-printable encoder of :mod:`binascii`. The result is what
    ``EmailMessage.as_bytes`` would give, in a fraction of the time, which is
    what a digest to ten thousand people needs. Values taken per message must be
    one ASCII line (checked); nothing from a feed ever goes into a header.
    """

    def __init__(self, config: Config, subject: str) -> None:
        self.config = config
        self.head = (_fold("From", config.email.sender) + _fold("Subject", subject)).encode("ascii")
        self.list_id = _fold("List-Id", list_id(config)).encode("ascii")
        mailto = config.email.unsubscribe_address or config.email.sender
        self.mailto = email.utils.parseaddr(mailto)[1]

    def message(self, *, html: str, text: str, to: str, now: datetime, msg_id: str,
                unsubscribe_url: str | None = None, unsubscribe_token: str | None = None
                ) -> bytes:
        """One multipart/alternative message: text/plain first, then HTML."""
        text_part = _qp(text)
        html_part = _qp(html)
        boundary = _boundary(text_part, html_part)
        lines = [self.head, _line("To", to), _line("Date", email.utils.format_datetime(now)),
                 _line("Message-ID", msg_id)]
        if unsubscribe_url is not None:
            subject = quote(f"unsubscribe {unsubscribe_token or ''}".strip())
            lines += [self.list_id,
                      _line("List-Unsubscribe",
                            f"<{unsubscribe_url}>, <mailto:{self.mailto}?subject={subject}>"),
                      b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]
        b = boundary.encode("ascii")
        lines += [b"MIME-Version: 1.0\r\n",
                  b'Content-Type: multipart/alternative; boundary="' + b + b'"\r\n', b"\r\n",
                  b"--" + b + b"\r\n", _PART_HEAD % b"plain", text_part, b"\r\n",
                  b"--" + b + b"\r\n", _PART_HEAD % b"html", html_part, b"\r\n",
                  b"--" + b + b"--\r\n"]
        return b"".join(lines)


_PART_HEAD = (b'Content-Type: text/%s; charset="utf-8"\r\n'
              b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")


def _fold(name: str, value: str) -> str:
    return POLICY.fold(name, POLICY.header_store_parse(name, value)[1])


def _line(name: str, value: str) -> bytes:
    """A header whose value must be one line of ASCII (an address, a date, a URL)."""
    if not value.isascii() or any(c in value for c in "\r\n\0") or len(value) > 900:
        raise ValueError(f"{name}: not one line of ASCII: {value[:80]!r}")
    return f"{name}: {value}\r\n".encode("ascii")


def _qp(body: str) -> bytes:
    """UTF-8, quoted-printable (lines of at most 76), CRLF line ends, ending in a newline."""
    data = body.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    if not data.endswith(b"\n"):
        data += b"\n"
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def _boundary(*parts: bytes) -> str:
    while True:
        boundary = "=_" + uuid.uuid4().hex
        if not any(boundary.encode("ascii") in p for p in parts):
            return boundary


def compose(config: Config, rendered: Rendered, *, to: str, now: datetime, msg_id: str,
            unsubscribe_url: str | None = None, unsubscribe_token: str | None = None) -> bytes:
    """One message's bytes (a :class:`Composer` for a single message)."""
    return Composer(config, rendered.subject).message(
        html=rendered.html, text=rendered.text, to=to, now=now, msg_id=msg_id,
        unsubscribe_url=unsubscribe_url, unsubscribe_token=unsubscribe_token)


def render_confirmation(config: Config, *, recipient: str, confirm_url: str,
                        topics: list[str], days: int) -> Rendered:
    env = environment(config.site.templates)
    context = {"site": config.site, "title": config.digest.title, "recipient": recipient,
               "confirm_url": confirm_url, "topics": topics, "days": days}
    html = env.get_template("email/confirm.html").render(context)
    text = env.get_template("email/confirm.txt").render(context)
    subject = f"Confirm your subscription to the {config.digest.title}"
    return Rendered(subject, _inliner().inline(html), text)
