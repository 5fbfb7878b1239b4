"""Editors' accounts and the audit log in the store.

The store keeps what it is given: names and roles are checked, passwords hashed and
lockouts decided by :class:`aggregator.service.Service`. The password hash never
leaves this module inside a :class:`~aggregator.models.User`; only
:meth:`UsersMixin.get_credentials` hands it out, to the one caller that verifies it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from aggregator.errors import NotFoundError, UsageError
from aggregator.models import AuditEntry, User
from aggregator.store.schema import audit_log, users


def _user(r: Any) -> User:
    return User(id=r.id, name=r.name, role=r.role, created_at=r.created_at,
                updated_at=r.updated_at, last_login_at=r.last_login_at,
                failed_logins=r.failed_logins, locked_until=r.locked_until)


def _entry(r: Any) -> AuditEntry:
    return AuditEntry(id=r.id, at=r.at, user=r.user_name, action=r.action, target=r.target,
                      detail=r.detail)


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"no user named {name!r} (see: aggregator users list)")


class UsersMixin:
    """The accounts half of :class:`aggregator.store.Store`."""

    engine: sa.Engine

    def _write(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    # -- users -----------------------------------------------------------------------

    def add_user(self, name: str, role: str, password_hash: str, now: datetime) -> User:
        try:
            with self._write() as conn:
                conn.execute(users.insert().values(
                    name=name, role=role, password_hash=password_hash, created_at=now,
                    updated_at=now, failed_logins=0))
        except sa.exc.IntegrityError as e:
            raise UsageError(f"a user named {name!r} already exists "
                             "(aggregator users passwd sets a new password)") from e
        return self.get_user(name)

    def find_user(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return _user(row) if row else None

    def get_user(self, name: str) -> User:
        found = self.find_user(name)
        if found is None:
            raise _not_found(name)
        return found

    def get_credentials(self, name: str) -> tuple[User, str] | None:
        """The user and their password hash, or None for an unknown name."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return (_user(row), row.password_hash) if row else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(users).order_by(users.c.name))]

    def set_password(self, name: str, password_hash: str, now: datetime) -> User:
        """A new password; it also lifts a lock (an admin vouches for the person)."""
        return self._update_user(name, password_hash=password_hash, updated_at=now,
                                 failed_logins=0, locked_until=None)

    def remove_user(self, name: str) -> User:
        user = self.get_user(name)
        with self._write() as conn:
            conn.execute(users.delete().where(users.c.name == name))
        return user

    def record_login_failure(self, name: str, now: datetime, *, limit: int,
                             lock_for: timedelta) -> User:
        """Count a wrong password; the ``limit``-th in a row locks the account.

        Counted in the database, in one transaction, so that failures in several
        threads or processes add up. Locking starts the count again.
        """
        with self._write() as conn:
            res = conn.execute(users.update().where(users.c.name == name)
                               .values(failed_logins=users.c.failed_logins + 1))
            if res.rowcount != 1:
                raise _not_found(name)
            conn.execute(users.update()
                         .where(users.c.name == name, users.c.failed_logins >= limit)
                         .values(failed_logins=0, locked_until=now + lock_for))
        return self.get_user(name)

    def record_login_success(self, name: str, now: datetime, *,
                             password_hash: str | None = None) -> User:
        """A good password: the count starts again; ``password_hash``: a rehash to keep."""
        values: dict[str, Any] = {"last_login_at": now, "failed_logins": 0,
                                  "locked_until": None}
        if password_hash is not None:
            values["password_hash"] = password_hash
        return self._update_user(name, **values)

    def _update_user(self, name: str, **values: Any) -> User:
        with self._write() as conn:
            res = conn.execute(users.update().where(users.c.name == name).values(**values))
            if res.rowcount != 1:
                raise _not_found(name)
        return self.get_user(name)

    # -- the audit log ---------------------------------------------------------------

    def add_audit(self, at: datetime, user: str | None, action: str, target: str,
                  detail: str = "") -> AuditEntry:
        with self._write() as conn:
            res = conn.execute(audit_log.insert().values(
                at=at, user_name=user, action=action, target=target, detail=detail))
            (entry_id,) = res.inserted_primary_key or (0,)
        return AuditEntry(id=int(entry_id), at=at, user=user, action=action, target=target,
                          detail=detail)

    def list_audit(self, limit: int = 50, offset: int = 0, *, user: str | None = None,
                   action: str | None = None) -> list[AuditEntry]:
        """Newest first; ``user`` and ``action`` filter exactly."""
        q = (self._audit_filter(sa.select(audit_log), user, action)
             .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
             .limit(limit).offset(offset))
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(q)]

    def count_audit(self, *, user: str | None = None, action: str | None = None) -> int:
        q = self._audit_filter(sa.select(sa.func.count()).select_from(audit_log), user, action)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar() or 0)

    @staticmethod
    def _audit_filter(q: sa.Select[Any], user: str | None, action: str | None
                      ) -> sa.Select[Any]:
        if user is not None:
            q = q.where(audit_log.c.user_name == user)
        if action is not None:
            q = q.where(audit_log.c.action == action)
        return q
