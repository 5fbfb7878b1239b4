"""fetch against a real HTTP server on 127.0.0.1 (tests/httpserver.py) and offline snapshots."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aggregator.config import FetchConfig
from aggregator.errors import (
    AddressRefused,
    FetchError,
    FetchTimeout,
    GoneError,
    HTTPStatusError,
    TooLargeError,
    TooManyRedirects,
)
from aggregator.fetch import Fetcher, parse_retry_after
from aggregator.models import Response
from tests.httpserver import (
    HTTPTestServer,
    Reply,
    conditional,
    drip,
    gzipped,
    redirect,
    stall_after_headers,
    static,
    status,
)

DATA = Path(__file__).parent / "data" / "fetch"
FEED = (DATA / "feed.xml").read_bytes()
ETAG = '"v1"'
LAST_MODIFIED = "Tue, 24 Nov 2026 10:00:00 GMT"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
BASE = FetchConfig(user_agent="smuggling-news-test/1 (+https://example.test/contact)",
                   timeout=2.0, connect_timeout=1.0, allow_private=True)


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as s:
        yield s


def run(job: Callable[[Fetcher], Awaitable[Any]], config: FetchConfig = BASE,
        **options: Any) -> Any:
    async def main() -> Any:
        async with Fetcher(config, clock=lambda: NOW, **options) as fetcher:
            return await job(fetcher)

    return asyncio.run(main())


def fetch(url: str, config: FetchConfig = BASE, **options: Any) -> Response:
    return run(lambda f: f.fetch(url), config, **options)


def stub_resolver(table: dict[str, str], calls: list[str]) -> Callable[[str, int],
                                                                      Awaitable[list[str]]]:
    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [table[host]]

    return resolve


# -- success and conditional GET ----------------------------------------------------------


def test_200_returns_the_body_and_lower_cased_headers(server: HTTPTestServer) -> None:
    server.route("/feed.xml", static(FEED, headers={"ETag": ETAG, "X-Custom": "yes"}))
    response = fetch(server.url("/feed.xml"))
    assert response.status == 200
    assert response.content == FEED
    assert response.url == server.url("/feed.xml")
    assert response.etag == ETAG
    assert response.headers["x-custom"] == "yes"
    assert response.content_type.startswith("application/rss+xml")
    assert response.permanent_redirect is None


def test_gzip_body_is_decoded(server: HTTPTestServer) -> None:
    server.route("/feed.xml", gzipped(FEED))
    assert fetch(server.url("/feed.xml")).content == FEED


def test_polite_headers_are_sent(server: HTTPTestServer) -> None:
    server.route("/feed.xml", static(FEED))
    fetch(server.url("/feed.xml"))
    headers = server.requests[0].headers
    assert headers["user-agent"] == BASE.user_agent
    assert headers["accept"].startswith("application/rss+xml")
    assert headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("validator", ["etag", "last_modified"])
def test_second_fetch_is_a_304_on_the_same_connection(
        server: HTTPTestServer, validator: str) -> None:
    server.route("/feed.xml", conditional(FEED, etag=ETAG if validator == "etag" else None,
                                          last_modified=LAST_MODIFIED))

    async def twice(f: Fetcher) -> tuple[Response, Response]:
        first = await f.fetch(server.url("/feed.xml"))
        again = await f.fetch(server.url("/feed.xml"), etag=first.etag,
                              last_modified=first.last_modified)
        return first, again

    first, again = run(twice)
    assert first.status == 200 and first.content == FEED
    assert again.not_modified and again.content == b""
    assert server.connections == 1


# -- error statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "message"), [(404, "HTTP 404 Not Found"),
                                                (500, "HTTP 500 Internal Server Error")])
def test_error_status_says_what_happened(server: HTTPTestServer, code: int,
                                          message: str) -> None:
    server.route("/feed.xml", status(code))
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/feed.xml"))
    assert caught.value.status == code
    assert str(caught.value) == message
    assert caught.value.retry_after is None


@pytest.mark.parametrize(("code", "retry_after"), [
    (429, "120"),
    (429, format_datetime(datetime.fromtimestamp(NOW + 120, UTC), usegmt=True)),
    (503, "120"),
])
def test_429_and_503_carry_retry_after(server: HTTPTestServer, code: int,
                                       retry_after: str) -> None:
    server.route("/feed.xml", status(code, {"Retry-After": retry_after}))
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url("/feed.xml"))
    assert caught.value.status == code
    assert caught.value.retry_after == pytest.approx(120)


def test_410_is_gone(server: HTTPTestServer) -> None:
    server.route("/feed.xml", status(410))
    with pytest.raises(GoneError, match="410 Gone: the publisher removed this feed"):
        fetch(server.url("/feed.xml"))


def test_connection_refused_is_a_fetch_error_with_its_cause() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1: Connection refused") as caught:
        fetch(f"http://127.0.0.1:{port}/feed.xml")
    assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)


def test_dns_failure_is_a_fetch_error() -> None:
    resolver = stub_resolver({}, [])
    with pytest.raises(FetchError, match=r"cannot resolve host nowhere\.test") as caught:
        fetch("http://nowhere.test/feed.xml", resolver=resolver)
    assert isinstance(caught.value.__cause__, socket.gaierror)


# -- redirects ------------------------------------------------------------------------------


def test_301_is_followed_and_recorded_as_permanent(server: HTTPTestServer) -> None:
    server.route("/old", redirect("/new", 301))
    server.route("/new", static(FEED))
    response = fetch(server.url("/old"))
    assert response.content == FEED
    assert response.url == server.url("/new")
    assert response.permanent_redirect == server.url("/new")


@pytest.mark.parametrize("chain", [(302,), (301, 302)])
def test_a_temporary_hop_makes_the_redirect_not_permanent(
        server: HTTPTestServer, chain: tuple[int, ...]) -> None:
    for n, code in enumerate(chain):
        server.route(f"/r{n}", redirect(f"/r{n + 1}", code))
    server.route(f"/r{len(chain)}", static(FEED))
    response = fetch(server.url("/r0"))
    assert response.url == server.url(f"/r{len(chain)}")
    assert response.permanent_redirect is None


def test_a_redirect_loop_is_refused(server: HTTPTestServer) -> None:
    server.route("/a", redirect("/b"))
    server.route("/b", redirect("/a"))
    with pytest.raises(TooManyRedirects, match="loop"):
        fetch(server.url("/a"))


def test_more_redirects_than_allowed_are_refused(server: HTTPTestServer) -> None:
    for n in range(10):
        server.route(f"/r{n}", redirect(f"/r{n + 1}"))
    with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
        fetch(server.url("/r0"), replace(BASE, max_redirects=3))
    assert server.paths() == ["/r0", "/r1", "/r2", "/r3"]


# -- address rules ----------------------------------------------------------------------------


def test_redirect_to_cloud_metadata_is_refused_and_never_contacted(
        server: HTTPTestServer, connects: list[Any]) -> None:
    server.route("/feed.xml", redirect("http://169.254.169.254/latest/meta-data/"))
    with pytest.raises(AddressRefused, match=r"169\.254\.169\.254 is a link-local"):
        fetch(server.url("/feed.xml"))
    assert connects == [("127.0.0.1", server.port)]


def test_redirect_to_another_private_host_is_refused(
        server: HTTPTestServer, connects: list[Any]) -> None:
    calls: list[str] = []
    resolver = stub_resolver({"intranet.test": "10.0.0.5"}, calls)
    server.route("/feed.xml", redirect("http://intranet.test/admin"))
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.5 is a private address"):
        fetch(server.url("/feed.xml"), resolver=resolver)
    assert calls == ["intranet.test"]
    assert connects == [("127.0.0.1", server.port)]


def test_a_long_header_line_is_read(server: HTTPTestServer) -> None:
    policy = "default-src 'self'; " + "; ".join(f"img-src https://cdn{i}.example.org"
                                                 for i in range(600))  # ~22 KB
    server.route("/feed.xml", static(FEED, headers={"Content-Security-Policy": policy}))
    response = fetch(server.url("/feed.xml"))
    assert response.content == FEED and response.headers["content-security-policy"] == policy


def test_header_values_are_kept_printable(server: HTTPTestServer) -> None:
    """Control characters are dropped and bytes that are not UTF-8 read as Latin-1, so a
    validator can be stored and sent back."""
    server.route("/feed.xml", static(FEED, headers={"ETag": '"v\x011"', "X-Desk": "caf\xe9"}))

    async def twice(f: Fetcher) -> tuple[Response, Response]:
        first = await f.fetch(server.url("/feed.xml"))
        return first, await f.fetch(server.url("/feed.xml"), etag=first.etag)

    first, again = run(twice)
    assert first.etag == '"v1"' and first.headers["x-desk"] == "café"
    assert again.status == 200 and server.requests[1].headers["if-none-match"] == '"v1"'


def test_a_redirect_with_user_info_aiohttp_cannot_encode_is_a_fetch_error(
        server: HTTPTestServer) -> None:
    server.route("/feed.xml", redirect(f"http://a%3Ab@127.0.0.1:{server.port}/other.xml"))
    with pytest.raises(FetchError, match="cannot request"):
        fetch(server.url("/feed.xml"))


def test_the_connection_goes_to_the_address_the_check_passed(
        server: HTTPTestServer, connects: list[Any]) -> None:
    """A name is resolved once: a second, different answer (DNS rebinding) is never asked for."""
    calls: list[str] = []
    answers = iter(["127.0.0.1", "10.0.0.5"])

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return [next(answers)]

    server.route("/feed.xml", static(FEED))
    response = fetch(f"http://feeds.test:{server.port}/feed.xml", resolver=rebinding)
    assert response.status == 200 and response.content == FEED
    assert calls == ["feeds.test"]  # the system's resolver would not know feeds.test
    assert connects == [("127.0.0.1", server.port)]
    assert server.requests[0].headers["host"] == f"feeds.test:{server.port}"


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://ftp.example.org/feed.xml"])
def test_redirect_to_another_scheme_is_refused(server: HTTPTestServer, target: str) -> None:
    server.route("/feed.xml", redirect(target))
    with pytest.raises(AddressRefused, match="only http:// and https://"):
        fetch(server.url("/feed.xml"))


def test_without_allow_private_loopback_is_refused_before_any_request(
        server: HTTPTestServer) -> None:
    server.route("/feed.xml", static(FEED))
    with pytest.raises(AddressRefused, match="loopback"):
        fetch(server.url("/feed.xml"), replace(BASE, allow_private=False))
    assert server.requests == [] and server.connections == 0


# -- size cap ---------------------------------------------------------------------------------


def test_a_body_over_max_bytes_is_refused_while_streaming(server: HTTPTestServer) -> None:
    server.route("/big", Reply(200, {}, b"x" * 300_000, chunk_size=16_384, chunked=True))
    with pytest.raises(TooLargeError):
        fetch(server.url("/big"), replace(BASE, max_bytes=100_000))


def test_content_length_over_max_bytes_is_refused_at_once(server: HTTPTestServer) -> None:
    # The body never comes: only the header can make this fail before the timeout.
    server.route("/big", stall_after_headers(content_length=5_000_000))
    started = time.monotonic()
    with pytest.raises(TooLargeError, match="5000000 bytes"):
        fetch(server.url("/big"), replace(BASE, max_bytes=1_000_000))
    assert time.monotonic() - started < BASE.timeout


def test_a_gzip_bomb_is_refused_without_inflating_it(server: HTTPTestServer) -> None:
    packer = zlib.compressobj(wbits=31)  # gzip framing
    bomb = b"".join(packer.compress(bytes(1 << 20)) for _ in range(50)) + packer.flush()
    assert len(bomb) < 100_000  # 50 MiB of zeros, about 50 KB on the wire
    server.route("/bomb", Reply(200, {"Content-Encoding": "gzip"}, bomb))
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError):
            fetch(server.url("/bomb"), replace(BASE, max_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # a few MiB at most, never the 50 MiB body


# -- timeouts and concurrency -------------------------------------------------------------------


@pytest.mark.parametrize("reply", [drip(FEED, interval=0.1), stall_after_headers()],
                         ids=["drip", "stall"])
def test_a_slow_body_times_out_on_the_whole_request(server: HTTPTestServer,
                                                   reply: Reply) -> None:
    server.route("/slow", reply)
    started = time.monotonic()
    with pytest.raises(FetchTimeout):
        fetch(server.url("/slow"), replace(BASE, timeout=1.0))
    assert time.monotonic() - started < 2.0


def test_per_host_limit_and_delay_space_out_requests(server: HTTPTestServer) -> None:
    server.route("/feed.xml", static(FEED))
    config = replace(BASE, per_host_concurrency=1, per_host_delay=0.3)

    async def three(f: Fetcher) -> None:
        await asyncio.gather(*(f.fetch(server.url("/feed.xml")) for _ in range(3)))

    run(three, config)
    starts = [r.at for r in server.requests]
    assert len(starts) == 3
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(starts))


def test_a_slow_source_does_not_delay_a_fast_one(server: HTTPTestServer) -> None:
    server.route("/slow", stall_after_headers())
    server.route("/fast", static(FEED))
    config = replace(BASE, timeout=1.0)

    async def both(f: Fetcher) -> tuple[BaseException | Response, float]:
        started = time.monotonic()
        slow = asyncio.create_task(f.fetch(server.url("/slow")))
        await asyncio.sleep(0.05)  # the slow one is in flight first
        await f.fetch(server.url("/fast"))
        fast_done = time.monotonic() - started
        outcome = (await asyncio.gather(slow, return_exceptions=True))[0]
        return outcome, fast_done

    outcome, fast_done = run(both, config)
    assert isinstance(outcome, FetchTimeout)
    assert fast_done < 0.5


# -- Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0),
    (" 0 ", 0.0),
    ("Tue, 24 Nov 2026 12:02:00 GMT", 120.0),
    ("Tue, 24 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now, never negative
    ("soon", None),
    ("-5", None),
    ("", None),
    (None, None),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


# -- offline mode ----------------------------------------------------------------------------

STORIES = "https://www.unodc.org/unodc/en/feed/stories.xml"


@pytest.fixture
def snapshots(tmp_path: Path) -> Path:
    folder = tmp_path / "snapshots" / "unodc-stories"
    folder.mkdir(parents=True)
    (folder / "stories.xml").write_bytes(FEED)
    (folder / "index.toml").write_text(f'''
[[response]]
url = "{STORIES}"
file = "stories.xml"
content_type = "application/rss+xml; charset=utf-8"
headers = {{ ETag = '{ETAG}', "Last-Modified" = "{LAST_MODIFIED}" }}
''', encoding="utf-8")
    return tmp_path / "snapshots"


async def _no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"offline mode resolved {host}")


def test_offline_serves_200_304_and_404_without_a_socket(
        snapshots: Path, server: HTTPTestServer, connects: list[Any]) -> None:
    async def three(f: Fetcher) -> tuple[Response, Response, HTTPStatusError]:
        first = await f.fetch(STORIES + "#latest")
        again = await f.fetch(STORIES, etag=first.etag)
        with pytest.raises(HTTPStatusError) as missing:
            await f.fetch(server.url("/feed.xml"))
        return first, again, missing.value

    first, again, missing = run(three, offline=[snapshots], resolver=_no_dns)
    assert first.status == 200 and first.content == FEED
    assert first.content_type == "application/rss+xml; charset=utf-8"
    assert first.etag == ETAG and first.last_modified == LAST_MODIFIED
    assert again.not_modified
    assert missing.status == 404 and "not in the offline snapshot" in str(missing)
    assert connects == [] and server.connections == 0


def test_offline_answers_304_to_if_modified_since(snapshots: Path) -> None:
    response = run(lambda f: f.fetch(STORIES, last_modified=LAST_MODIFIED), offline=[snapshots])
    assert response.not_modified


def test_a_malformed_offline_index_names_the_file(snapshots: Path) -> None:
    index = snapshots / "unodc-stories" / "index.toml"
    index.write_text("[[response]\nurl = ", encoding="utf-8")
    with pytest.raises(FetchError, match=r"malformed offline index .*index\.toml"):
        fetch(STORIES, offline=[snapshots])
