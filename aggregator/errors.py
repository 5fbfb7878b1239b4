"""One error tree for the whole service.

Every error a user can meet derives from :class:`AggregatorError` and says, in
one line, what was wrong and what to do next. Foreign exceptions are chained at
the boundary (``raise FetchError(url, "...") from e``) so the cause stays visible.
"""

from __future__ import annotations

from datetime import UTC, datetime


class AggregatorError(Exception):
    """Base of every error this package raises on purpose."""

    #: process exit status when this error reaches the command line
    exit_code = 1


class ConfigError(AggregatorError):
    """A wrong key, type or value in a configuration or source file (exit 2)."""

    exit_code = 2

    def __init__(self, path: object, key: str | None, message: str) -> None:
        self.path = str(path)
        self.key = key
        self.message = message
        where = f"{self.path}: {key}: " if key else f"{self.path}: "
        super().__init__(where + message)


class StorageError(AggregatorError):
    """The database cannot be opened, migrated or written (exit 3)."""

    exit_code = 3


class NotFoundError(AggregatorError):
    """A source, story or copy id that does not exist."""

    exit_code = 4


class UsageError(AggregatorError):
    """A command given arguments it cannot act on."""

    exit_code = 2


class SourceError(AggregatorError):
    """Something went wrong with one source; recorded on it, never fatal to a run."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.message = message
        super().__init__(message)


class FetchError(SourceError):
    """The document could not be fetched.

    ``retry_after`` (seconds) is set when the server asked us to come back later.
    """

    def __init__(self, url: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(url, message)
        self.retry_after = retry_after


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, message: str, *, retry_after: float | None = None):
        super().__init__(url, message, retry_after=retry_after)
        self.status = status


class GoneError(HTTPStatusError):
    """410 Gone: the publisher removed the feed for good; the source is disabled."""


class AddressRefused(FetchError):
    """The URL's scheme or address is not allowed (private, link-local, not http)."""


class TooLargeError(FetchError):
    """The body exceeded ``[fetch] max_bytes`` (counted after decompression)."""


class FetchTimeout(FetchError):
    """The whole request took longer than ``[fetch] timeout``."""


class TooManyRedirects(FetchError):
    """More than ``[fetch] max_redirects`` hops, or a loop."""


class ParseError(SourceError):
    """Nothing usable could be recovered from the document."""


class MailError(AggregatorError):
    """Mail could not be handed over: the server is unreachable or refused to talk to us.

    Stops a send (what was claimed is given back); exit 5.
    """

    exit_code = 5


class MailRefused(AggregatorError):
    """The server refused one message (``code`` and ``stage``: MAIL, RCPT or DATA)."""

    def __init__(self, code: int, reply: str, stage: str) -> None:
        self.code = code
        self.reply = reply
        self.stage = stage
        super().__init__(f"{stage}: {code} {reply}".strip())

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500


class MailFateUnknown(AggregatorError):
    """The connection broke while the server had the message: it may have been accepted."""


class LoginFailed(AggregatorError):
    """A wrong name or password; which of the two is never said (exit 6)."""

    exit_code = 6

    def __init__(self, message: str = "wrong name or password") -> None:
        super().__init__(message)


class AccountLocked(LoginFailed):
    """Too many wrong passwords in a row: the account refuses logins until ``until``."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(f"this account is locked after too many wrong passwords; try again "
                         f"after {until.astimezone(UTC).strftime('%H:%M')} UTC")
