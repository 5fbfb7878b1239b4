"""The web app serving output/: types, validators, 304s, gzip, and no way out of output/.

Most cases use Flask's test client; the last ones run the app in a real waitress
server on 127.0.0.1 and talk to it with httpx, and over a plain socket for the
traversal attempts that httpx would normalize away before sending.
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import httpx
import pytest
import waitress  # type: ignore[import-untyped]
from flask import Flask
from flask.testing import FlaskClient
from waitress import wasyncore

from aggregator.config import Config, OutputConfig
from aggregator.web import PAGE_CSP, create_app, serve
from aggregator.web.static import locate

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
SECRET = b"root:x:0:0:secret outside output\n"

#: over 1 KB so that it is gzipped; the others are small
BIG_RSS = (b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
           + b"<item><title>Smuggling ring dismantled</title></item>" * 40
           + b"</channel></rss>\n")
FILES: dict[str, bytes] = {
    "feed.xml": BIG_RSS,
    "featured.xml": b"<rss version='2.0'><channel/></rss>\n",
    "atom.xml": b"<feed xmlns='http://www.w3.org/2005/Atom'/>\n",
    "feed.json": b'{"version": "https://jsonfeed.org/version/1.1", "items": []}\n',
    "index.html": b"<!doctype html><title>News</title><p>Front page</p>\n",
    "page/2.html": b"<!doctype html><title>Page 2</title>\n",
    "tags/country-eg.xml": b"<rss version='2.0'><channel><title>Egypt</title></channel></rss>\n",
    "tags/country-eg.json": b'{"version": "https://jsonfeed.org/version/1.1"}\n',
    "tags/index.html": b"<!doctype html><title>Tags</title>\n",
    "meetings.ics": b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n",
    "sources.opml": b"<opml version='2.0'><body/></opml>\n",
    "digests/2026-W48.html": b"<!doctype html><title>Week 48</title>\n",
    "style.css": b"body { margin: 0 }\n" * 100,
    "logo.png": b"\x89PNG\r\n\x1a\n" + bytes(2000),
    ".feed.xml.tmp": b"half a feed",
    "tags/.country-eg.xml.tmp": b"half a tag feed",
}


@pytest.fixture
def output(tmp_path: Path) -> Path:
    out = tmp_path / "output"
    for name, data in FILES.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    (out / "leak.txt").symlink_to(tmp_path / "secret.txt")  # a file outside
    (out / "escape").symlink_to(tmp_path / "outside", target_is_directory=True)
    (out / "latest.xml").symlink_to("feed.xml")  # stays inside: served
    return out


@pytest.fixture
def app(tmp_path: Path, output: Path) -> Flask:
    return create_app(Config(path=tmp_path / "config.toml", output=OutputConfig(dir=output)))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _replace(path: Path, data: bytes, mtime: datetime) -> None:
    """Write as the publisher does: a new file renamed over the old one."""
    tmp = path.with_name(f".{path.name}.new.tmp")
    tmp.write_bytes(data)
    os.utime(tmp, (mtime.timestamp(), mtime.timestamp()))
    os.replace(tmp, path)


# -- what is served, and as what -------------------------------------------------------


@pytest.mark.parametrize(("path", "content_type", "cache_control"), [
    ("/feed.xml", RSS_TYPE, "public, max-age=300"),
    ("/featured.xml", RSS_TYPE, "public, max-age=300"),
    ("/tags/country-eg.xml", RSS_TYPE, "public, max-age=300"),
    ("/atom.xml", ATOM_TYPE, "public, max-age=300"),
    ("/feed.json", JSON_FEED_TYPE, "public, max-age=300"),
    ("/tags/country-eg.json", JSON_FEED_TYPE, "public, max-age=300"),
    ("/meetings.ics", "text/calendar; charset=utf-8", "public, max-age=300"),
    ("/sources.opml", "text/x-opml; charset=utf-8", "public, max-age=300"),
    ("/index.html", HTML_TYPE, "no-cache"),
    ("/page/2.html", HTML_TYPE, "no-cache"),
    ("/digests/2026-W48.html", HTML_TYPE, "no-cache"),
    ("/style.css", "text/css; charset=utf-8", "public, max-age=300"),
    ("/logo.png", "image/png", "public, max-age=300"),
])
def test_each_file_has_its_type_and_cache_policy(
    client: FlaskClient, path: str, content_type: str, cache_control: str
) -> None:
    r = client.get(path)
    assert r.status_code == 200
    assert r.data == FILES[path.lstrip("/")]
    assert r.headers["Content-Type"] == content_type
    assert r.headers["Cache-Control"] == cache_control
    assert r.headers["Content-Length"] == str(len(r.data))


def test_folders_give_their_index_and_a_missing_slash_is_redirected(client: FlaskClient) -> None:
    assert client.get("/").data == FILES["index.html"]
    assert client.get("/tags/").data == FILES["tags/index.html"]
    assert client.get("/tags/").headers["Content-Type"] == HTML_TYPE
    r = client.get("/tags?utm=x")
    assert (r.status_code, r.headers["Location"]) == (308, "/tags/?utm=x")
    assert client.get("/page/").status_code == 404  # a folder without index.html
    assert client.get("/feed.xml/").status_code == 404
    assert client.get("/nothing.xml").status_code == 404


def test_a_symlink_that_stays_inside_output_is_served(client: FlaskClient) -> None:
    r = client.get("/latest.xml")
    assert (r.status_code, r.data) == (200, BIG_RSS)


def test_other_methods_are_not_allowed(client: FlaskClient) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = client.open("/feed.xml", method=method)
        assert r.status_code == 405
        assert set(r.headers["Allow"].split(", ")) >= {"GET", "HEAD"}


def test_head_has_the_headers_of_get_and_no_body(client: FlaskClient) -> None:
    get, head = client.get("/feed.json"), client.head("/feed.json")
    assert head.status_code == 200
    assert head.data == b""
    for name in ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Cache-Control"):
        assert head.headers[name] == get.headers[name]


# -- validators and 304 ----------------------------------------------------------------


def test_etag_is_strong_stable_and_changes_with_the_content(
    client: FlaskClient, output: Path
) -> None:
    when = datetime(2026, 11, 28, 12, 0, 5, tzinfo=UTC)
    os.utime(output / "feed.json", (when.timestamp(), when.timestamp()))
    first = client.get("/feed.json")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong: no W/
    assert first.headers["Last-Modified"] == "Sat, 28 Nov 2026 12:00:05 GMT"
    assert client.get("/feed.json").headers["ETag"] == etag

    _replace(output / "feed.json", b'{"version": "changed"}\n', when + timedelta(seconds=1))
    second = client.get("/feed.json")
    assert second.data == b'{"version": "changed"}\n'
    assert second.headers["ETag"] != etag
    assert second.headers["Last-Modified"] == "Sat, 28 Nov 2026 12:00:06 GMT"


@pytest.mark.parametrize("header", [
    "{etag}",
    'W/{etag}',
    '"other", {etag}',
    '"a",W/"b" ,  {etag}',
    "*",
])
def test_if_none_match_that_matches_gives_304(client: FlaskClient, header: str) -> None:
    etag = client.get("/atom.xml").headers["ETag"]
    r = client.get("/atom.xml", headers={"If-None-Match": header.format(etag=etag)})
    assert r.status_code == 304
    assert r.data == b""
    assert r.headers["ETag"] == etag
    assert r.headers["Cache-Control"] == "public, max-age=300"
    assert r.headers["Vary"] == "Accept-Encoding"


def test_if_none_match_that_does_not_match_gives_the_file(client: FlaskClient) -> None:
    etag = client.get("/atom.xml").headers["ETag"]
    for header in ('"nope"', 'W/"nope", "also-not"', etag[:-1] + 'x"', '""'):
        r = client.get("/atom.xml", headers={"If-None-Match": header})
        assert (r.status_code, r.data) == (200, FILES["atom.xml"]), header


def test_if_modified_since(client: FlaskClient, output: Path) -> None:
    when = datetime(2026, 11, 28, 12, 0, 0, 500_000, tzinfo=UTC)  # sub-second mtime
    os.utime(output / "meetings.ics", (when.timestamp(), when.timestamp()))
    stamp = client.get("/meetings.ics").headers["Last-Modified"]
    assert parsedate_to_datetime(stamp) == when.replace(microsecond=0)
    later = format_datetime(when + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(when - timedelta(seconds=1), usegmt=True)

    def status(value: str) -> int:
        return client.get("/meetings.ics", headers={"If-Modified-Since": value}).status_code

    assert status(stamp) == 304
    assert status(later) == 304
    assert status(earlier) == 200
    assert status("not a date") == 200


def test_if_none_match_wins_over_if_modified_since(client: FlaskClient) -> None:
    r = client.get("/atom.xml", headers={
        "If-None-Match": '"stale"',
        "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT",
    })
    assert r.status_code == 200  # RFC 9110 §13.1.3: If-Modified-Since is ignored


def test_head_is_conditional_too(client: FlaskClient) -> None:
    etag = client.get("/feed.xml").headers["ETag"]
    assert client.head("/feed.xml", headers={"If-None-Match": etag}).status_code == 304


# -- gzip ------------------------------------------------------------------------------


def test_gzip_when_asked_with_its_own_etag(client: FlaskClient) -> None:
    plain = client.get("/feed.xml")
    zipped = client.get("/feed.xml", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert plain.headers["Vary"] == zipped.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == BIG_RSS
    assert len(zipped.data) < len(BIG_RSS)
    assert zipped.headers["Content-Length"] == str(len(zipped.data))
    assert zipped.headers["Content-Type"] == RSS_TYPE
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'

    again = client.get("/feed.xml", headers={"Accept-Encoding": "gzip",
                                             "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304
    # the identity variant's validator does not validate the gzipped bytes
    other = client.get("/feed.xml", headers={"Accept-Encoding": "gzip",
                                             "If-None-Match": plain.headers["ETag"]})
    assert other.status_code == 200


@pytest.mark.parametrize(("path", "accept"), [
    ("/feed.xml", "identity"),
    ("/feed.xml", "gzip;q=0"),
    ("/feed.xml", "deflate"),
    ("/atom.xml", "gzip"),  # under 1 KB
    ("/logo.png", "gzip"),  # not text
])
def test_no_gzip(client: FlaskClient, path: str, accept: str) -> None:
    r = client.get(path, headers={"Accept-Encoding": accept})
    assert "Content-Encoding" not in r.headers
    assert r.data == FILES[path.lstrip("/")]


def test_gzip_follows_a_new_version_of_the_file(client: FlaskClient, output: Path) -> None:
    gz = {"Accept-Encoding": "gzip"}
    first = client.get("/style.css", headers=gz)
    new = b"p { color: red }\n" * 100
    _replace(output / "style.css", new, datetime(2030, 1, 1, tzinfo=UTC))
    second = client.get("/style.css", headers=gz)
    assert gzip.decompress(second.data) == new
    assert second.headers["ETag"] != first.headers["ETag"]


# -- nothing outside output/, nothing hidden -------------------------------------------


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/../../../../etc/passwd",
    "/tags/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/%2E%2E/etc/passwd",
    "/.%2e/secret.txt",
    "/..%2fsecret.txt",
    "/tags%2f..%2f..%2fsecret.txt",
    "/tags%2Fcountry-eg.xml",  # an encoded slash, even to a file that exists
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/feed.xml%00",
    "/feed.xml%00.html",
    "/leak.txt",  # a symlink to a file outside
    "/escape/secret.txt",  # a symlinked folder outside
    "/escape/",
    "/./feed.xml",
    "/tags//country-eg.xml",
    "/.feed.xml.tmp",
    "/tags/.country-eg.xml.tmp",
    "/.git/config",
])
def test_paths_out_of_output_or_hidden_are_404(client: FlaskClient, path: str) -> None:
    for method in (client.get, client.head):
        r = method(path)
        assert r.status_code == 404, (method, path)
        assert SECRET not in r.data


def test_a_404_does_not_tell_whether_a_file_outside_exists(client: FlaskClient) -> None:
    there, absent = client.get("/../secret.txt"), client.get("/../no-such-file.txt")
    assert (there.status_code, there.data) == (absent.status_code, absent.data)


def test_locate_refuses_absolute_paths(output: Path) -> None:
    assert locate(output, "/etc/passwd", "//etc/passwd") is None
    assert locate(output, str(output / "feed.xml"), "/" + str(output / "feed.xml")) is None
    found = locate(output, "tags/country-eg.xml", "/tags/country-eg.xml?x=%2f")
    assert found is not None
    assert found.real == str((output / "tags" / "country-eg.xml").resolve())


def test_a_missing_output_folder_is_404_not_an_error(tmp_path: Path) -> None:
    app = create_app(Config(path=tmp_path / "config.toml",
                            output=OutputConfig(dir=tmp_path / "not-yet")))
    client = app.test_client()
    assert client.get("/").status_code == 404
    assert client.get("/healthz").status_code == 200


# -- headers on every answer, /healthz -------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/feed.xml", "/no-such", "/../secret.txt", "/healthz"])
def test_security_headers_everywhere_and_csp_on_pages(client: FlaskClient, path: str) -> None:
    r = client.get(path)
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    is_page = r.headers["Content-Type"].startswith("text/html")
    assert r.headers.get("Content-Security-Policy") == (PAGE_CSP if is_page else None)
    if path == "/":
        assert PAGE_CSP == ("default-src 'none'; style-src 'self' 'unsafe-inline'; "
                            "img-src * data:; frame-ancestors 'none'")


def test_healthz(client: FlaskClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.get_json() == {"status": "ok"}
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Cache-Control"] == "no-store"


def test_serve_runs_waitress_and_logs_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[Flask, dict[str, object]]] = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append((app, kw)))
    config = Config(path=tmp_path / "config.toml", output=OutputConfig(dir=tmp_path / "out"))
    with caplog.at_level("INFO", logger="aggregator.web"):
        serve(config, host="0.0.0.0", port=8123)
    [(app, kw)] = calls
    assert app.config["AGGREGATOR"] is config
    assert kw == {"host": "0.0.0.0", "port": 8123, "threads": 8}
    assert [r.getMessage() for r in caplog.records] == [
        f"serving {tmp_path / 'out'} at http://0.0.0.0:8123/"]


# -- a real waitress server ------------------------------------------------------------


@pytest.fixture
def live(app: Flask) -> Iterator[tuple[str, int]]:
    """The app in waitress on a free port of 127.0.0.1: yields (host, port)."""
    sockets: dict[int, object] = {}
    server = waitress.create_server(app, map=sockets, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.effective_port
    finally:
        # Closed from the server's own thread (the trigger runs it there), so its loop
        # never polls a socket closed under it; an empty map ends the loop.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
    assert not thread.is_alive()


def test_live_200_then_304_with_the_etag(live: tuple[str, int]) -> None:
    host, port = live
    with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
        first = http.get("/tags/country-eg.xml")
        assert first.status_code == 200
        assert first.content == FILES["tags/country-eg.xml"]
        assert first.headers["content-type"] == RSS_TYPE
        second = http.get("/tags/country-eg.xml",
                          headers={"If-None-Match": first.headers["etag"]})
        assert second.status_code == 304
        assert second.content == b""
        assert http.get("/healthz").json() == {"status": "ok"}


def test_live_gzip_is_decoded_by_the_client(live: tuple[str, int]) -> None:
    host, port = live
    with httpx.Client(timeout=5) as http:
        r = http.get(f"http://{host}:{port}/feed.xml", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["vary"] == "Accept-Encoding"
    assert int(r.headers["content-length"]) < len(BIG_RSS)
    assert r.content == BIG_RSS


def _raw_get(host: str, port: int, target: str) -> bytes:
    """Send the request target byte for byte, as no HTTP client library would."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n"
                     "Connection: close\r\n\r\n".encode("latin-1"))
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("target", [
    "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/..%2f..%2fetc%2fpasswd",
    "/..%5csecret.txt",
    "//etc/passwd",
    "/leak.txt",
    "http://127.0.0.1/../secret.txt",
])
def test_live_traversal_sent_raw_is_404(live: tuple[str, int], target: str) -> None:
    answer = _raw_get(*live, target)
    assert answer.startswith(b"HTTP/1.1 404 "), answer[:100]
    assert SECRET not in answer
    assert b"root:" not in answer
