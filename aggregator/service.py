"""The service functions: what the CLI, the worker and the web app all call.

:class:`Service` opens the configuration, the source files and the store once
(migrating and synchronizing sources at start), then offers one method per user
action. There is one pipeline, not three.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from argon2 import PasswordHasher

from aggregator import accounts
from aggregator.config import Config, load_config, load_sources
from aggregator.errors import (
    AccountLocked,
    AggregatorError,
    LoginFailed,
    NotFoundError,
    UsageError,
)
from aggregator.models import (
    AuditEntry,
    PollReport,
    PublishReport,
    Source,
    SourceDef,
    SourceKind,
    SourceOutcome,
    Story,
    User,
)
from aggregator.store import PruneReport, Reason, Store, SyncReport
from aggregator.tagging import TagRules, compile_rules

if TYPE_CHECKING:
    from aggregator.digest import Digests, SendReport
    from aggregator.pipeline import SourcePreview

SECRET_FILE = "secret_key"


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_secret(config: Config) -> bytes:
    """The key for signed links: from the environment, else generated once (mode 0600)."""
    from_env = os.environ.get(config.web.secret_env)
    if from_env:
        return from_env.encode("utf-8")
    path = config.storage.data_dir / SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key


@dataclass(frozen=True, slots=True)
class RunReport:
    poll: PollReport
    publish: PublishReport
    #: the digest sent (or tried) in this cycle; None when none was due
    digest: SendReport | None = None
    #: why a due digest was not sent ("awaiting-approval")
    digest_note: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    story: Story
    reasons: tuple[Reason, ...]
    event_text: str | None


@dataclass(frozen=True, slots=True)
class TagChange:
    """What re-running the rules would do to one copy's tags."""

    copy_id: str
    story_id: str
    source: str
    title: str
    added: tuple[str, ...]
    removed: tuple[str, ...]

#: tags the rules decide (source tags come from the source, editors' from editors)
_RULE_KINDS = ("tags.", "gazetteer", "region", "event")


class Service:
    def __init__(self, config: Config, store: Store, *,
                 clock: Callable[[], datetime] = utcnow, rules: TagRules | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.rules = rules or compile_rules(config.tags, path=config.path)
        self.sync: SyncReport | None = None
        self._digests: Digests | None = None

    @classmethod
    def open(cls, config_path: str | os.PathLike[str] | None = None, *,
             clock: Callable[[], datetime] = utcnow) -> Service:
        config = load_config(config_path)
        return cls.from_config(config, clock=clock)

    @classmethod
    def from_config(cls, config: Config, *, clock: Callable[[], datetime] = utcnow) -> Service:
        defs = load_sources(config)  # validate the files before touching the database
        rules = compile_rules(config.tags, path=config.path)
        store = Store.open(config.storage.url)
        service = cls(config, store, clock=clock, rules=rules)
        service.sync = store.sync_sources(defs, clock())
        ensure_secret(config)
        return service

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the cycle -------------------------------------------------------------------

    def poll(self, *, ids: Sequence[str] = (), all_sources: bool = False, offline: bool = False,
             progress: Callable[[SourceOutcome], None] | None = None,
             on_claimed: Callable[[int], None] | None = None) -> PollReport:
        from aggregator.pipeline import poll  # the fetch and parse stack: only when polling

        if ids:
            known = {s.id for s in self.store.list_sources(ids)}
            missing = [i for i in ids if i not in known]
            if missing:
                raise UsageError(f"no source with id {missing[0]!r} (see: aggregator sources list)")
        return poll(self.store, self.config, ids=list(ids) or None,
                    due_only=not (all_sources or ids), offline=offline, clock=self.clock,
                    progress=progress, on_claimed=on_claimed, rules=self.rules)

    def publish(self, *, force: bool = False) -> PublishReport:
        from aggregator.publish import changed_feeds, publish

        now = self.clock()
        report = publish(self.store, self.config, now, force=force)
        hub = self.config.output.websub_hub
        if hub and report.written:
            from aggregator.publish.websub import notify_hub

            notify_hub(hub, changed_feeds(self.config, report),
                       user_agent=self.config.fetch.user_agent)
        if report.written:
            self.store.set_state("last_publish_at", now.isoformat())
        self.store.set_state("last_publish_checked_at", now.isoformat())
        return report

    def run_once(self, *, offline: bool = False,
                 progress: Callable[[SourceOutcome], None] | None = None,
                 on_claimed: Callable[[int], None] | None = None) -> RunReport:
        polled = self.poll(offline=offline, progress=progress, on_claimed=on_claimed)
        sent, note = self.send_digest_if_due()
        return RunReport(poll=polled, publish=self.publish(), digest=sent, digest_note=note)

    def prune(self) -> PruneReport:
        """Retention: remove the stories older than ``[storage] retention_days``."""
        from aggregator.pipeline import retention_cutoff

        now = self.clock()
        cutoff = retention_cutoff(self.config, now)
        if cutoff is None:
            return PruneReport()
        return self.store.prune(cutoff, now)

    # -- the digest ------------------------------------------------------------------

    @property
    def digests(self) -> Digests:
        """Subscribers and the digest (built on first use: it reads the secret key)."""
        if self._digests is None:
            from aggregator.digest import Digests  # mail and templates: only when needed

            self._digests = Digests(self.config, self.store, ensure_secret(self.config),
                                    clock=self.clock, topics=self.rules.names)
        return self._digests

    def send_digest_if_due(self, *, stop: threading.Event | None = None
                           ) -> tuple[SendReport | None, str | None]:
        """What a cycle does about the digest: send it when due (and approved)."""
        digests = self.digests
        if not digests.is_due():
            return None, None
        period = digests.current_period()
        record = self.store.get_digest(period)
        if self.config.digest.approval and (record is None or record.approved_at is None):
            return None, "awaiting-approval"
        return digests.send(period, stop=stop), None

    # -- sources ---------------------------------------------------------------------

    def list_sources(self) -> list[Source]:
        return self.store.list_sources()

    def set_enabled(self, source_id: str, enabled: bool) -> Source:
        return self.store.set_enabled(source_id, enabled, self.clock())

    def add_source(self, url: str, *, source_id: str | None = None, title: str | None = None,
                   tags: Sequence[str] = (), priority: int = 0) -> Source:
        """Add a feed by URL, discovering it through ``<link rel="alternate">`` if needed."""
        from aggregator.discover import discover, slug_for
        from aggregator.fetch import Fetcher

        existing = self.store.find_source_by_url(url)
        if existing:
            raise UsageError(f"{url} is already a source: {existing.id}")

        async def find() -> tuple[str, str | None]:
            async with Fetcher(self.config.fetch) as fetcher:
                found = await discover(fetcher, url,
                                       max_items=self.config.fetch.max_items_per_fetch)
            return found.url, found.feed.title

        try:
            feed_url, feed_title = asyncio.run(find())
        except AggregatorError as e:
            raise UsageError(f"cannot add {url}: {e}") from e
        existing = self.store.find_source_by_url(feed_url)
        if existing:
            raise UsageError(f"{feed_url} is already a source: {existing.id}")
        sid = source_id or self._free_id(slug_for(feed_title, feed_url))
        from aggregator.config import source_from_dict

        definition = source_from_dict(
            {"id": sid, "url": feed_url, "kind": SourceKind.FEED.value,
             "title": title or feed_title or "", "tags": list(tags), "priority": priority},
            "sources add", "source", "db")
        return self.store.add_source(definition, self.clock())

    def export_opml(self) -> bytes:
        from aggregator.publish import sources_opml

        return sources_opml(self.store, self.config)

    def import_opml(self, path: str, *, tags: Sequence[str] = ()) -> tuple[list[Source], int]:
        """Add the feeds of an OPML file; those already present (by URL) are skipped."""
        from aggregator.config import source_from_dict
        from aggregator.discover import slug_for
        from aggregator.parse.opml import parse_opml

        try:
            content = Path(path).read_bytes()
        except OSError as e:
            raise UsageError(f"cannot read {path}: {e.strerror or e}") from e
        feeds = parse_opml(content, origin=path)
        added: list[Source] = []
        skipped = 0
        for feed in feeds:
            if self.store.find_source_by_url(feed.url):
                skipped += 1
                continue
            definition = source_from_dict(
                {"id": self._free_id(slug_for(feed.title, feed.url)), "url": feed.url,
                 "kind": SourceKind.FEED.value, "title": feed.title, "tags": list(tags)},
                path, "outline", "db")
            added.append(self.store.add_source(definition, self.clock()))
        return added, skipped

    def _free_id(self, base: str) -> str:
        taken = {s.id for s in self.store.list_sources()}
        sid, n = base, 2
        while sid in taken:
            sid = f"{base}-{n}"
            n += 1
        return sid

    # -- stories ---------------------------------------------------------------------

    def list_stories(self, *, include_hidden: bool = False, tag: str | None = None) -> list[Story]:
        return self.store.list_stories(include_hidden=include_hidden, tag=tag)

    def get_story(self, story_id: str) -> Story:
        return self.store.get_story(story_id)

    def explain(self, story_id: str) -> Explanation:
        story = self.store.get_story(story_id)
        return Explanation(story, tuple(self.store.story_reasons(story.id)),
                           self.store.event_text(story.id))

    def pin(self, story_id: str, *, until: datetime | None = None, note: str | None = None,
            order: int = 0, by: str | None = None) -> Story:
        now = self.clock()
        if until is not None and until <= now:
            raise UsageError(f"--until {until.isoformat()} has already passed")
        return self.store.pin(story_id, now, until=until, note=note, order=order, by=by)

    def unpin(self, story_id: str) -> Story:
        return self.store.unpin(story_id, self.clock())

    def set_hidden(self, story_id: str, hidden: bool) -> Story:
        return self.store.set_hidden(story_id, hidden, self.clock())

    def merge(self, keep: str, other: str) -> Story:
        return self.store.merge_stories(keep, other, self.clock())

    def split(self, copy: str) -> Story:
        return self.store.split_copy(copy, self.clock())

    def edit_story_tag(self, story_id: str, tag: str, *, add: bool,
                       by: str | None = None) -> Story:
        """An editor adds a tag to a story, or takes one away (kept over re-tagging)."""
        from aggregator.config import TAG_RE

        if not TAG_RE.match(tag):
            raise UsageError(f"{tag!r} is not a tag (tags look like migrant-smuggling or "
                             "country:eg)")
        return self.store.edit_story_tag(story_id, tag, add=add, by=by, now=self.clock())

    # -- sources, from the editors' pages ----------------------------------------------

    def preview_source(self, source: SourceDef | dict[str, object], *,
                       offline: bool = False) -> SourcePreview:
        """Fetch and parse a source (a stored one, or a form's entry) without storing it."""
        from aggregator.config import source_from_dict
        from aggregator.pipeline import preview

        definition = source if isinstance(source, SourceDef) else source_from_dict(
            {"id": "preview", **{k: v for k, v in source.items() if k != "id"}},
            "the form", "source", "db")
        return preview(self.config, definition, rules=self.rules, offline=offline,
                       clock=self.clock)

    def save_source(self, entry: dict[str, object], *, new: bool) -> Source:
        """Add a source from a form, or change one that was added that way.

        The entry is checked like a ``feeds/*.toml`` entry; its address like a fetch's
        first request (no loopback, private or link-local host unless allow_private).
        """
        from aggregator.config import source_from_dict

        definition = source_from_dict(entry, "the form", "source", "db")
        check_public_address(definition.url, self.config.fetch.allow_private)
        existing = self.store.find_source_by_url(definition.url)
        if existing and existing.id != definition.id:
            raise UsageError(f"{definition.url} is already a source: {existing.id}")
        if new:
            if any(s.id == definition.id for s in self.store.list_sources()):
                raise UsageError(f"there is already a source {definition.id!r}")
            return self.store.add_source(definition, self.clock())
        return self.store.replace_source_definition(definition, self.clock())

    def tag_changes(self, rule: str | None = None) -> list[TagChange]:
        """Dry run: what the current rules would change in the stored copies' tags."""
        from aggregator.analyze import analyze

        if rule is not None and rule not in self.rules.names:
            raise UsageError(f"no tag rule named {rule!r} (rules: {', '.join(self.rules.names)})")
        changes = []
        for stored in self.store.iter_copies():
            now = {t.tag for t in analyze(stored.item, self.rules).tags}
            before = {t.tag for t in stored.tags if t.rule.startswith(_RULE_KINDS)}
            if rule is not None:
                now, before = ({t for t in tags if t == rule} for tags in (now, before))
            if now != before:
                changes.append(TagChange(stored.id, stored.story_id, stored.item.source_id,
                                         stored.item.title, tuple(sorted(now - before)),
                                         tuple(sorted(before - now))))
        return changes

    def apply_tag_rules(self) -> int:
        """Run the current rules over every stored copy; return how many changed."""
        from aggregator.analyze import analyze

        changed = 0
        for stored in self.store.iter_copies():
            analysis = analyze(stored.item, self.rules)
            kept = tuple(t for t in stored.tags if not t.rule.startswith(_RULE_KINDS))
            if {t.tag for t in analysis.tags} | {t.tag for t in kept} != \
                    {t.tag for t in stored.tags}:
                self.store.replace_analysis(stored.id, replace(analysis,
                                                               tags=analysis.tags + kept),
                                            self.clock())
                changed += 1
        return changed

    # -- editors' accounts and the audit log ------------------------------------------

    #: argon2id with argon2-cffi's defaults; tests may set cheaper parameters
    hasher: PasswordHasher = accounts.DEFAULT_HASHER

    def add_user(self, name: str, role: str, password: str) -> User:
        accounts.check_name(name)
        accounts.check_role(role)
        accounts.check_password(password, name)
        return self.store.add_user(name, role, self.hasher.hash(password), self.clock())

    def set_password(self, name: str, password: str) -> User:
        """A new password for ``name``; it also lifts a lock."""
        self.store.get_user(name)
        accounts.check_password(password, name)
        return self.store.set_password(name, self.hasher.hash(password), self.clock())

    def remove_user(self, name: str) -> User:
        return self.store.remove_user(name)

    def get_user(self, name: str) -> User:
        return self.store.get_user(name)

    def list_users(self) -> list[User]:
        return self.store.list_users()

    def authenticate(self, name: str, password: str) -> User:
        """The user if ``password`` is theirs, else :class:`LoginFailed`.

        An unknown name takes as long as a wrong password and gets the same error.
        ``MAX_FAILED_LOGINS`` wrong passwords in a row lock the account for
        ``LOCKOUT`` (:class:`AccountLocked`, also while it lasts, whatever the
        password); a good one starts the count again, and rehashes the password
        if the hashing parameters have changed since it was set.
        """
        now = self.clock()
        found = self.store.get_credentials(name) if accounts.is_name(name) else None
        if found is None:
            accounts.spend_verify_time(self.hasher, password)
            raise LoginFailed()
        user, password_hash = found
        if user.locked_until is not None and user.locked_until > now:
            accounts.spend_verify_time(self.hasher, password)
            raise AccountLocked(user.locked_until)
        try:
            if not accounts.verify(self.hasher, password_hash, password):
                user = self.store.record_login_failure(name, now,
                                                       limit=accounts.MAX_FAILED_LOGINS,
                                                       lock_for=accounts.LOCKOUT)
                if user.locked_until is not None and user.locked_until > now:
                    raise AccountLocked(user.locked_until)
                raise LoginFailed()
            rehashed = (self.hasher.hash(password)
                        if self.hasher.check_needs_rehash(password_hash) else None)
            return self.store.record_login_success(name, now, password_hash=rehashed)
        except NotFoundError as e:  # removed while we were checking
            raise LoginFailed() from e

    def session_user(self, name: str) -> tuple[User, str] | None:
        """The user and a stamp that changes with their password (sessions keep it)."""
        found = self.store.get_credentials(name) if accounts.is_name(name) else None
        if found is None:
            return None
        user, password_hash = found
        return user, hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:32]

    def audit(self, user: str | None, action: str, target: str, detail: str = "") -> AuditEntry:
        """Record that ``user`` (None: the system) did ``action`` to ``target``."""
        return self.store.add_audit(self.clock(), user, accounts.check_action(action),
                                    str(target), detail)

    def list_audit(self, limit: int = 50, offset: int = 0, *, user: str | None = None,
                   action: str | None = None) -> list[AuditEntry]:
        """Newest first."""
        return self.store.list_audit(limit, offset, user=user, action=action)

    def count_audit(self, *, user: str | None = None, action: str | None = None) -> int:
        return self.store.count_audit(user=user, action=action)

    # -- status ----------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        sources = self.store.list_sources()
        by_status: dict[str, int] = {}
        for s in sources:
            by_status[s.status.value] = by_status.get(s.status.value, 0) + 1
        failing = [s for s in sources if s.status.value in ("error", "disabled") and s.last_error]
        return {
            "sources": len(sources),
            "sources_by_status": by_status,
            "failing": failing,
            "stories": self.store.count_stories(),
            "hidden": self.store.count_stories(include_hidden=True) - self.store.count_stories(),
            "last_publish_at": _parse_time(self.store.get_state("last_publish_at")),
            "output_dir": self.config.output.dir,
            "database": _redacted(self.store.engine.url),
            "next_digest": self._next_digest(),
        }


    def _next_digest(self) -> dict[str, object]:
        st = self.digests.status()
        if st.record is not None and st.record.status == "sent":  # then next week's
            from datetime import timedelta

            from aggregator.digest.build import period_key, scheduled_at

            nxt = period_key(st.scheduled + timedelta(days=7), self.config.digest.timezone)
            return {"period": nxt, "scheduled": scheduled_at(nxt, self.config.digest).isoformat(),
                    "due": False, "status": None, "approval_needed": self.config.digest.approval,
                    "deliveries": {}, "subscribers": st.subscribers.get("active", 0),
                    "previous": {"period": st.period, "deliveries": st.counts}}
        return {"period": st.period, "scheduled": st.scheduled.isoformat(), "due": st.due,
                "status": st.record.status if st.record else None,
                "approval_needed": st.approval_needed, "deliveries": st.counts,
                "subscribers": st.subscribers.get("active", 0)}


def check_public_address(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host is (or resolves to) a loopback, private or link-local
    address, as the fetcher would at its first request (DESIGN §4)."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    from aggregator.fetch import refusal

    host = urlsplit(url).hostname or ""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return  # unknown today: the fetch says so, and checks again at every request
        addresses = [ipaddress.ip_address(i[4][0]) for i in infos]
    for ip in addresses:
        why = refusal(ip, allow_private)
        if why:
            raise UsageError(f"{url}: {host} is {why}")


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _redacted(url: object) -> str:
    render = getattr(url, "render_as_string", None)
    return render(hide_password=True) if render else str(url)


def output_files(config: Config) -> list[Path]:
    return sorted(p for p in config.output.dir.rglob("*") if p.is_file())
