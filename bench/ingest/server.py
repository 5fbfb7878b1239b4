"""A small HTTP/1.1 server for the ingest bench: every answer prepared in advance.

``GET /feeds/NNNN.xml`` answers 200 with ETag and Last-Modified, or 304 when
If-None-Match (or If-Modified-Since) matches; ``GET /plain/NNNN.xml`` the same body,
always a 200 without validators (a server that never says "not modified");
``GET /next/NNNN.xml`` the feed a poll later, one new item on top; keep-alive. A plain asyncio Protocol in
a process of its own, so that it costs the client next to nothing (see
``--check``: requests per second from a bare keep-alive client).

    .venv/bin/python bench/ingest/server.py --feeds 1000 --items 20 --check
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import socket
import sys
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import ensure

LAST_MODIFIED = formatdate(1795867200, usegmt=True)  # 2026-11-28


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha1(body).hexdigest()[:16].encode() + b'"'


def _ok(body: bytes, *validators: bytes) -> bytes:
    """A whole 200 response with these header lines."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml; charset=utf-8\r\n"
            + b"".join(v + b"\r\n" for v in validators)
            + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _load(folder: Path) -> dict[bytes, tuple[bytes, bytes, bytes]]:
    """path -> (200 response, 304 response, etag)."""
    answers = {}
    modified = b"Last-Modified: " + LAST_MODIFIED.encode()
    for f in sorted((folder / "feeds").glob("*.xml")):
        body = f.read_bytes()
        etag = _etag(body)
        not_modified = b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\n" + modified \
            + b"\r\n\r\n"
        answers[b"/feeds/" + f.name.encode()] = (_ok(body, b"ETag: " + etag, modified),
                                                 not_modified, etag)
        # the same body without validators: every answer a 200 (etag never matches)
        answers[b"/plain/" + f.name.encode()] = (_ok(body), _ok(body), b"\0")
    for f in sorted((folder / "next").glob("*.xml")):  # the next version: one new item
        body = f.read_bytes()
        whole = _ok(body, b"ETag: " + _etag(body))
        answers[b"/next/" + f.name.encode()] = (whole, whole, _etag(body))
    return answers


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class _Protocol(asyncio.Protocol):
    def __init__(self, answers: dict[bytes, tuple[bytes, bytes, bytes]]) -> None:
        self.answers = answers
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            path = parts[1] if len(parts) > 1 else b""
            answer = self.answers.get(path)
            if answer is None:
                self.transport.write(NOT_FOUND)
                continue
            full, not_modified, etag = answer
            conditional = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"if-none-match":
                    conditional = etag in value
                    break
                if name == b"if-modified-since" and value.strip() == LAST_MODIFIED.encode():
                    conditional = True
            self.transport.write(not_modified if conditional else full)


def serve(folder: Path, port: int, ready: Any = None) -> None:
    answers = _load(folder)

    async def run() -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        server = await asyncio.get_running_loop().create_server(
            lambda: _Protocol(answers), sock=sock, backlog=1024)
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(run())


def check(port: int, paths: list[str], etags: dict[str, bytes]) -> float:
    """Requests per second of one keep-alive client fetching every path once.

    With ``etags`` empty, every answer is a 200 and fills it; otherwise the requests
    are conditional and every answer a 304.
    """
    conditional = bool(etags)
    with socket.create_connection(("127.0.0.1", port)) as s:
        f = s.makefile("rb")
        started = time.perf_counter()
        for p in paths:
            s.sendall(f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
                      + (b"If-None-Match: " + etags[p] + b"\r\n" if conditional else b"")
                      + b"\r\n")
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                if line.lower().startswith(b"etag:"):
                    etags[p] = line.split(b":", 1)[1].strip()
            f.read(length)
        return len(paths) / (time.perf_counter() - started)


def main() -> None:
    import multiprocessing

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="measure, then stop")
    args = parser.parse_args()
    folder = ensure(args.feeds, args.items)
    if not args.check:
        serve(folder, args.port or 8808)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=serve, args=(folder, port, ready), daemon=True)
    proc.start()
    ready.wait(30)
    paths = [f"/feeds/{f.name}" for f in sorted((folder / "feeds").glob("*.xml"))]
    try:
        etags: dict[str, bytes] = {}
        print(f"200s: {check(port, paths, etags):,.0f} requests/s on one connection")
        print(f"304s: {check(port, paths, etags):,.0f} requests/s on one connection")
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
