"""fetch: the only module that speaks HTTP.

``Fetcher.fetch(url, etag=..., last_modified=...)`` returns a ``Response`` (2xx with
the body, or 304) or raises one error of the ``FetchError`` tree::

    scheme + address check ─► per-host turn ─► GET ─► 3xx? next hop, checked again
                                                   └─► 2xx ─► stream, decode, count ─► Response

What it does: conditional GET; redirects followed hop by hop, recorded when every hop
was permanent; one timeout for the whole request; a size cap enforced while
decompressing; the address rules of DESIGN §4 (``allow_private``), and a connection
only ever made to an address they passed (no second DNS answer sneaks in); a global and
a per-host limit with a delay between starts; an offline mode that answers from
recorded snapshots through the very same code path.

The client is aiohttp (its HTTP parser is C): a 304 costs ~0.1 ms of CPU where httpx
took ~0.7 ms, which is most of a warm poll (bench/README.md, "Ingest").

What it does not: parse the body, retry, decide when to poll next (it only reports
Retry-After), or keep state between fetches (no cookies, no cache).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import mimetypes
import os
import socket
import ssl
import time
import tomllib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from pathlib import Path
from typing import Protocol, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict
from yarl import URL

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
from aggregator.models import Response

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
          "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
          "application/json;q=0.8, text/html;q=0.7, */*;q=0.5")
# Only what the bounded decoder below handles. Brotli would need a decoder that can
# stop mid-chunk; none is installed, so we never invite it.
ACCEPT_ENCODING = "gzip, deflate"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
# An unwanted body (redirect, 304, error page) is read so the connection can go back to
# the pool; past this size or time, dropping the connection is cheaper.
DISCARD_BYTES, DISCARD_SECONDS = 64 * 1024, 1.0
# The longest response header line, and the most header lines, accepted: 2 MiB of head
# at most (aiohttp's 8 KiB line is less than some sites' Content-Security-Policy).
MAX_HEADER_LINE, MAX_HEADERS = 32 * 1024, 64
# Cloud metadata endpoints outside link-local space (AWS IPv6, Alibaba, Oracle):
# refused whatever allow_private says, like 169.254.0.0/16 itself.
METADATA = frozenset(ipaddress.ip_address(a)
                     for a in ("fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from ``now`` that a Retry-After value (seconds or HTTP-date) asks for."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def refusal(ip: IPAddress, private_ok: bool, *, redirected: bool = False) -> str | None:
    """Why this address must not be fetched, or None when it may be.

    ``redirected``: a redirect hop to another host while allow_private is on, which
    admits only the configured host; the reason says so rather than "allow_private is
    off", which would send the reader to a setting that is already on.
    """
    off = ("a redirect off the configured host; allow_private admits only that one"
           if redirected else "allow_private is off")
    if isinstance(ip, ipaddress.IPv6Address):  # judge the IPv4 address it carries
        if ip.ipv4_mapped or ip.sixtofour:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
        elif ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in METADATA or ip.is_link_local:
        return "a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified:
        return "a multicast or unspecified address"
    if ip.is_loopback:  # before is_reserved, which covers ::1
        return None if private_ok else f"a loopback address ({off})"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return None if private_ok else f"a private address ({off})"
    return None


class Fetcher:
    """Fetches documents politely; one per process, shared by every source."""

    def __init__(self, config: FetchConfig, *, offline: Sequence[Path] | None = None,
                 resolver: Resolver | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._offline = _Snapshots(offline) if offline is not None else None
        self._resolve = resolver or system_resolver
        self._clock = clock  # wall clock, for Retry-After dates; delays use loop.time()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._hosts: dict[str, _HostState] = {}
        #: (host, port) -> the addresses the last check of that name passed; the only
        #: ones a connection goes to (see _PinnedResolver)
        self._checked: dict[tuple[str, int], list[IPAddress]] = {}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp wants a running loop for it)."""
        if self._session is None:
            config = self._config
            connector = aiohttp.TCPConnector(
                limit=0,  # the semaphores above are the limits
                # Idle connections are kept for the poll, so the next source on the
                # same host (and its 304) costs no new TCP or TLS handshake.
                keepalive_timeout=60.0,
                use_dns_cache=False,
                resolver=_PinnedResolver(self._checked),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout,
                                              sock_read=config.timeout),
                headers={"User-Agent": config.user_agent, "Accept": ACCEPT,
                         "Accept-Encoding": ACCEPT_ENCODING},
                # Stateless: no cookie set by one feed rides along to the next poll.
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,  # the bounded decoder below inflates
                max_line_size=MAX_HEADER_LINE, max_field_size=MAX_HEADER_LINE,
                max_headers=MAX_HEADERS,
                trust_env=False,  # proxy variables would route around the address rules
            )
        return self._session

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, url: str, *, etag: str | None = None,
                    last_modified: str | None = None) -> Response:
        headers = {}
        # a validator a server sent with control characters in it cannot be sent back
        if etag and etag.isprintable():
            headers["If-None-Match"] = etag
        if last_modified and last_modified.isprintable():
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            try:
                return await self._follow(url, headers)
            except TimeoutError as e:
                raise FetchTimeout(url, f"no complete answer within {self._config.timeout:g} s "
                                        "([fetch] timeout)") from e

    async def _follow(self, url: str, headers: dict[str, str]) -> Response:
        loop = asyncio.get_running_loop()
        try:
            target = URL(url)
        except (ValueError, TypeError) as e:
            raise FetchError(url, f"not a valid URL: {url!r}") from e
        first_host, seen, hops, permanent = target.host, {str(target)}, 0, True
        # The clock starts once the first host gives us a turn: time spent queueing
        # behind other fetches to that host is not this request's fault.
        async with asyncio.timeout(None) as timer:
            while True:
                if target.scheme not in ("http", "https") or not target.host:
                    raise AddressRefused(str(target), f"refused {target}: only http:// and "
                                                      "https:// URLs are fetched")
                async with self._turn(target.host):
                    if timer.when() is None:
                        timer.reschedule(loop.time() + self._config.timeout)
                    await self._check_address(target, first_host)
                    response = await self._send(target, headers)
                    try:
                        status, location = response.status, response.headers.get("location")
                        if status not in REDIRECTS or not location:
                            final = url if hops == 0 else str(target)
                            moved = final if hops and permanent else None
                            return await self._finish(response, target, final, moved)
                        await _discard(response)
                    finally:
                        response.close()
                hops += 1
                permanent = permanent and status in PERMANENT
                try:
                    target = target.join(URL(location.strip()))
                except (ValueError, TypeError) as e:
                    raise FetchError(str(target), f"redirect to a malformed URL {location!r}") from e
                if str(target) in seen:
                    raise TooManyRedirects(url, f"redirect loop: {target} was already visited")
                if hops > self._config.max_redirects:
                    raise TooManyRedirects(url, f"more than {self._config.max_redirects} "
                                                "redirects ([fetch] max_redirects)")
                seen.add(str(target))

    @contextlib.asynccontextmanager
    async def _turn(self, host: str) -> AsyncIterator[None]:
        """Hold one of the host's slots, starting at least per_host_delay after the last."""
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(
                asyncio.Semaphore(self._config.per_host_concurrency))
        async with state.slots:
            now = asyncio.get_running_loop().time()
            start = max(now, state.next_start)
            state.next_start = start + self._config.per_host_delay  # reserved before waiting
            if start > now:
                await asyncio.sleep(start - now)
            yield

    async def _check_address(self, url: URL, first_host: str | None) -> None:
        """Refuse, before connecting, an address DESIGN §4 does not allow.

        A name is resolved here once, and the connection goes to the addresses that
        passed (``_PinnedResolver``): a name that answers a public address to the check
        and a private one a moment later (DNS rebinding) gets no second answer.
        """
        if self._offline is not None:
            return  # nothing leaves the machine
        same_host = url.host == first_host
        private_ok = self._config.allow_private and same_host
        addresses = await self._addresses(url)
        for ip in addresses:
            why = refusal(ip, private_ok,
                          redirected=self._config.allow_private and not same_host)
            if why:
                raise AddressRefused(str(url), f"refused {url.host}: {ip} is {why}")
        self._checked[(url.raw_host or "", _port(url))] = addresses

    async def _addresses(self, url: URL) -> list[IPAddress]:
        host = url.raw_host or ""
        with contextlib.suppress(ValueError):
            return [ipaddress.ip_address(host)]  # an IP literal: nothing to resolve
        try:
            found = await self._resolve(host, _port(url))
            addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        except (OSError, UnicodeError, ValueError) as e:
            raise FetchError(str(url), f"cannot resolve host {url.host}: {_reason(e)}") from e
        if not addresses:
            raise FetchError(str(url), f"cannot resolve host {url.host}: no address")
        return addresses

    async def _send(self, url: URL, headers: dict[str, str]) -> _Wire:
        if self._offline is not None:
            return self._offline.answer(url, headers)
        try:
            return await self._client().get(url, headers=headers, allow_redirects=False)
        except (aiohttp.ClientError, OSError) as e:
            raise self._network_error(url, e) from e
        except ValueError as e:  # aiohttp refuses to build it (user info it cannot encode)
            raise FetchError(str(url), f"cannot request {url}: {_reason(e)}") from e

    async def _finish(self, response: _Wire, target: URL, url: str,
                      moved: str | None) -> Response:
        status = response.status
        headers = _lower(response.headers)
        if status == 304:
            await _discard(response)  # no body, but reading its end frees the connection
            return Response(url=url, status=304, headers=headers, permanent_redirect=moved)
        if 200 <= status < 300:
            content = await self._read_capped(response, headers, target, url)
            return Response(url=url, status=status, content=content, headers=headers,
                            permanent_redirect=moved)
        await _discard(response)
        raise self._status_error(response, url)

    async def _read_capped(self, response: _Wire, headers: Mapping[str, str], target: URL,
                           url: str) -> bytes:
        """The decoded body, refused as soon as it passes max_bytes.

        Reads raw bytes and inflates them with a limit per call: 64 KiB of gzip can be
        64 MiB, so no whole network read is ever inflated at once.
        """
        cap = self._config.max_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise TooLargeError(url, f"the body is {int(declared)} bytes, over the limit of "
                                     f"{cap} ([fetch] max_bytes)")
        # repeated headers joined (an "identity, gzip" pair is refused, not read as one)
        decoder = _Decoder(headers.get("content-encoding", ""), url)
        parts: list[bytes] = []
        size = 0

        def keep(piece: bytes) -> None:
            nonlocal size
            size += len(piece)
            if size > cap:
                raise TooLargeError(url, f"the body passed the limit of {cap} bytes "
                                         "([fetch] max_bytes)")
            parts.append(piece)

        try:
            async for chunk in response.content.iter_any():
                while chunk:
                    piece, chunk = decoder.decode(chunk, cap - size + 1)
                    keep(piece)
        except (aiohttp.ClientError, OSError, RuntimeError) as e:
            # RuntimeError: aiohttp's "Connection closed." when the read starts too late
            raise self._network_error(target, e) from e
        keep(decoder.flush())
        return b"".join(parts)

    def _status_error(self, response: _Wire, url: str) -> HTTPStatusError:
        status = response.status
        if status == 410:
            return GoneError(url, 410, "410 Gone: the publisher removed this feed; "
                                       "source disabled")
        try:
            message = f"HTTP {status} {HTTPStatus(status).phrase}"
        except ValueError:
            message = f"HTTP {status} {response.reason or 'unknown status'}"
        if status in (429, 503):
            wait = parse_retry_after(response.headers.get("retry-after"), self._clock())
            if wait is not None:
                message += f" (retry after {wait:.0f} s)"
            return HTTPStatusError(url, status, message, retry_after=wait)
        if 300 <= status < 400:
            message += " without a usable Location header"
        elif status == 404 and self._offline is not None:
            message += ": not in the offline snapshot"
        return HTTPStatusError(url, status, message)

    def _network_error(self, url: URL, e: BaseException) -> FetchError:
        host, reason = url.host, _reason(e)
        if isinstance(e, aiohttp.ConnectionTimeoutError):
            return FetchTimeout(str(url), f"cannot connect to {host} within "
                                          f"{self._config.connect_timeout:g} s")
        if isinstance(e, TimeoutError):
            return FetchTimeout(str(url), f"{host} stopped answering: no data for "
                                          f"{self._config.timeout:g} s")
        if isinstance(e, aiohttp.ClientConnectorError):
            return FetchError(str(url), f"cannot connect to {host}: {reason}")
        return FetchError(str(url), f"the connection to {host} failed: {reason}")


class _Wire(Protocol):
    """What the fetcher reads of an answer: aiohttp's, or a recorded snapshot's."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def headers(self) -> Mapping[str, str]: ...  # case-insensitive
    @property
    def content(self) -> _Body: ...
    def close(self) -> None: ...


class _Body(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]: ...


def _port(url: URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names lower-cased; a repeated header's values joined by ", " (RFC 9110 §5.3).

    Values are made safe to store and send back: bytes that are not UTF-8 read as
    Latin-1 (aiohttp leaves them as lone surrogates), control characters dropped.
    """
    out: dict[str, str] = {}
    for k, v in headers.items():
        k = k.lower()
        if not v.isprintable():
            v = _printable(v)
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _printable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the bytes as Latin-1
        value = value.encode("utf-8", "surrogateescape").decode("latin-1")
    return "".join(c if c.isprintable() else " " if c == "\t" else "" for c in value)


class _PinnedResolver(AbstractResolver):
    """The connector's resolver: only the addresses ``_check_address`` passed for a name."""

    def __init__(self, checked: Mapping[tuple[str, int], list[IPAddress]]) -> None:
        self._checked = checked

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addresses = self._checked.get((host, port))
        if not addresses:  # never happens: every new connection follows a check
            raise OSError(f"{host} was not checked before connecting")
        return [ResolveResult(hostname=host, host=str(ip), port=port,
                              family=socket.AF_INET6 if ip.version == 6 else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for ip in addresses]

    async def close(self) -> None:
        pass


@dataclass
class _HostState:
    slots: asyncio.Semaphore
    next_start: float = 0.0


def _reason(e: BaseException) -> str:
    """The most specific one-line message in an exception chain ("Connection refused")."""
    while True:
        if isinstance(e, ssl.SSLError):
            return f"TLS failed: {getattr(e, 'verify_message', None) or e.reason or e}"
        if isinstance(e, socket.gaierror) and e.strerror:
            return e.strerror
        if isinstance(e, OSError) and e.errno and e.errno > 0:
            return os.strerror(e.errno)  # asyncio words it "Connect call failed (...)"
        inner = e.__cause__ or e.__context__
        if inner is None:
            return " ".join(str(e).split()) or type(e).__name__
        e = inner


class _Decoder:
    """Content-Encoding decoder whose output per call is bounded (gzip, deflate)."""

    def __init__(self, encoding: str, url: str) -> None:
        self.encoding, self._url, self._first = encoding.strip().lower(), url, True
        self._z: zlib._Decompress | None = None
        if self.encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.encoding == "deflate":
            self._z = zlib.decompressobj()
        elif self.encoding not in ("", "identity"):
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}")

    def decode(self, data: bytes, limit: int) -> tuple[bytes, bytes]:
        """At most ``limit`` decoded bytes, and the input left for the next call."""
        if self._z is None:
            return data, b""
        try:
            out = self._z.decompress(data, limit)
        except zlib.error as e:
            if self.encoding == "deflate" and self._first:  # some servers send raw deflate
                self._first, self._z = False, zlib.decompressobj(-zlib.MAX_WBITS)
                return self.decode(data, limit)
            raise FetchError(self._url, f"the {self.encoding} body is corrupt: {e}") from e
        self._first = False
        return out, self._z.unconsumed_tail

    def flush(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


async def _discard(response: _Wire) -> None:
    """Read a small unwanted body so its connection returns to the pool for reuse."""
    read = 0
    # read to its end, aiohttp hands the connection back to its pool by itself; past
    # the limit, the caller's close() drops it
    with contextlib.suppress(aiohttp.ClientError, OSError, RuntimeError):
        async with asyncio.timeout(DISCARD_SECONDS):
            async for chunk in response.content.iter_any():
                read += len(chunk)
                if read > DISCARD_BYTES:
                    return


# -- offline mode -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Recorded:
    file: Path
    status: int
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


class _Snapshots:
    """Answers from recorded snapshots (``<root>/<source id>/index.toml``); no network."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self._roots = [Path(r) for r in roots]
        self._index: dict[str, _Recorded] | None = None

    def answer(self, url: URL, headers: Mapping[str, str]) -> _Wire:
        index = self._load()
        entry = index.get(str(url)) or index.get(str(url.with_fragment(None)))
        if entry is None:
            return _Answer(404, [("Content-Type", "text/plain; charset=utf-8")],
                           b"not in the offline snapshot")
        request = {k.lower(): v for k, v in headers.items()}
        if 200 <= entry.status < 300 and _not_modified(request, entry):
            kept = [(k, v) for k, v in entry.headers if k.lower() in ("etag", "last-modified")]
            return _Answer(304, kept, b"")
        try:
            content = entry.file.read_bytes()
        except OSError as e:
            raise FetchError(str(url), f"cannot read snapshot {entry.file}: "
                                       f"{_reason(e)}") from e
        return _Answer(entry.status, entry.headers, content)

    def _load(self) -> dict[str, _Recorded]:
        if self._index is None:
            index: dict[str, _Recorded] = {}
            for root in self._roots:
                if not root.is_dir():
                    raise FetchError(str(root), f"no offline snapshots folder {root}")
                for path in sorted(root.glob("*/index.toml")):
                    for url, entry in _read_index(path):
                        index.setdefault(url, entry)
            self._index = index
        return self._index


class _Answer:
    """A recorded answer, read through the same capped reader as a network one."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.reason: str | None = None  # read only for a status HTTPStatus does not know
        self.headers = CIMultiDict([*headers, ("Content-Length", str(len(body)))])
        self.content = _Chunks(body)

    def close(self) -> None:
        pass


class _Chunks:
    def __init__(self, body: bytes) -> None:
        self._body = body

    async def iter_any(self) -> AsyncIterator[bytes]:
        body, self._body = self._body, b""
        if body:
            yield body


def _read_index(path: Path) -> list[tuple[str, _Recorded]]:
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("response", [])
        if not isinstance(entries, list):
            raise ValueError("expected [[response]] tables")
        out = []
        for n, e in enumerate(entries, 1):
            if not isinstance(e, dict) or not isinstance(e.get("url"), str) \
                    or not isinstance(e.get("file"), str):
                raise ValueError(f"response #{n} needs url and file strings")
            file = path.parent / e["file"]
            if not file.is_file():
                raise ValueError(f"response #{n}: no such file {file}")
            status, extra = e.get("status", 200), e.get("headers", {})
            if not isinstance(status, int) or not isinstance(extra, dict) \
                    or not all(isinstance(v, str) for v in extra.values()):
                raise ValueError(f"response #{n}: status must be an integer and headers "
                                 "a table of strings")
            ctype = e.get("content_type") or mimetypes.guess_type(file.name)[0]
            headers = [("Content-Type", str(ctype))] if ctype else []
            headers += [(k, v) for k, v in extra.items()
                        if not (ctype and k.lower() == "content-type")]
            out.append((str(URL(e["url"])), _Recorded(file, status, headers)))
        return out
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as e:
        raise FetchError(str(path), f"malformed offline index {path}: {e}") from e


def _not_modified(request: Mapping[str, str], entry: _Recorded) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since; weak comparison."""
    wanted = request.get("if-none-match")
    if wanted is not None:
        etag = entry.header("etag")
        tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
        return etag is not None and ("*" in tags or etag.removeprefix("W/") in tags)
    since, modified = request.get("if-modified-since"), entry.header("last-modified")
    if not since or not modified:
        return False
    try:
        return parsedate_to_datetime(since) >= parsedate_to_datetime(modified)
    except (TypeError, ValueError):
        return False
