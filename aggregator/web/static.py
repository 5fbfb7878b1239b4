"""Serve the public files of ``output/`` over HTTP, as a static web server would.

Every GET or HEAD that no other blueprint claims is looked up in ``[output] dir``:
``/`` and any path ending in ``/`` give that folder's ``index.html``; a folder asked
for without its slash is redirected to it. Answers carry the Content-Type the
publisher means (RSS, Atom, JSON Feed, iCalendar, OPML, HTML), a strong ETag (a
hash of the bytes, cached per file version), Last-Modified and Cache-Control, and
become ``304 Not Modified`` for a matching If-None-Match or If-Modified-Since.
Text over 1 KB is gzipped for clients that accept it; the compressed bytes are
cached, and their ETag ends in ``-gz`` so the two variants never share a
validator. Other methods get 405 from routing, whatever the path.

What it refuses, always with the same 404 so nothing outside ``output/`` can be
probed: ``..`` and ``.`` segments, hidden names (``.feed.xml.tmp`` while the writer
renames), encoded slashes, backslashes and NUL bytes, absolute paths, and any
symlink whose real target lies outside the real output folder.

It does not render anything, write anything, list folders or answer Range
requests; files are read whole (the output is feeds and pages, not media).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import stat
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import quote

from flask import Blueprint, Request, Response, abort, current_app, redirect, request
from flask.blueprints import BlueprintSetupState
from werkzeug.wrappers import Response as BaseResponse

from aggregator.config import Config

bp = Blueprint("output", __name__)

#: feeds and other files may be cached this long; pages are revalidated every time
FEED_CACHE_CONTROL = "public, max-age=300"
PAGE_CACHE_CONTROL = "no-cache"
#: smaller bodies gain too little from gzip to pay for the header and the CPU
GZIP_MIN_SIZE = 1024
GZIP_LEVEL = 6

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
JSON_FEED = "application/feed+json; charset=utf-8"
HTML = "text/html; charset=utf-8"
#: the files whose name alone does not say which feed format they hold
_NAMED_TYPES = {"feed.xml": RSS, "featured.xml": RSS, "atom.xml": ATOM, "feed.json": JSON_FEED}
_SUFFIX_TYPES = {
    ".atom": ATOM,
    ".ics": "text/calendar; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": HTML,
    ".htm": HTML,
    ".xml": "application/xml; charset=utf-8",
}
_COMPRESSIBLE = ("text/", "application/rss+xml", "application/atom+xml", "application/xml",
                 "application/feed+json", "application/json", "application/javascript",
                 "image/svg+xml")

_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0))  # O_NONBLOCK: a FIFO must not hang a thread
_ENCODED_SEPARATORS = ("%2f", "%5c", "%00")


def content_type_for(name: PurePosixPath) -> str:
    """The Content-Type of the output file at ``name`` (relative to ``output/``)."""
    key = name.as_posix()
    if key in _NAMED_TYPES:
        return _NAMED_TYPES[key]
    suffix = name.suffix.lower()
    if name.parent == PurePosixPath("tags"):  # per-tag feeds: tags/country-eg.xml, .json
        if suffix == ".xml":
            return RSS
        if suffix == ".json":
            return JSON_FEED
    if suffix in _SUFFIX_TYPES:
        return _SUFFIX_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(key, strict=False)
    if guessed is None or encoding is not None:  # "x.tar.gz" is not a tar to a browser
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def cache_control_for(content_type: str) -> str:
    return PAGE_CACHE_CONTROL if content_type.startswith("text/html") else FEED_CACHE_CONTROL


def is_compressible(content_type: str) -> bool:
    return content_type.startswith(_COMPRESSIBLE)


@dataclass(frozen=True)
class Located:
    """A request path that passed every check, and the real file it names."""

    #: the path as asked for, with ``index.html`` added for folders (decides the type)
    name: PurePosixPath
    real: str
    wants_folder: bool


def locate(root: os.PathLike[str] | str, subpath: str, raw_uri: str) -> Located | None:
    """Map a decoded request path below ``root`` to a real path, or None to answer 404.

    ``raw_uri`` is the request target as sent, for the encodings that decoding hides.
    The result is inside the real ``root`` but may not exist.
    """
    raw_path = raw_uri.split("?", 1)[0].lower()
    if any(enc in raw_path for enc in _ENCODED_SEPARATORS) or "\\" in raw_path:
        return None
    if "\x00" in subpath or "\\" in subpath:
        return None
    wants_folder = subpath == "" or subpath.endswith("/")
    segments = subpath.split("/")
    if wants_folder:
        segments.pop()  # the empty name after the final slash
    # An empty segment is "//" or a leading "/" (an absolute path); "." covers ".." too.
    if any(not s or s.startswith(".") for s in segments):
        return None
    if wants_folder:
        segments.append("index.html")
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, *segments))
    try:
        inside = PurePosixPath(os.path.relpath(real, base)) if real != base else None
    except ValueError:  # another drive on Windows
        return None
    # ".." first: outside the real root; "." later: a link into a hidden name inside.
    if inside is None or any(p.startswith(".") for p in inside.parts):
        return None
    return Located(PurePosixPath(*segments), real, wants_folder)


# -- the per-version cache of validators and compressed bodies -------------------------


@dataclass(frozen=True)
class _Version:
    #: what identifies one version of a file: size, mtime, inode, device
    signature: tuple[int, int, int, int]
    etag: str
    gzipped: bytes | None = None


class VersionCache:
    """ETags and gzipped bodies by (real path, file version); least recently used go first."""

    def __init__(self, max_entries: int = 2048, max_gzip_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_entries = max_entries
        self.max_gzip_bytes = max_gzip_bytes
        self._entries: OrderedDict[str, _Version] = OrderedDict()
        self._gzip_bytes = 0
        self._lock = threading.Lock()

    def get(self, path: str, signature: tuple[int, int, int, int]) -> _Version | None:
        with self._lock:
            entry = self._entries.get(path)
            if entry is None or entry.signature != signature:
                return None
            self._entries.move_to_end(path)
            return entry

    def put(self, path: str, entry: _Version) -> None:
        with self._lock:
            old = self._entries.pop(path, None)
            if old is not None and old.gzipped is not None:
                self._gzip_bytes -= len(old.gzipped)
            self._entries[path] = entry
            self._gzip_bytes += len(entry.gzipped or b"")
            while self._entries and (len(self._entries) > self.max_entries
                                     or self._gzip_bytes > self.max_gzip_bytes):
                _, evicted = self._entries.popitem(last=False)
                self._gzip_bytes -= len(evicted.gzipped or b"")


@bp.record_once
def _install_cache(state: BlueprintSetupState) -> None:
    state.app.extensions["aggregator.static"] = VersionCache()


# -- the view --------------------------------------------------------------------------


@bp.route("/", defaults={"subpath": ""}, methods=["GET", "HEAD"])
@bp.route("/<path:subpath>", methods=["GET", "HEAD"], merge_slashes=False)
def output_file(subpath: str) -> BaseResponse:
    config: Config = current_app.config["AGGREGATOR"]
    raw_uri = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or ""
    found = locate(config.output.dir, subpath, raw_uri)
    if found is None:
        abort(404)
    try:
        fd = os.open(found.real, _OPEN_FLAGS)
    except OSError:
        abort(404)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        if stat.S_ISDIR(st.st_mode) and not found.wants_folder:
            target = request.script_root + quote("/" + subpath + "/")
            if request.query_string:
                target += "?" + request.query_string.decode("latin-1")
            return redirect(target, 308)
        abort(404)
    cache: VersionCache = current_app.extensions["aggregator.static"]
    with os.fdopen(fd, "rb") as f:
        return _file_response(f, st, found, cache)


def _file_response(f: BinaryIO, st: os.stat_result, found: Located,
                   cache: VersionCache) -> Response:
    """The 200 or 304 for one open regular file (``st`` is its fstat)."""
    content_type = content_type_for(found.name)
    signature = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)
    body: bytes | None = None
    version = cache.get(found.real, signature)
    if version is None:
        body = f.read()
        version = _Version(signature, hashlib.blake2b(body, digest_size=16).hexdigest())
        cache.put(found.real, version)

    use_gzip = (is_compressible(content_type) and st.st_size > GZIP_MIN_SIZE
                and accepts_gzip(request))
    etag = version.etag + "-gz" if use_gzip else version.etag
    last_modified = datetime.fromtimestamp(st.st_mtime_ns // 1_000_000_000, UTC)

    response = Response(status=200, content_type=content_type)
    response.set_etag(etag)
    response.last_modified = last_modified
    response.headers["Cache-Control"] = cache_control_for(content_type)
    # On every file answer, small ones too, so that a shared cache never hands gzip to
    # a client that did not ask for it, nor the other way round.
    response.vary.add("Accept-Encoding")

    if not_modified(request, etag, last_modified):
        response.status_code = 304  # Werkzeug drops the body and the entity headers
        return response

    if body is None:
        body = f.read()
    if use_gzip:
        gzipped = version.gzipped
        if gzipped is None:
            # mtime=0: the same bytes on every machine, as the ETag promises
            gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0)
            cache.put(found.real, _Version(signature, version.etag, gzipped))
        body = gzipped
        response.headers["Content-Encoding"] = "gzip"
    response.set_data(body)
    return response


def accepts_gzip(req: Request) -> bool:
    """True when Accept-Encoding names gzip (or ``*``) with a quality above zero."""
    return req.accept_encodings["gzip"] > 0


def not_modified(req: Request, etag: str, last_modified: datetime) -> bool:
    """Whether a GET or HEAD may be answered 304 (RFC 9110 §13.1.2, §13.1.3, §13.2.2).

    If-None-Match uses the weak comparison, takes lists and ``*``, and when present
    makes If-Modified-Since be ignored.
    """
    if "If-None-Match" in req.headers:
        return req.if_none_match.contains_weak(etag)
    since = req.if_modified_since
    return since is not None and last_modified <= since
