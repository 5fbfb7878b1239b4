"""Signed tokens for the links in emails (itsdangerous, keyed by the service secret).

Each purpose has its own salt, so a token made for one page is refused by another.
A token names the subscriber by id *and* address: once a subscriber is removed and
the address comes back as a new row, old links no longer act on it.

- ``confirm``: double opt-in; expires (``CONFIRM_MAX_AGE``);
- ``unsubscribe``: never expires (an old email's link and the RFC 8058 one-click
  POST must keep working);
- ``preferences``: expires after a year.
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from aggregator.errors import UsageError

CONFIRM_MAX_AGE = 7 * 86400
PREFERENCES_MAX_AGE = 365 * 86400
PURPOSES = {"confirm": CONFIRM_MAX_AGE, "unsubscribe": None, "preferences": PREFERENCES_MAX_AGE}


class BadToken(UsageError):
    """A link whose token is forged, for another page, or expired."""


@dataclass(frozen=True, slots=True)
class TokenSubject:
    subscriber_id: int
    email: str


def _serializer(secret: bytes, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(secret, salt=f"aggregator.{purpose}")


def make_token(secret: bytes, purpose: str, subscriber_id: int, email: str) -> str:
    return _serializer(secret, purpose).dumps([subscriber_id, email.lower()])


def read_token(secret: bytes, purpose: str, token: str) -> TokenSubject:
    """The subscriber a token names, or :class:`BadToken` saying what is wrong with it."""
    try:
        sid, email = _serializer(secret, purpose).loads(token, max_age=PURPOSES[purpose])
    except SignatureExpired as e:
        raise BadToken(f"this {purpose} link has expired") from e
    except (BadSignature, ValueError, TypeError) as e:
        raise BadToken(f"this {purpose} link is not valid") from e
    if not isinstance(sid, int) or not isinstance(email, str):
        raise BadToken(f"this {purpose} link is not valid")
    return TokenSubject(sid, email)
