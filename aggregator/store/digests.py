"""Subscribers, digests and deliveries in the store.

Exactly-once delivery rests on two unique keys and a small state machine:

- one ``digests`` row per period (a second sender finds the first one's row);
- one ``deliveries`` row per (digest, subscriber);
- a delivery goes ``pending`` -> ``claimed`` (an expiring lease, taken with
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, under SQLite's write lock otherwise)
  -> ``sending`` (written just before the message is handed over) -> ``sent``.

A claim whose lease ran out while ``claimed`` is free again: the message was never
handed over. One that ran out while ``sending`` has an unknown fate (the server may
have accepted it just before the crash) and becomes ``unknown``: reported, never
resent automatically. Every mark is conditional on the lease's owner, so a sender
that lost its lease cannot overwrite another's work.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError, UsageError
from aggregator.models import Delivery, DigestRecord, Subscriber
from aggregator.store.schema import (
    copies,
    copy_events,
    deliveries,
    digests,
    stories,
    subscribers,
)

#: delivery states after which nothing more happens to a delivery
SETTLED = ("sent", "skipped", "failed", "unknown")


def _hot_mark(status: str, allowed: tuple[str, ...], **values: Any) -> sa.Update:
    return (deliveries.update()
            .where(deliveries.c.id == sa.bindparam("b_id"),
                   deliveries.c.lease_owner == sa.bindparam("b_owner"),
                   deliveries.c.status.in_(allowed))
            .values(status=status, updated_at=sa.bindparam("b_now"), **values))


_HOT_MARKS = {
    "sending": _hot_mark("sending", ("claimed", "sending"), lease_until=sa.bindparam("b_until"),
                         message_id=sa.bindparam("b_msgid")),
    "sent": _hot_mark("sent", ("sending", "unknown"), sent_at=sa.bindparam("b_now"),
                      lease_until=None, error=None),
}


def _subscriber(r: Any) -> Subscriber:
    return Subscriber(
        id=r.id, email=r.email, status=r.status, tags=tuple(r.tags or ()),
        created_at=r.created_at, updated_at=r.updated_at, confirmed_at=r.confirmed_at,
        confirm_sent_at=r.confirm_sent_at, unsubscribed_at=r.unsubscribed_at,
        bounce_count=r.bounce_count, last_error=r.last_error, origin=r.origin,
    )


def _digest(r: Any) -> DigestRecord:
    return DigestRecord(
        id=r.id, period=r.period, status=r.status, window_start=r.window_start,
        window_end=r.window_end, content=dict(getattr(r, "content", None) or {}),
        story_count=r.story_count,
        created_at=r.created_at, approved_at=r.approved_at, approved_by=r.approved_by,
        sent_at=r.sent_at,
    )


def email_key(email: str) -> str:
    """Addresses differing only in letter case are one subscriber."""
    return email.strip().lower()


class DigestsMixin:
    """The digest half of :class:`aggregator.store.Store`."""

    engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    @property
    def is_postgres(self) -> bool:
        raise NotImplementedError

    # -- subscribers -----------------------------------------------------------------

    def add_subscriber(self, email: str, now: datetime, *, tags: Sequence[str] = (),
                       active: bool = False, origin: str = "cli") -> tuple[Subscriber, bool]:
        """Add ``email`` (already validated), or take back a former subscriber.

        Returns the subscriber and whether anything changed. An active subscriber
        stays as they are (their filters too); a pending, unsubscribed or bouncing
        one becomes active (``active``) or pending again.
        """
        key = email_key(email)
        status = "active" if active else "pending"
        with self._write() as conn:
            row = conn.execute(sa.select(subscribers)
                               .where(subscribers.c.email_key == key)).first()
            if row is None:
                conn.execute(subscribers.insert().values(
                    email=email, email_key=key, status=status, tags=list(tags),
                    created_at=now, updated_at=now, confirmed_at=now if active else None,
                    origin=origin))
                changed = True
            elif row.status == "active":
                changed = False
            else:
                values: dict[str, Any] = {"status": status, "updated_at": now,
                                          "unsubscribed_at": None, "bounce_count": 0,
                                          "last_error": None, "email": email}
                if active:
                    values["confirmed_at"] = now
                if tags:
                    values["tags"] = list(tags)
                conn.execute(subscribers.update().where(subscribers.c.id == row.id)
                             .values(**values))
                changed = True
            new = conn.execute(sa.select(subscribers)
                               .where(subscribers.c.email_key == key)).one()
        return _subscriber(new), changed

    def get_subscriber(self, ref: int | str) -> Subscriber:
        """By id or by address (any letter case)."""
        cond = (subscribers.c.id == ref if isinstance(ref, int)
                else subscribers.c.email_key == email_key(ref))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(subscribers).where(cond)).first()
        if row is None:
            raise NotFoundError(f"no subscriber {ref!r}")
        return _subscriber(row)

    def list_subscribers(self, *, status: str | None = None, search: str | None = None,
                         limit: int | None = None, offset: int = 0) -> list[Subscriber]:
        q = sa.select(subscribers).order_by(subscribers.c.email_key)
        if status is not None:
            q = q.where(subscribers.c.status == status)
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            q = q.where(subscribers.c.email_key.like(pattern, escape="\\"))
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.engine.connect() as conn:
            return [_subscriber(r) for r in conn.execute(q)]

    def count_subscribers(self) -> dict[str, int]:
        q = sa.select(subscribers.c.status, sa.func.count()).group_by(subscribers.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(q)}

    def update_subscriber(self, sid: int, now: datetime, **values: Any) -> Subscriber:
        values["updated_at"] = now
        if "tags" in values:
            values["tags"] = list(values["tags"])
        with self._write() as conn:
            res = conn.execute(subscribers.update().where(subscribers.c.id == sid)
                               .values(**values))
        if res.rowcount == 0:
            raise NotFoundError(f"no subscriber {sid}")
        return self.get_subscriber(sid)

    def remove_subscriber(self, ref: int | str) -> Subscriber:
        """Delete a subscriber and their delivery records (nothing of them is kept)."""
        sub = self.get_subscriber(ref)
        with self._write() as conn:
            conn.execute(deliveries.delete().where(deliveries.c.subscriber_id == sub.id))
            conn.execute(subscribers.delete().where(subscribers.c.id == sub.id))
        return sub

    def record_refusal(self, sid: int, error: str, now: datetime, limit: int) -> Subscriber:
        """A 5xx at RCPT: count it; ``limit`` in a row marks the subscriber bouncing."""
        with self._write() as conn:
            conn.execute(subscribers.update().where(subscribers.c.id == sid).values(
                bounce_count=subscribers.c.bounce_count + 1, last_error=error[:500],
                updated_at=now))
            conn.execute(subscribers.update().where(
                subscribers.c.id == sid, subscribers.c.bounce_count >= limit,
                subscribers.c.status == "active").values(status="bouncing"))
        return self.get_subscriber(sid)

    # -- what a digest holds ---------------------------------------------------------

    def story_ids_first_seen(self, lo: datetime, hi: datetime) -> list[str]:
        """Visible stories first seen in ``[lo, hi)``, newest (by their date) first."""
        q = (sa.select(stories.c.id)
             .where(stories.c.first_seen_at >= lo, stories.c.first_seen_at < hi,
                    stories.c.hidden.is_(False), stories.c.merged_into.is_(None))
             .order_by(stories.c.published_at.desc(), stories.c.first_seen_at.desc(),
                       stories.c.id))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def story_ids_pinned_since(self, lo: datetime, hi: datetime) -> list[str]:
        """Visible stories an editor pinned in ``[lo, hi)``."""
        q = (sa.select(stories.c.id)
             .where(stories.c.pinned_at >= lo, stories.c.pinned_at < hi,
                    stories.c.hidden.is_(False), stories.c.merged_into.is_(None)))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    def story_ids_with_events(self, first: date, last: date) -> list[str]:
        """Visible stories announcing a meeting that is on some day in ``[first, last]``."""
        q = (sa.select(copies.c.story_id).distinct()
             .join(copy_events, copy_events.c.copy_id == copies.c.id)
             .join(stories, stories.c.id == copies.c.story_id)
             .where(copy_events.c.end >= first, copy_events.c.start <= last,
                    stories.c.hidden.is_(False), stories.c.merged_into.is_(None)))
        with self.engine.connect() as conn:
            return list(conn.execute(q).scalars())

    # -- digests ---------------------------------------------------------------------

    def get_digest(self, period: str) -> DigestRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(digests).where(digests.c.period == period)).first()
        return _digest(row) if row is not None else None

    def latest_digest(self, *, content: bool = True) -> DigestRecord | None:
        """The digest whose window ends last: the next one starts where it ended."""
        found = self.list_digests(limit=1, content=content)
        return found[0] if found else None

    def list_digests(self, *, limit: int | None = None,
                     content: bool = True) -> list[DigestRecord]:
        """Newest first. ``content=False`` leaves the frozen content out (``{}``): it is
        the bulk of a row, and the worker's tick and every publish only need the rest."""
        cols = [c for c in digests.c if content or c.name != "content"]
        q = sa.select(*cols).order_by(digests.c.window_end.desc(), digests.c.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [_digest(r) for r in conn.execute(q)]

    def create_digest(self, period: str, window_start: datetime, window_end: datetime,
                      content: dict[str, Any], story_count: int, now: datetime, *,
                      approved_by: str | None = None) -> tuple[DigestRecord, bool]:
        """Freeze a period's digest; if another process froze it first, theirs wins.

        Returns the stored digest and whether this call created it.
        """
        try:
            with self._write() as conn:
                conn.execute(digests.insert().values(
                    period=period, status="open", window_start=window_start,
                    window_end=window_end, content=content, story_count=story_count,
                    created_at=now, approved_at=now if approved_by else None,
                    approved_by=approved_by))
            created = True
        except sa.exc.IntegrityError:
            created = False
        record = self.get_digest(period)
        assert record is not None
        return record, created

    def approve_digest(self, period: str, by: str, now: datetime) -> DigestRecord:
        with self._write() as conn:
            conn.execute(digests.update().where(digests.c.period == period)
                         .values(approved_at=now, approved_by=by))
        record = self.get_digest(period)
        if record is None:
            raise NotFoundError(f"no digest for {period}")
        return record

    # -- deliveries ------------------------------------------------------------------

    def create_deliveries(self, digest_id: int, now: datetime) -> int:
        """A pending delivery for each active subscriber that has none; returns how many."""
        have = sa.select(deliveries.c.subscriber_id).where(deliveries.c.digest_id == digest_id)
        pick = (sa.select(sa.literal(digest_id), subscribers.c.id, sa.literal("pending"),
                          sa.literal(0), sa.literal(now, type_=deliveries.c.updated_at.type))
                .where(subscribers.c.status == "active", subscribers.c.id.not_in(have)))
        cols = ["digest_id", "subscriber_id", "status", "attempts", "updated_at"]
        try:
            with self._write() as conn:
                res = conn.execute(deliveries.insert().from_select(cols, pick))
                return max(res.rowcount or 0, 0)
        except sa.exc.IntegrityError:
            # another sender inserted some of the same rows at the same moment (PostgreSQL
            # does not wait for our snapshot); theirs are as good as ours
            return 0

    def settle_expired(self, digest_id: int, now: datetime) -> int:
        """Leases that ran out: ``claimed`` is free again, ``sending`` becomes ``unknown``."""
        expired = sa.and_(deliveries.c.digest_id == digest_id, deliveries.c.lease_until < now)
        with self._write() as conn:
            conn.execute(deliveries.update()
                         .where(expired, deliveries.c.status == "claimed")
                         .values(status="pending", lease_owner=None, lease_until=None,
                                 updated_at=now))
            res = conn.execute(deliveries.update()
                               .where(expired, deliveries.c.status == "sending")
                               .values(status="unknown", lease_until=None, updated_at=now,
                                       error="the sender stopped while the server had the "
                                             "message; not resent automatically"))
            return max(res.rowcount or 0, 0)

    def claim_deliveries(self, digest_id: int, owner: str, now: datetime, lease: timedelta,
                         limit: int = 20, *, exclude: Sequence[int] = ()) -> list[Delivery]:
        """Claim up to ``limit`` pending deliveries of a digest for ``owner``.

        ``exclude``: deliveries this sender already tried in this run (a temporary
        refusal waits for the next run).
        """
        free = sa.or_(deliveries.c.status == "pending",
                      sa.and_(deliveries.c.status == "claimed", deliveries.c.lease_until < now))
        cond = sa.and_(deliveries.c.digest_id == digest_id, free)
        if exclude:
            cond = sa.and_(cond, deliveries.c.id.not_in(list(exclude)))
        with self._write() as conn:
            q = sa.select(deliveries.c.id).where(cond).order_by(deliveries.c.id).limit(limit)
            if self.is_postgres:
                q = q.with_for_update(skip_locked=True)
            ids = list(conn.execute(q).scalars())
            if not ids:
                return []
            conn.execute(deliveries.update().where(deliveries.c.id.in_(ids), free)
                         .values(status="claimed", lease_owner=owner,
                                 lease_until=now + lease, attempts=deliveries.c.attempts + 1,
                                 updated_at=now))
            rows = conn.execute(
                sa.select(deliveries.c.id, deliveries.c.digest_id, deliveries.c.subscriber_id,
                          deliveries.c.status, deliveries.c.attempts, subscribers.c.email,
                          subscribers.c.tags, subscribers.c.status.label("sub_status"))
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(deliveries.c.id.in_(ids), deliveries.c.lease_owner == owner,
                       deliveries.c.status == "claimed")
                .order_by(deliveries.c.id)).all()
        return [Delivery(id=r.id, digest_id=r.digest_id, subscriber_id=r.subscriber_id,
                         email=r.email, tags=tuple(r.tags or ()), subscriber_status=r.sub_status,
                         status=r.status, attempts=r.attempts) for r in rows]

    def mark_delivery(self, delivery_id: int, owner: str, status: str, now: datetime, *,
                      lease: timedelta | None = None, message_id: str | None = None,
                      error: str | None = None) -> bool:
        """Move one of ``owner``'s deliveries on; False if the lease was lost.

        ``sending`` requires the delivery still ``claimed`` by ``owner``; ``sent``
        is accepted from ``sending`` or ``unknown`` (the lease ran out while the
        server was answering: the answer is the truth). ``pending`` releases a
        claim for a later try.
        """
        if status in _HOT_MARKS:  # twice per message: statements built once
            params = {"b_id": delivery_id, "b_owner": owner, "b_now": now,
                      "b_until": now + (lease or timedelta(minutes=5)), "b_msgid": message_id}
            with self._write() as conn:
                res = conn.execute(_HOT_MARKS[status], params)
                return res.rowcount == 1
        values: dict[str, Any] = {"status": status, "updated_at": now}
        allowed: tuple[str, ...]
        if status == "sending":
            allowed = ("claimed", "sending")
            values["lease_until"] = now + (lease or timedelta(minutes=5))
            if message_id is not None:
                values["message_id"] = message_id
        elif status == "sent":
            allowed = ("sending", "unknown")
            values.update(sent_at=now, lease_until=None, error=None)
        elif status == "unknown":
            allowed = ("sending",)
            values.update(lease_until=None, error=error)
        elif status in ("pending", "skipped", "failed"):
            allowed = ("claimed", "sending")
            values.update(lease_owner=None if status == "pending" else owner,
                          lease_until=None, error=error)
        else:
            raise UsageError(f"cannot mark a delivery {status!r}")
        with self._write() as conn:
            res = conn.execute(deliveries.update().where(
                deliveries.c.id == delivery_id, deliveries.c.lease_owner == owner,
                deliveries.c.status.in_(allowed)).values(**values))
            return res.rowcount == 1

    def renew_lease(self, digest_id: int, owner: str, now: datetime, lease: timedelta) -> None:
        with self._write() as conn:
            conn.execute(deliveries.update().where(
                deliveries.c.digest_id == digest_id, deliveries.c.lease_owner == owner,
                deliveries.c.status.in_(("claimed", "sending"))).values(lease_until=now + lease))

    def release_claims(self, digest_id: int, owner: str, now: datetime) -> None:
        """Give back what ``owner`` claimed but did not hand over (a clean stop)."""
        with self._write() as conn:
            conn.execute(deliveries.update().where(
                deliveries.c.digest_id == digest_id, deliveries.c.lease_owner == owner,
                deliveries.c.status == "claimed").values(status="pending", lease_owner=None,
                                                         lease_until=None, updated_at=now))

    def delivery_counts(self, digest_id: int) -> dict[str, int]:
        q = (sa.select(deliveries.c.status, sa.func.count())
             .where(deliveries.c.digest_id == digest_id).group_by(deliveries.c.status))
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(q)}

    def list_deliveries(self, digest_id: int, *, status: str | None = None
                        ) -> Iterator[tuple[int, str, str, str | None]]:
        """(delivery id, address, status, error) of a digest's deliveries."""
        q = (sa.select(deliveries.c.id, subscribers.c.email, deliveries.c.status,
                       deliveries.c.error)
             .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
             .where(deliveries.c.digest_id == digest_id).order_by(deliveries.c.id))
        if status is not None:
            q = q.where(deliveries.c.status == status)
        with self.engine.connect() as conn:
            yield from ((r.id, r.email, r.status, r.error) for r in conn.execute(q))

    def requeue_unknown(self, digest_id: int, now: datetime) -> int:
        """An operator decided: send the ``unknown`` ones again."""
        with self._write() as conn:
            res = conn.execute(deliveries.update().where(
                deliveries.c.digest_id == digest_id, deliveries.c.status == "unknown")
                .values(status="pending", lease_owner=None, lease_until=None, updated_at=now))
            return max(res.rowcount or 0, 0)

    def finish_digest(self, digest_id: int, now: datetime) -> bool:
        """Mark the digest sent once every delivery is settled; True if it is."""
        open_ = (sa.select(sa.func.count()).select_from(deliveries)
                 .where(deliveries.c.digest_id == digest_id,
                        deliveries.c.status.not_in(SETTLED)))
        with self._write() as conn:
            if int(conn.execute(open_).scalar() or 0):
                return False
            conn.execute(digests.update().where(digests.c.id == digest_id,
                                                digests.c.status != "sent")
                         .values(status="sent", sent_at=now))
            return True
