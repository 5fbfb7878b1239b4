"""When to poll a source next, from data alone (no I/O, explicit ``now`` and RNG).

Success: the source's interval, lengthened (never shortened) by what the publisher
says about freshness — Cache-Control max-age, Expires, the feed's ``<ttl>`` or
``sy:updatePeriod`` — never below ``min_interval``, and a publisher's hint is not
followed past ``max(interval, max_backoff)``.

Failure: exponential backoff with jitter, capped at ``max_backoff``; a Retry-After
from the server is a floor. Errors never disable a source; only 410 Gone does.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from aggregator.config import FetchConfig
from aggregator.errors import FetchError, GoneError
from aggregator.models import Response, Source, SourceStatus

_MAX_AGE_RE = re.compile(r"(?:^|[,\s])(s-maxage|max-age)\s*=\s*\"?(\d+)", re.I)
# a publisher asking for more than a week is not followed further
_RETRY_AFTER_CAP = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class Decision:
    """The health fields to store after one poll."""

    status: SourceStatus
    next_poll_at: datetime | None
    error_count: int
    last_error: str | None
    enabled: bool = True
    disabled_reason: str | None = None

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status.value if self.status is not SourceStatus.DISABLED else "error",
            "next_poll_at": self.next_poll_at,
            "error_count": self.error_count,
            "last_error": self.last_error,
        }
        if not self.enabled:
            out.update(enabled=False, disabled_reason=self.disabled_reason)
        return out


def base_interval(source: Source, config: FetchConfig) -> float:
    return max(source.definition.interval or config.interval, config.min_interval)


def freshness_hint(response: Response | None, feed_ttl: float | None, now: datetime) -> float:
    """The longest of the publisher's freshness hints, in seconds (0 when none)."""
    hints = [feed_ttl or 0.0]
    if response is not None:
        cache_control = response.headers.get("cache-control", "")
        if m := _MAX_AGE_RE.search(cache_control):
            hints.append(float(m.group(2)))
        elif expires := response.headers.get("expires"):
            try:
                when = parsedate_to_datetime(expires)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                hints.append((when - now).total_seconds())
            except (TypeError, ValueError):
                pass
    return max(hints)


def after_success(source: Source, config: FetchConfig, now: datetime, *,
                  response: Response | None = None, feed_ttl: float | None = None) -> Decision:
    interval = base_interval(source, config)
    hint = min(freshness_hint(response, feed_ttl, now), max(interval, config.max_backoff))
    delay = max(interval, hint)
    return Decision(SourceStatus.OK, now + timedelta(seconds=delay), 0, None)


def after_error(source: Source, config: FetchConfig, now: datetime, error: FetchError | Exception,
                rng: random.Random) -> Decision:
    count = source.error_count + 1
    message = one_line(str(error)) or type(error).__name__
    if isinstance(error, GoneError):
        return Decision(SourceStatus.DISABLED, None, count, message, enabled=False,
                        disabled_reason="gone")
    interval = base_interval(source, config)
    delay = min(config.max_backoff, interval * 2 ** min(count - 1, 20))
    delay *= rng.uniform(0.9, 1.1)  # jitter: failing sources must not retry in lockstep
    delay = min(delay, config.max_backoff)
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        delay = max(delay, min(retry_after, _RETRY_AFTER_CAP))
    return Decision(SourceStatus.ERROR, now + timedelta(seconds=delay), count, message)


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
