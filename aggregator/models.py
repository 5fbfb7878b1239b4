"""The typed data that crosses every stage boundary.

All frozen: a stage returns new values instead of changing what it was given.
Nothing past the parser sees a ``FeedParserDict``; nothing past the store sees a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class SourceStatus(StrEnum):
    NEW = "new"
    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"


class SourceKind(StrEnum):
    FEED = "feed"  # RSS 0.9x/1.0/2.0, Atom, JSON Feed
    HTML = "html"  # a listing page read with CSS selectors


@dataclass(frozen=True, slots=True)
class SelectRules:
    """CSS selectors for an ``html`` source (``[source.select]``)."""

    item: str
    title: str
    link: str
    date: str | None = None
    summary: str | None = None
    #: on followed pages: the element that holds the full text
    content: str | None = None
    #: link to the next listing page (``?page=N`` pagers)
    next: str | None = None
    max_pages: int = 1
    follow: bool = False
    #: at most this many linked pages fetched in one poll
    max_follow: int = 50


@dataclass(frozen=True, slots=True)
class SourceDef:
    """A source as defined in ``feeds/*.toml`` or added at run time."""

    id: str
    url: str
    kind: SourceKind = SourceKind.FEED
    title: str = ""
    tags: tuple[str, ...] = ()
    #: seconds between polls; None: ``[fetch] interval``
    interval: float | None = None
    #: higher wins as a cluster's representative
    priority: int = 0
    select: SelectRules | None = None
    #: the file it came from, or "db" for sources added with ``sources add``
    origin: str = "db"


@dataclass(frozen=True, slots=True)
class Source:
    """A source with its health, as the store knows it."""

    definition: SourceDef
    enabled: bool = True
    status: SourceStatus = SourceStatus.NEW
    #: why it is disabled: "user", "gone" (410), "removed" (vanished from the files)
    disabled_reason: str | None = None
    #: after a permanent redirect, where the feed now lives
    effective_url: str | None = None
    #: a permanent redirect seen once; it becomes effective_url when seen again
    redirect_candidate: str | None = None
    last_error: str | None = None
    error_count: int = 0
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    next_poll_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: digest of the last body parsed and stored (``pipeline.body_digest``): a 200 with
    #: the same body is not parsed again, for servers that send no ETag or Last-Modified
    body_hash: str | None = None
    #: how many copies of this source are stored
    items: int = 0
    #: when the definition last changed (added, edited, enabled or disabled)
    changed_at: datetime | None = None

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def fetch_url(self) -> str:
        return self.effective_url or self.definition.url


@dataclass(frozen=True, slots=True)
class Response:
    """A successful HTTP exchange (200 or 304), after redirects."""

    url: str  # the final URL
    status: int
    content: bytes = b""
    #: header names lower-cased
    headers: Mapping[str, str] = field(default_factory=dict)
    #: set when every hop to ``url`` was a permanent redirect (301/308)
    permanent_redirect: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True, slots=True)
class Enclosure:
    url: str
    type: str = ""
    length: int | None = None


@dataclass(frozen=True, slots=True)
class EntryData:
    """One entry as the document gave it, before normalization."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    #: summary and content are HTML (text-only fields are escaped by the parser)
    summary: str | None = None
    content: str | None = None
    #: base URL for relative links in summary and content (xml:base or document URL)
    base: str | None = None
    published: datetime | None = None
    published_text: str | None = None
    updated: datetime | None = None
    updated_text: str | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None


@dataclass(frozen=True, slots=True)
class FeedData:
    """What the parser recovered from one document."""

    url: str
    format: str  # "rss20", "atom10", "json11", "html", ...
    title: str | None = None
    link: str | None = None
    language: str | None = None
    entries: tuple[EntryData, ...] = ()
    #: the publisher's own polling hint (``<ttl>``, ``sy:updatePeriod``), seconds
    ttl: float | None = None
    #: triage: what was wrong but recovered (bozo reasons, skipped entries)
    warnings: tuple[str, ...] = ()
    #: html listings: the next listing page (``select.next``), absolute
    next_page: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One copy: an entry as one source published it, normalized and ready to store."""

    source_id: str
    guid: str
    url: str | None
    canonical_url: str | None
    title: str
    summary_html: str = ""
    content_html: str = ""
    #: plain text of title, summary and content, for matching
    text: str = ""
    author: str | None = None
    published: datetime | None = None  # aware UTC; None: use first seen
    updated: datetime | None = None
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    language: str | None = None
    #: hash of the normalized content, leaving out volatile fields
    content_hash: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    start: date
    end: date
    location: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, lower case


@dataclass(frozen=True, slots=True)
class TagReason:
    """One tag and why: the rule that gave it and the text it matched."""

    tag: str  # "migrant-smuggling", "country:eg", "region:northern-africa", "org:unodc"
    rule: str  # "tags.migrant-smuggling", "gazetteer", "region", "event", "source", "editor"
    matched: str = ""  # the text as written in the item
    field: str = ""  # "title", "summary", "content", "categories", or ""


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the pure stages found in one copy: its tags, its event, its dedupe features."""

    tags: tuple[TagReason, ...] = ()
    event: Event | None = None
    event_text: str | None = None
    #: MinHash signature and JSON-able features for near-duplicate search
    signature: bytes | None = None
    features: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Duplicate:
    id: str  # copy id
    source: str
    url: str | None
    title: str


@dataclass(frozen=True, slots=True)
class Story:
    """A duplicate cluster as the outputs and the CLI see it."""

    id: str
    title: str
    url: str | None
    source: str  # the representative copy's source id
    source_title: str
    source_url: str | None
    published: datetime
    first_seen: datetime
    updated: datetime
    summary_html: str = ""
    content_html: str = ""
    tags: tuple[str, ...] = ()
    #: pinned now (a pin whose expiry has passed no longer counts)
    pinned: bool = False
    hidden: bool = False
    event: Event | None = None
    duplicates: tuple[Duplicate, ...] = ()
    copy_id: str = ""  # the representative copy
    categories: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()
    author: str | None = None
    pin: Pin | None = None
    #: bumped by the store whenever the story's copies, tags, date or visibility change
    revision: int = 0


@dataclass(frozen=True, slots=True)
class StoryRef:
    """A story's place in a feed without its content: which one, and which version."""

    id: str
    revision: int
    updated: datetime


@dataclass(frozen=True, slots=True)
class Pin:
    """An editor's pin: featured stories lead the page and the digest, in ``order``."""

    at: datetime
    order: int = 0
    until: datetime | None = None
    note: str | None = None
    by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.until is None or now < self.until


def pin_order(story: Story) -> tuple[int, float]:
    """How featured stories are listed: by pin order, then the latest pinned first."""
    pin = story.pin
    return (pin.order, -pin.at.timestamp()) if pin else (0, 0.0)


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one poll of one source did."""

    source_id: str
    status: SourceStatus
    new: int = 0
    updated: int = 0
    not_modified: bool = False
    #: a 200 whose body is the one parsed last time: not parsed again (like a 304)
    unchanged: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PollReport:
    outcomes: tuple[SourceOutcome, ...] = ()

    @property
    def ok(self) -> int:
        return sum(1 for o in self.outcomes if o.error is None)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if o.error is not None)

    @property
    def new(self) -> int:
        return sum(o.new for o in self.outcomes)

    @property
    def updated(self) -> int:
        return sum(o.updated for o in self.outcomes)


@dataclass(frozen=True, slots=True)
class PublishReport:
    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    #: stories in the main feed (-1 when the publish was skipped)
    stories: int = 0
    #: nothing the outputs depend on had changed: nothing was rendered
    skipped: bool = False


# -- the digest ---------------------------------------------------------------------------

SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "bouncing")


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    status: str  # one of SUBSCRIBER_STATUSES
    tags: tuple[str, ...]  # topic filters; empty: every story
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    confirm_sent_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounce_count: int = 0
    last_error: str | None = None
    origin: str = "cli"


@dataclass(frozen=True, slots=True)
class DigestRecord:
    """One period's digest as stored: frozen content, its window, its state."""

    id: int
    period: str
    status: str  # "open" or "sent"
    window_start: datetime
    window_end: datetime
    content: dict[str, Any]
    story_count: int
    created_at: datetime
    approved_at: datetime | None = None
    approved_by: str | None = None
    sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (digest, subscriber) delivery claimed by a sender."""

    id: int
    digest_id: int
    subscriber_id: int
    email: str
    tags: tuple[str, ...]
    subscriber_status: str
    status: str
    attempts: int = 0


# -- editors (aggregator.web.auth) --------------------------------------------------------

USER_ROLES = ("editor", "admin")


@dataclass(frozen=True, slots=True)
class User:
    """Someone who may log in to the editor pages; the password hash stays in the store."""

    id: int
    name: str
    role: str  # one of USER_ROLES
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = None
    #: wrong passwords in a row since the last login (or the last lock)
    failed_logins: int = 0
    #: refused until then after too many wrong passwords
    locked_until: datetime | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log: who did what to which thing, and when."""

    id: int
    at: datetime
    user: str | None  # None: the system (or the command line without a user)
    action: str  # "pin", "hide", "source.add", "login", ...
    target: str  # a story id, a source id, a user name, ...
    detail: str = ""
