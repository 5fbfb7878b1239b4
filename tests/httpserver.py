"""A real HTTP/1.1 server on 127.0.0.1 for tests (DESIGN §8: real parts over mocks).

    with HTTPTestServer() as server:          # or take the ``http_server`` fixture
        server.route("/feed.xml", static(b"<rss/>", content_type="application/rss+xml"))
        server.route("/old", redirect("/feed.xml", 301))
        ... fetch server.url("/old") ...
        server.requests    # every request: method, path, headers (lower-case), connection
        server.connections # accepted TCP connections, to prove keep-alive reuse

A route is a ``Reply`` (the same answer every time) or a function from the
``ServedRequest`` to a ``Reply``. Slow replies wait on an event that ``stop()`` sets,
so shutting down never waits for a stalled handler.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

import pytest

#: a stalled reply gives up after this long even if nobody stops the server
STALL_LIMIT = 30.0


@dataclass(frozen=True)
class ServedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    connection: int  # serial number of the TCP connection it came on, from 1
    at: float  # time.monotonic() when the request line was read
    body: bytes = b""  # what a POST sent


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: send the body in pieces of this size, sleeping ``interval`` before each
    chunk_size: int = 0
    interval: float = 0.0
    #: send the headers, then nothing until the server stops
    stall: bool = False
    #: Transfer-Encoding: chunked instead of Content-Length
    chunked: bool = False
    #: a body made piece by piece as it is sent (too big to hold), instead of ``body``
    stream: Callable[[], Iterable[bytes]] | None = None


Handler = Callable[[ServedRequest], Reply]


# -- replies ----------------------------------------------------------------------------


def static(body: bytes, *, content_type: str = "application/rss+xml; charset=utf-8",
           headers: dict[str, str] | None = None, status: int = 200) -> Reply:
    return Reply(status, {"Content-Type": content_type, **(headers or {})}, body)


def status(code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Reply:
    return Reply(code, {"Content-Type": "text/plain", **(headers or {})}, body)


def redirect(location: str, code: int = 302) -> Reply:
    return Reply(code, {"Location": location, "Content-Type": "text/plain"}, b"moved")


def drip(body: bytes, interval: float) -> Reply:
    """One byte every ``interval`` seconds, with an honest Content-Length."""
    return Reply(200, {"Content-Type": "application/rss+xml"}, body, chunk_size=1,
                 interval=interval)


def streamed(pieces: Callable[[], Iterable[bytes]], *, content_length: int | None = None,
             headers: dict[str, str] | None = None) -> Reply:
    """A body generated while it is sent: chunked, or with the ``content_length`` it claims."""
    declared = {"Content-Length": str(content_length)} if content_length is not None else {}
    return Reply(200, {"Content-Type": "application/rss+xml", **declared, **(headers or {})},
                 chunked=content_length is None, stream=pieces)


def stall_after_headers(content_length: int = 1000) -> Reply:
    return Reply(200, {"Content-Type": "application/rss+xml",
                       "Content-Length": str(content_length)}, stall=True)


def gzipped(body: bytes, *, content_type: str = "application/rss+xml") -> Reply:
    return Reply(200, {"Content-Type": content_type, "Content-Encoding": "gzip"},
                 gzip.compress(body))


def conditional(body: bytes, *, etag: str | None = None, last_modified: str | None = None,
                content_type: str = "application/rss+xml; charset=utf-8") -> Handler:
    """200 with the validators, or 304 when the request's validators match."""
    validators = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}

    def handle(request: ServedRequest) -> Reply:
        inm = request.headers.get("if-none-match")
        ims = request.headers.get("if-modified-since")
        fresh = False
        if inm is not None:
            fresh = etag is not None and etag in {t.strip() for t in inm.split(",")}
        elif ims and last_modified:
            with contextlib.suppress(TypeError, ValueError):  # a bad date is not a match
                fresh = parsedate_to_datetime(ims) >= parsedate_to_datetime(last_modified)
        if fresh:
            return Reply(304, dict(validators))
        return Reply(200, {"Content-Type": content_type, **validators}, body)

    return handle


# -- the server -------------------------------------------------------------------------


class HTTPTestServer:
    def __init__(self) -> None:
        self.routes: dict[str, Reply | Handler] = {}
        self.requests: list[ServedRequest] = []
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                         kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, reply: Reply | Handler) -> None:
        """Answer ``path`` (with its query, if it has one) with ``reply``."""
        self.routes[path] = reply

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _new_connection(self) -> int:
        with self._lock:
            self.connections += 1
            return self.connections

    def _answer(self, request: ServedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
        route = self.routes.get(request.path) or self.routes.get(request.path.split("?")[0])
        if route is None:
            return status(404, body=b"no such route")
        return route(request) if callable(route) else route


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stalled handlers must not hold up shutdown
    owner: HTTPTestServer


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be observed
    timeout = 10  # an idle keep-alive connection frees its thread after this
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection_id = self.server.owner._new_connection()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if self.command == "POST" and length else b""
        request = ServedRequest(self.command, self.path,
                                {k.lower(): v for k, v in self.headers.items()},
                                self.connection_id, time.monotonic(), body)
        reply = owner._answer(request)
        try:
            self._send(reply, owner.stopping)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up; that is often the point


    def _send(self, reply: Reply, stopping: threading.Event) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        names = {k.lower() for k in reply.headers}
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in names and reply.status not in (204, 304):
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.flush()
        if reply.stall:
            stopping.wait(STALL_LIMIT)
            self.close_connection = True
            return
        for piece in reply.stream() if reply.stream else self._pieces(reply):
            if stopping.is_set() or (reply.interval and stopping.wait(reply.interval)):
                self.close_connection = True
                return
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                             if reply.chunked else piece)
            self.wfile.flush()
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    @staticmethod
    def _pieces(reply: Reply) -> Iterator[bytes]:
        size = reply.chunk_size or len(reply.body) or 1
        for start in range(0, len(reply.body), size):
            yield reply.body[start:start + size]


@pytest.fixture
def http_server() -> Iterator[HTTPTestServer]:
    """A started server, stopped after the test."""
    with HTTPTestServer() as server:
        yield server
