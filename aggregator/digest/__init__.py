"""The weekly digest (DESIGN §6 "digest"): subscribers, building, sending, exactly once.

:class:`Digests` is what the CLI, the worker and the web app call. The stages:

- :mod:`.build`: pure; the period, the schedule, the frozen content, one
  subscriber's view of it;
- :mod:`.render`: Jinja2 + css-inline, and the MIME message;
- :mod:`.transport`: the outbox folder or an SMTP server;
- :mod:`.tokens`: the signed links in the emails;
- the store (:mod:`aggregator.store.digests`): one digest row per period, one
  delivery row per (digest, subscriber), claimed with a lease before sending and
  marked after.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.config import Config
from aggregator.digest import build, render, tokens
from aggregator.digest.subscribers import (
    CsvProblem,
    normalize_email,
    normalize_tags,
    read_csv,
)
from aggregator.digest.transport import Transport, transport_for
from aggregator.errors import MailError, MailFateUnknown, MailRefused, NotFoundError, UsageError
from aggregator.models import Delivery, DigestRecord, Story, Subscriber, pin_order
from aggregator.store import Store

log = logging.getLogger(__name__)

#: a delivery that met only temporary refusals this many times is given up
MAX_ATTEMPTS = 5
#: deliveries claimed at once by one sender
CLAIM_BATCH = 20


@dataclass(frozen=True, slots=True)
class AddResult:
    subscriber: Subscriber
    changed: bool
    confirmation_sent: bool


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    unchanged: int
    confirmations: int
    problems: tuple[CsvProblem, ...]


@dataclass(frozen=True, slots=True)
class SendReport:
    period: str
    #: "sent" (this call finished it), "already-sent", "empty" (nothing to send),
    #: "no-subscribers" (nobody active: not frozen yet),
    #: "partial" (some deliveries wait for a later run), "test"
    outcome: str
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0
    retry_later: int = 0
    created: bool = False
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigestStatus:
    period: str
    record: DigestRecord | None
    counts: dict[str, int]
    due: bool
    scheduled: datetime
    approval_needed: bool
    subscribers: dict[str, int]
    unknown: tuple[tuple[int, str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Preview:
    period: str
    html: Path
    text: Path
    subject: str
    stories: int
    frozen: bool


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Digests:
    def __init__(self, config: Config, store: Store, secret: bytes, *,
                 clock: Callable[[], datetime], topics: Sequence[str] = (),
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.store = store
        self.secret = secret
        self.clock = clock
        #: topic tags in section order (the config's, else the rules')
        self.sections = tuple(config.digest.sections) or tuple(topics)
        self.sleep = sleep

    # -- subscribers -------------------------------------------------------------------

    def add(self, address: str, *, tags: Sequence[str] | str = (), confirmed: bool = False,
            origin: str = "cli", transport: Transport | None = None) -> AddResult:
        email = normalize_email(address)
        topics = normalize_tags(tags)
        now = self.clock()
        sub, changed = self.store.add_subscriber(email, now, tags=topics, active=confirmed,
                                                 origin=origin)
        sent = False
        if sub.status == "pending":
            self.send_confirmation(sub, transport=transport)
            sent = True
        return AddResult(sub, changed, sent)

    #: a confirmation is sent again to the same address after this long at the earliest
    RESEND_CONFIRMATION = timedelta(hours=1)

    def subscribe(self, address: str, *, tags: Sequence[str] | str = ()) -> None:
        """The public form: a pending subscription and its confirmation email.

        Says nothing about what was there before: an active subscriber gets nothing
        (their topics are changed through their own preferences link), and a pending
        one gets the confirmation again only after ``RESEND_CONFIRMATION``.
        """
        email = normalize_email(address)
        topics = normalize_tags(tags)
        now = self.clock()
        try:
            existing = self.store.get_subscriber(email)
        except NotFoundError:
            existing = None
        if existing is not None and existing.status == "active":
            return
        if (existing is not None and existing.status == "pending"
                and existing.confirm_sent_at is not None
                and now - existing.confirm_sent_at < self.RESEND_CONFIRMATION):
            return
        self.add(email, tags=topics, origin="web")

    def import_csv(self, path: str | Path, *, confirmed: bool = False) -> ImportReport:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UsageError(f"{path}: cannot read: {e.strerror}") from e
        rows, problems = read_csv(data, name=str(path))
        added = unchanged = confirmations = 0
        transport = transport_for(self.config) if not confirmed else None
        try:
            for row in rows:
                result = self.add(row.email, tags=row.tags, confirmed=confirmed,
                                  origin="import", transport=transport)
                added += result.changed
                unchanged += not result.changed
                confirmations += result.confirmation_sent
        finally:
            if transport is not None:
                transport.close()
        return ImportReport(added, unchanged, confirmations, tuple(problems))

    def remove(self, address: str) -> Subscriber:
        return self.store.remove_subscriber(address.strip())

    def remove_id(self, sub_id: int) -> Subscriber:
        return self.store.remove_subscriber(sub_id)

    def list(self, *, status: str | None = None, search: str | None = None) -> list[Subscriber]:
        return self.store.list_subscribers(status=status, search=search)

    def link(self, purpose: str, sub: Subscriber) -> str:
        page = {"confirm": "confirm", "unsubscribe": "unsubscribe",
                "preferences": "preferences"}[purpose]
        return f"{self.config.web_url}{page}?token=" + \
            tokens.make_token(self.secret, purpose, sub.id, sub.email)

    def send_confirmation(self, sub: Subscriber, *, transport: Transport | None = None) -> None:
        """The double opt-in message, with a signed link that expires."""
        from aggregator.publish import tag_label

        now = self.clock()
        rendered = render.render_confirmation(
            self.config, recipient=sub.email, confirm_url=self.link("confirm", sub),
            topics=[tag_label(t) for t in sub.tags], days=tokens.CONFIRM_MAX_AGE // 86400)
        msg_id = render.message_id(self.config, "confirm", sub.id, int(now.timestamp()))
        data = render.compose(self.config, rendered, to=sub.email, now=now, msg_id=msg_id)
        own = transport is None
        transport = transport or transport_for(self.config)
        try:
            transport.open()
            transport.send(_addr(self.config.email.sender), sub.email, data, msg_id)
        except MailRefused as e:
            raise MailError(f"the confirmation to {sub.email} was refused: {e}") from e
        finally:
            if own:
                transport.close()
        self.store.update_subscriber(sub.id, now, confirm_sent_at=now)

    def subscriber_for(self, purpose: str, token: str) -> Subscriber:
        """The subscriber a link's token names (:class:`tokens.BadToken` if none)."""
        subject = tokens.read_token(self.secret, purpose, token)
        try:
            sub = self.store.get_subscriber(subject.subscriber_id)
        except NotFoundError:
            raise tokens.BadToken(f"this {purpose} link is no longer valid") from None
        if sub.email.lower() != subject.email:
            raise tokens.BadToken(f"this {purpose} link is no longer valid")
        return sub

    def confirm(self, token: str) -> Subscriber:
        sub = self.subscriber_for("confirm", token)
        if sub.status == "active":
            return sub
        now = self.clock()
        return self.store.update_subscriber(sub.id, now, status="active", confirmed_at=now,
                                            unsubscribed_at=None, bounce_count=0)

    def unsubscribe(self, token: str) -> Subscriber:
        sub = self.subscriber_for("unsubscribe", token)
        if sub.status == "unsubscribed":
            return sub
        now = self.clock()
        return self.store.update_subscriber(sub.id, now, status="unsubscribed",
                                            unsubscribed_at=now)

    def set_topics(self, token: str, tags: Sequence[str] | str) -> Subscriber:
        sub = self.subscriber_for("preferences", token)
        return self.store.update_subscriber(sub.id, self.clock(), tags=normalize_tags(tags))

    # -- building ----------------------------------------------------------------------

    def current_period(self) -> str:
        return build.period_key(self.clock(), self.config.digest.timezone)

    def _window_start(self, now: datetime) -> datetime:
        last = self.store.latest_digest(content=False)
        return last.window_end if last is not None else now - build.FIRST_WINDOW

    def build(self, period: str, now: datetime | None = None) -> tuple[dict[str, Any], int]:
        """The content a digest for ``period`` would hold if frozen ``now``."""
        from aggregator.publish import tag_label

        now = now or self.clock()
        start = self._window_start(now)
        store = self.store
        new_ids = store.story_ids_first_seen(start, now)
        # featured: pins on this window's stories, and older stories pinned in it
        wanted = set(new_ids) | set(store.story_ids_pinned_since(start, now))
        pinned = sorted((s for s in store.list_stories(pinned_only=True, now=now)
                         if s.id in wanted), key=pin_order)
        limit = self.config.digest.max_stories
        new = _in_order(store.list_stories(ids=new_ids[: limit + len(pinned)], now=now),
                        new_ids)
        today = now.astimezone(UTC).date()
        horizon = today + timedelta(days=self.config.digest.meetings_days)
        meetings = store.list_stories(ids=store.story_ids_with_events(today, horizon), now=now)
        sources = {s.id: (s.definition.title or s.id, s.definition.url)
                   for s in store.list_sources()}
        content = build.build_content(
            period=period, window_start=start, window_end=now, new=new, featured=pinned,
            meetings=meetings, sections=self.sections,
            labels={t: tag_label(t) for t in self.sections}, sources=sources,
            max_stories=limit, today=today)
        content["more"] += max(len(new_ids) - len(new), 0)
        count = len(content["featured"]) + len(content["stories"])
        return content, count

    def content_for(self, period: str) -> tuple[dict[str, Any], bool]:
        """The frozen content if the period's digest exists, else what it would be now."""
        record = self.store.get_digest(period)
        if record is not None:
            return record.content, True
        return self.build(period)[0], False

    def preview(self, period: str | None = None, *, tags: Sequence[str] = ()) -> Preview:
        """Write the digest's HTML and text (as a subscriber with ``tags`` gets it)."""
        period = period or self.current_period()
        content, frozen = self.content_for(period)
        view = build.view_for(content, normalize_tags(tags))
        rendered = render.personalize(
            render.render_digest(self.config, view), recipient="you@example.org",
            unsubscribe_url=self.config.web_url + "unsubscribe",
            preferences_url=self.config.web_url + "preferences")
        folder = self.config.storage.data_dir / "preview"
        folder.mkdir(parents=True, exist_ok=True)
        html, text = folder / f"{period}.html", folder / f"{period}.txt"
        html.write_text(rendered.html, encoding="utf-8")
        text.write_text(rendered.text, encoding="utf-8")
        return Preview(period, html, text, rendered.subject, view.story_count, frozen)

    def approve(self, period: str | None = None, *, by: str) -> DigestRecord:
        """Approve (and so freeze) the period's digest: what was previewed is what goes out."""
        period = period or self.current_period()
        now = self.clock()
        record = self.store.get_digest(period)
        if record is None:
            content, count = self.build(period, now)
            record, _ = self.store.create_digest(period, self._window_start(now), now,
                                                 content, count, now, approved_by=by)
        if record.approved_at is None:
            record = self.store.approve_digest(period, by, now)
        self.write_public_copy(record)
        return record

    # -- status ------------------------------------------------------------------------

    def is_due(self) -> bool:
        now = self.clock()
        period = build.period_key(now, self.config.digest.timezone)
        record = self.store.get_digest(period)
        return build.is_due(now, self.config.digest,
                            any_digest=self.store.latest_digest(content=False) is not None,
                            period_done=record is not None and record.status == "sent")

    def status(self, period: str | None = None) -> DigestStatus:
        period = period or self.current_period()
        record = self.store.get_digest(period)
        counts: dict[str, int] = {}
        unknown: tuple[tuple[int, str, str | None], ...] = ()
        if record is not None:
            self.store.settle_expired(record.id, self.clock())
            counts = self.store.delivery_counts(record.id)
            unknown = tuple((i, e, err) for i, e, _s, err
                            in self.store.list_deliveries(record.id, status="unknown"))
        return DigestStatus(
            period=period, record=record, counts=counts, due=self.is_due(),
            scheduled=build.scheduled_at(period, self.config.digest),
            approval_needed=self.config.digest.approval
            and (record is None or record.approved_at is None),
            subscribers=self.store.count_subscribers(), unknown=unknown)

    # -- sending -----------------------------------------------------------------------

    def write_public_copy(self, record: DigestRecord) -> Path:
        """``output/digests/<period>.html``: the digest with no subscriber's data."""
        from aggregator.publish.writer import OutputWriter, publish_lock

        page = render.public_copy(self.config, record.content)
        with publish_lock(self.config.storage.data_dir / "publish.lock"):
            writer = OutputWriter(self.config.output.dir)
            name = f"digests/{record.period}.html"
            writer.write(name, page)
        return writer.path_for(name)

    def send(self, period: str | None = None, *, owner: str | None = None,
             resend_unknown: bool = False, transport: Transport | None = None,
             stop: threading.Event | None = None) -> SendReport:
        """Send the period's digest to every active subscriber who has not had it.

        Safe to run again after a crash, and at the same time in several processes:
        each delivery is claimed before it is sent and marked after. ``stop`` (set by
        the worker on SIGTERM) ends the run after the message in hand; what was
        claimed and not sent is given back.
        """
        period = period or self.current_period()
        now = self.clock()
        record = self.store.get_digest(period)
        created = False
        if record is None:
            if not self.store.count_subscribers().get("active"):
                # nobody to send it to: not frozen, so the first subscribers get this
                # window's stories rather than an empty one next week
                return SendReport(period, "no-subscribers")
            if self.config.digest.approval:
                raise UsageError(f"the digest for {period} waits for approval: check it with "
                                 "`aggregator digest preview`, then run "
                                 "`aggregator digest approve`")
            content, count = self.build(period, now)
            if count == 0 and not self.config.digest.send_empty:
                return SendReport(period, "empty")
            record, created = self.store.create_digest(period, self._window_start(now), now,
                                                       content, count, now)
        elif self.config.digest.approval and record.approved_at is None:
            raise UsageError(f"the digest for {period} waits for approval: run "
                             "`aggregator digest approve`")
        if record.status == "sent" and not resend_unknown:
            return SendReport(period, "already-sent",
                              counts=self.store.delivery_counts(record.id))
        if created or record.status != "sent":
            self.write_public_copy(record)
        owner = owner or default_owner()
        if resend_unknown:
            self.store.requeue_unknown(record.id, self.clock())
        connections = self.config.email.smtp.connections
        if transport is not None or self.config.email.transport != "smtp" or connections == 1:
            sender = _Sender(self, record, owner, transport or transport_for(self.config),
                             stop=stop)
            return sender.run(created=created)
        # several connections at once: each a sender of its own, coordinated by the same
        # claims that keep separate processes apart
        from concurrent.futures import ThreadPoolExecutor

        senders = [_Sender(self, record, f"{owner}/{i}", transport_for(self.config),
                           share=1 / connections, stop=stop) for i in range(connections)]
        with ThreadPoolExecutor(max_workers=connections) as pool:
            reports = list(pool.map(lambda s: s.run(created=created), senders))
        return _combine(reports, self.store.delivery_counts(record.id))

    def send_test(self, address: str, period: str | None = None, *,
                  tags: Sequence[str] = ()) -> str:
        """One copy to ``address``, marked as a test; nothing is recorded as sent."""
        period = period or self.current_period()
        to = normalize_email(address)
        content, _frozen = self.content_for(period)
        view = build.view_for(content, normalize_tags(tags))
        rendered = render.render_digest(self.config, view)
        rendered = render.personalize(
            rendered, recipient=to, unsubscribe_url=self.config.web_url + "unsubscribe",
            preferences_url=self.config.web_url + "preferences")
        from dataclasses import replace

        rendered = replace(rendered, subject="[Test] " + rendered.subject)
        now = self.clock()
        msg_id = render.message_id(self.config, "test", period, uuid.uuid4().hex[:12])
        data = render.compose(self.config, rendered, to=to, now=now, msg_id=msg_id)
        transport = transport_for(self.config)
        try:
            transport.open()
            transport.send(_addr(self.config.email.sender), to, data, msg_id)
        except MailRefused as e:
            raise MailError(f"the test copy to {to} was refused: {e}") from e
        finally:
            transport.close()
        return msg_id


def _combine(reports: list[SendReport], counts: dict[str, int]) -> SendReport:
    from aggregator.store.digests import SETTLED

    first = reports[0]
    done = all(status in SETTLED for status in counts)
    return SendReport(
        first.period, "sent" if done else "partial",
        sent=sum(r.sent for r in reports), skipped=sum(r.skipped for r in reports),
        failed=sum(r.failed for r in reports), unknown=sum(r.unknown for r in reports),
        retry_later=sum(r.retry_later for r in reports), created=first.created, counts=counts)


def _in_order(stories: list[Story], ids: Sequence[str]) -> list[Story]:
    by_id = {s.id: s for s in stories}
    return [by_id[i] for i in ids if i in by_id]


def _addr(mailbox: str) -> str:
    from email.utils import parseaddr

    return parseaddr(mailbox)[1]


class _Sender:
    """One run of sending one digest: claim a batch, send each, mark each."""

    def __init__(self, digests: Digests, record: DigestRecord, owner: str,
                 transport: Transport, *, share: float = 1.0,
                 stop: threading.Event | None = None) -> None:
        self.d = digests
        self.config = digests.config
        self.store = digests.store
        self.record = record
        self.owner = owner
        self.transport = transport
        self.lease = timedelta(seconds=self.config.digest.lease)
        self.rendered: dict[tuple[str, ...],
                            tuple[build.DigestView, render.Rendered, render.Composer]] = {}
        self.sender_addr = _addr(self.config.email.sender)
        self.opened = False
        self.tally = {"sent": 0, "skipped": 0, "failed": 0, "unknown": 0, "retry": 0}
        self.last_send = 0.0
        #: this sender's part of [email.smtp] rate (several send at once)
        self.share = share
        self.stop = stop or threading.Event()
        #: deliveries given back after a temporary refusal: not again in this run
        self.deferred: set[int] = set()

    def _view(self, tags: tuple[str, ...]
              ) -> tuple[build.DigestView, render.Rendered, render.Composer]:
        """Rendered once per distinct set of topic filters, then only personalized."""
        key = tuple(sorted(tags))
        hit = self.rendered.get(key)
        if hit is None:
            view = build.view_for(self.record.content, key)
            rendered = render.render_digest(self.config, view)
            hit = (view, rendered, render.Composer(self.config, rendered.subject))
            self.rendered[key] = hit
        return hit

    def run(self, *, created: bool) -> SendReport:
        store, rid = self.store, self.record.id
        now = self.d.clock()
        store.settle_expired(rid, now)
        store.create_deliveries(rid, now)
        try:
            while not self.stop.is_set():
                now = self.d.clock()
                batch = store.claim_deliveries(rid, self.owner, now, self.lease, CLAIM_BATCH,
                                               exclude=sorted(self.deferred))
                if not batch:
                    break
                started = time.monotonic()
                for delivery in batch:
                    if self.stop.is_set():
                        break  # the rest of the batch is given back below
                    self._deliver(delivery)
                    if time.monotonic() - started > self.lease.total_seconds() / 3:
                        store.renew_lease(rid, self.owner, self.d.clock(), self.lease)
                        started = time.monotonic()
        finally:
            if self.opened:
                self.transport.close()
            store.release_claims(rid, self.owner, self.d.clock())
        done = store.finish_digest(rid, self.d.clock())
        t = self.tally
        return SendReport(self.record.period, "sent" if done else "partial", sent=t["sent"],
                          skipped=t["skipped"], failed=t["failed"], unknown=t["unknown"],
                          retry_later=t["retry"], created=created,
                          counts=store.delivery_counts(rid))

    def _mark(self, d: Delivery, status: str, **kw: Any) -> bool:
        return self.store.mark_delivery(d.id, self.owner, status, self.d.clock(),
                                        lease=self.lease, **kw)

    def _deliver(self, d: Delivery) -> None:
        if d.subscriber_status != "active":
            self._mark(d, "skipped", error=f"subscriber is {d.subscriber_status}")
            self.tally["skipped"] += 1
            return
        view, rendered, composer = self._view(d.tags)
        if view.empty and not self.config.digest.send_empty:
            self._mark(d, "skipped", error="nothing new on this subscriber's topics")
            self.tally["skipped"] += 1
            return
        sub_token = tokens.make_token(self.d.secret, "unsubscribe", d.subscriber_id, d.email)
        unsubscribe_url = f"{self.config.web_url}unsubscribe?token={sub_token}"
        prefs_url = f"{self.config.web_url}preferences?token=" + tokens.make_token(
            self.d.secret, "preferences", d.subscriber_id, d.email)
        mine = render.personalize(rendered, recipient=d.email, unsubscribe_url=unsubscribe_url,
                                  preferences_url=prefs_url)
        msg_id = render.message_id(self.config, "digest", self.record.period, d.id)
        data = composer.message(html=mine.html, text=mine.text, to=d.email, now=self.d.clock(),
                                msg_id=msg_id, unsubscribe_url=unsubscribe_url,
                                unsubscribe_token=sub_token)
        self._pace()
        retries, delay = self.config.email.smtp.retries, self.config.email.smtp.retry_delay
        for attempt in range(retries + 1):
            try:
                if not self.opened:
                    self.transport.open()
                    self.opened = True
                handed = self.transport.send(
                    self.sender_addr, d.email, data, msg_id,
                    before_data=lambda: self._mark(d, "sending", message_id=msg_id))
                if not handed:  # another sender took the delivery over: leave it to them
                    return
                self._mark(d, "sent")
                self.tally["sent"] += 1
                return
            except MailRefused as e:
                if e.transient and attempt < retries:
                    self.d.sleep(delay * (2 ** attempt))
                    continue
                self._refused(d, e)
                return
            except MailFateUnknown as e:
                self._unknown(d, str(e))
                return

    def _refused(self, d: Delivery, e: MailRefused) -> None:
        if e.transient and d.attempts < MAX_ATTEMPTS:
            self._mark(d, "pending", error=f"temporary refusal, retried later: {e}")
            self.deferred.add(d.id)
            self.tally["retry"] += 1
            return
        self._mark(d, "failed", error=str(e))
        self.tally["failed"] += 1
        if e.stage == "RCPT" and not e.transient:
            sub = self.store.record_refusal(d.subscriber_id, str(e), self.d.clock(),
                                            self.config.email.bounce_limit)
            log.warning("%s refused (%s); %d refusal(s) in a row%s", d.email, e,
                        sub.bounce_count, ", now bouncing" if sub.status == "bouncing" else "")

    def _unknown(self, d: Delivery, why: str) -> None:
        self.store.mark_delivery(d.id, self.owner, "unknown", self.d.clock(), error=why)
        self.tally["unknown"] += 1
        # whether the transport can tell (an outbox can): then we know after all
        if self.transport.delivered(render.message_id(
                self.config, "digest", self.record.period, d.id)):
            self.store.mark_delivery(d.id, self.owner, "sent", self.d.clock())

    def _pace(self) -> None:
        rate = self.config.email.smtp.rate * self.share
        if rate <= 0:
            return
        wait = self.last_send + 1.0 / rate - time.monotonic()
        if wait > 0:
            self.d.sleep(wait)
        self.last_send = time.monotonic()
