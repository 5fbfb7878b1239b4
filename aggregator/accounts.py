"""Editors' accounts: what a name, a role and a password must be, and password hashing.

Pure rules and argon2id (argon2-cffi's defaults, the RFC 9106 low-memory profile);
:class:`aggregator.service.Service` applies them to the store, and
:mod:`aggregator.web.auth` logs people in with the service. Nothing here touches the
database or the web.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aggregator.errors import UsageError
from aggregator.models import USER_ROLES

#: wrong passwords in a row that lock an account ...
MAX_FAILED_LOGINS = 5
#: ... for this long
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
#: longer is surely a paste gone wrong; it would only make hashing slow
MAX_PASSWORD = 1024

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ACTION = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")

DEFAULT_HASHER = PasswordHasher()


def is_name(name: str) -> bool:
    return _NAME.fullmatch(name) is not None


def check_name(name: str) -> str:
    if not is_name(name):
        raise UsageError(f"{name!r} cannot be a user name: use 1 to 64 letters, digits, "
                         "dots, underscores or hyphens")
    return name


def check_role(role: str) -> str:
    if role not in USER_ROLES:
        raise UsageError(f"{role!r} is not a role (roles: {', '.join(USER_ROLES)})")
    return role


def check_password(password: str, name: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD} characters "
                         "(a few unrelated words make a good one)")
    if len(password) > MAX_PASSWORD:
        raise UsageError(f"the password is too long: at most {MAX_PASSWORD} characters")
    if password.strip().lower() == name.lower():
        raise UsageError("the password must not be the user name")
    return password


def check_action(action: str) -> str:
    """An audit log action: short, lower case, dotted (``pin``, ``source.add``)."""
    if not _ACTION.fullmatch(action):
        raise UsageError(f"{action!r} cannot be an audit action: use up to 32 lower-case "
                         "letters, digits, dots, underscores or hyphens")
    return action


def verify(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """True if ``password`` matches; a damaged hash matches nothing."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def spend_verify_time(hasher: PasswordHasher, password: str) -> None:
    """Take as long as a real check, so an unknown or locked name answers no faster."""
    verify(hasher, _dummy_hash(hasher), password)


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))
