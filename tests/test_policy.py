"""When to poll next: the publisher's hints, backoff with jitter, Retry-After, 410."""

from __future__ import annotations

import random
from datetime import timedelta

from aggregator.config import FetchConfig
from aggregator.errors import FetchError, GoneError, HTTPStatusError
from aggregator.models import Response, Source, SourceDef, SourceStatus
from aggregator.policy import after_error, after_success
from tests.conftest import NOW

CFG = FetchConfig(interval=3600, min_interval=900, max_backoff=86400)


def source(errors: int = 0, interval: float | None = None) -> Source:
    return Source(SourceDef(id="s", url="https://x.org/f", interval=interval), error_count=errors)


def delay(next_at) -> float:
    return (next_at - NOW).total_seconds()


def test_success_waits_the_interval_and_resets_errors() -> None:
    d = after_success(source(errors=3), CFG, NOW)
    assert d.status is SourceStatus.OK and d.error_count == 0 and d.last_error is None
    assert delay(d.next_poll_at) == 3600


def test_never_below_min_interval() -> None:
    assert delay(after_success(source(interval=60), CFG, NOW).next_poll_at) == 900


def test_publisher_hints_lengthen_but_never_shorten() -> None:
    resp = Response("u", 200, headers={"cache-control": "public, max-age=7200"})
    assert delay(after_success(source(), CFG, NOW, response=resp).next_poll_at) == 7200
    short = Response("u", 200, headers={"cache-control": "max-age=60"})
    assert delay(after_success(source(), CFG, NOW, response=short).next_poll_at) == 3600
    assert delay(after_success(source(), CFG, NOW, feed_ttl=3 * 3600).next_poll_at) == 3 * 3600
    expires = Response("u", 200, headers={"expires": "Sat, 28 Nov 2026 16:00:00 GMT"})
    assert delay(after_success(source(), CFG, NOW, response=expires).next_poll_at) == 4 * 3600
    absurd = Response("u", 200, headers={"cache-control": "max-age=99999999"})
    assert delay(after_success(source(), CFG, NOW, response=absurd).next_poll_at) == 86400


def test_errors_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [delay(after_error(source(errors=n), CFG, NOW, FetchError("u", "boom"), rng)
                    .next_poll_at) for n in range(8)]
    for n, d in enumerate(delays[:4]):
        assert 0.9 * 3600 * 2**n <= d <= 1.1 * 3600 * 2**n
    assert all(d <= 86400 for d in delays) and delays[-1] == 86400
    d = after_error(source(errors=2), CFG, NOW, FetchError("u", "boom"), rng)
    assert d.status is SourceStatus.ERROR and d.error_count == 3 and d.last_error == "boom"


def test_jitter_spreads_sources_that_fail_together() -> None:
    rng = random.Random(7)
    seen = {after_error(source(), CFG, NOW, FetchError("u", "x"), rng).next_poll_at
            for _ in range(5)}
    assert len(seen) == 5


def test_retry_after_is_a_floor() -> None:
    err = HTTPStatusError("u", 429, "HTTP 429 Too Many Requests", retry_after=5 * 3600)
    d = after_error(source(), CFG, NOW, err, random.Random(0))
    assert delay(d.next_poll_at) >= 5 * 3600


def test_only_gone_disables_and_says_so() -> None:
    d = after_error(source(), CFG, NOW, GoneError("u", 410, "410 Gone: removed"), random.Random(0))
    assert not d.enabled and d.disabled_reason == "gone" and d.next_poll_at is None
    assert "410" in (d.last_error or "")
    many = after_error(source(errors=500), CFG, NOW, FetchError("u", "down"), random.Random(0))
    assert many.enabled


def test_error_messages_are_one_line() -> None:
    d = after_error(source(), CFG, NOW, FetchError("u", "line one\nline two"), random.Random(0))
    assert d.last_error == "line one line two"


def test_next_poll_is_in_the_future() -> None:
    assert after_success(source(), CFG, NOW).next_poll_at > NOW + timedelta(minutes=1)
