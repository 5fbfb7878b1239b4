"""The digest as mail clients and spam filters see it: golden files, headers, encodings.

Golden files (``tests/data/digest/``) hold the HTML and text of the digest built from
the shipped snapshots at a fixed time; ``AGGREGATOR_UPDATE_GOLDEN=1`` rewrites them.
The token in links is the only volatile part (the key is random per data folder) and
is normalized.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from aggregator.config import load_config
from aggregator.digest import build, render
from aggregator.errors import ConfigError
from aggregator.service import Service
from tests.conftest import DATA, NOW

GOLDEN = DATA / "digest"
LATER = NOW + timedelta(hours=1)
UPDATE = os.environ.get("AGGREGATOR_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import ROOT

    folder = tmp_path_factory.mktemp("digest-render")
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    shutil.copytree(ROOT / "feeds", folder / "feeds")
    text = (folder / "config.toml").read_text(encoding="utf-8")
    text = text.replace('[site]\n', '[site]\nurl = "https://news.example.org/"\n', 1)
    text = text.replace('[email]\n', '[email]\nfrom = "Migrant smuggling news '
                        '<digest@news.example.org>"\n', 1)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    svc = Service.open(folder / "config.toml", clock=lambda: NOW)
    svc.poll(all_sources=True, offline=True)
    yield svc
    svc.close()


def _normalized(text: str) -> str:
    return re.sub(r"token=[A-Za-z0-9_.-]+", "token=TOKEN", text)


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        if not UPDATE and os.environ.get("CI"):
            pytest.fail(f"golden file {path} is missing")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from the golden file (AGGREGATOR_UPDATE_GOLDEN=1)"


def _rendered(service: Service, tags: tuple[str, ...] = ()) -> render.Rendered:
    content, _count = service.digests.build("2026-W48", LATER)
    view = build.view_for(content, tags)
    return render.personalize(
        render.render_digest(service.config, view), recipient="reader@example.org",
        unsubscribe_url="https://news.example.org/unsubscribe?token=T1",
        preferences_url="https://news.example.org/preferences?token=T2")


def test_html_matches_the_golden_file(service: Service) -> None:
    _golden("digest.html", _normalized(_rendered(service).html))


def test_text_matches_the_golden_file(service: Service) -> None:
    _golden("digest.txt", _normalized(_rendered(service).text))


def test_filtered_text_matches_the_golden_file(service: Service) -> None:
    _golden("digest-country-ly.txt", _normalized(_rendered(service, ("country:ly",)).text))


def test_text_and_html_say_the_same(service: Service) -> None:
    from lxml import html as lxml_html

    r = _rendered(service)
    page = lxml_html.fromstring(r.html)
    titles = [" ".join(h.text_content().split()) for h in page.xpath("//h3")]
    assert len(titles) > 20
    flat = " ".join(r.text.split())
    for title in titles:
        assert title in flat, title
    assert r.subject.endswith(" new stories")


def test_text_lines_fit_a_mail_reader(service: Service) -> None:
    for line in _rendered(service).text.splitlines():
        assert len(line) <= 76 or "://" in line, line


def _message(service: Service, **overrides: object) -> email.message.EmailMessage:
    config = service.config
    if overrides:
        config = replace(config, **overrides)  # type: ignore[arg-type]
    view = build.view_for(service.digests.build("2026-W48", LATER)[0])
    rendered = render.personalize(
        render.render_digest(config, view), recipient="reader@example.org",
        unsubscribe_url="https://news.example.org/unsubscribe?token=T1",
        preferences_url="https://news.example.org/preferences?token=T2")
    data = render.compose(config, rendered, to="reader@example.org", now=NOW,
                          msg_id=render.message_id(config, "digest", "2026-W48", 1),
                          unsubscribe_url="https://news.example.org/unsubscribe?token=T1",
                          unsubscribe_token="T1")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    parsed.raw = data  # type: ignore[attr-defined]
    return parsed  # type: ignore[return-value]


def test_headers_are_ascii_and_encoded_where_needed(service: Service) -> None:
    from aggregator.config import EmailConfig

    msg = _message(service, email=EmailConfig(
        sender="Noticias sobre tráfico ilícito de migrantes <digest@news.example.org>"))
    raw: bytes = msg.raw  # type: ignore[attr-defined]
    assert max(raw) < 128
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in head  # the em dash of the subject and the accented name
    assert msg["Subject"].startswith("Migrant smuggling digest — week 48, 2026: ")
    assert str(msg["From"]).startswith("Noticias sobre tráfico")
    # List-Unsubscribe stays two plain <URL>s (encoded words would break it)
    unsub = re.search(r"(?m)^List-Unsubscribe: (.*)$", head).group(1)  # type: ignore[union-attr]
    assert unsub.startswith("<https://news.example.org/unsubscribe?token=T1>, <mailto:")
    assert not msg.defects


def test_a_title_with_line_breaks_cannot_inject_a_header(service: Service) -> None:
    from aggregator.models import Story

    evil = Story(id="evil", title="Hi\r\nBcc: victim@example.org\r\n\r\nbody",
                 url="https://evil.example.org/", source="x", source_title="X",
                 source_url=None, published=NOW, first_seen=NOW, updated=NOW,
                 tags=("migrant-smuggling",))
    content = build.build_content(
        period="2026-W48", window_start=NOW - timedelta(days=7), window_end=NOW, new=[evil],
        featured=[], meetings=[], sections=("migrant-smuggling",), labels={}, sources={},
        max_stories=10, today=NOW.date())
    rendered = render.render_digest(service.config, build.view_for(content))
    data = render.compose(service.config, rendered, to="reader@example.org", now=NOW,
                          msg_id="<x@news.example.org>")
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Bcc"] is None and not parsed.defects
    assert {k.lower() for k in parsed} == {
        "from", "to", "subject", "date", "message-id", "mime-version", "content-type"}


def test_composed_bytes_match_what_the_email_package_reads(service: Service) -> None:
    msg = _message(service)
    raw: bytes = msg.raw  # type: ignore[attr-defined]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 76 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
    parts = list(msg.iter_parts())
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["quoted-printable"] * 2
    view = build.view_for(service.digests.build("2026-W48", LATER)[0])
    rendered = render.personalize(
        render.render_digest(service.config, view), recipient="reader@example.org",
        unsubscribe_url="https://news.example.org/unsubscribe?token=T1",
        preferences_url="https://news.example.org/preferences?token=T2")
    def lines(body: str) -> list[str]:
        return body.replace("\r\n", "\n").rstrip("\n").split("\n")

    assert lines(parts[0].get_content()) == lines(rendered.text)
    assert lines(parts[1].get_content()) == lines(rendered.html)
    with pytest.raises(ValueError, match="To: not one line"):
        render.compose(service.config, rendered, to="a@example.org\r\nBcc: b@example.org",
                       now=NOW, msg_id="<x@y>")


def test_a_digest_title_with_a_line_break_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[digest]\ntitle = "Digest\\nBcc: x@example.org"\n')
    with pytest.raises(ConfigError, match=r"\[digest\] title: expected one line of text"):
        load_config(tmp_path / "config.toml")


def test_the_public_copy_has_no_subscriber_data(service: Service) -> None:
    content, count = service.digests.build("2026-W48", LATER)
    record, _ = service.store.create_digest("2026-W48", NOW - timedelta(days=7), NOW, content,
                                            count, NOW)
    path = service.digests.write_public_copy(record)
    page = path.read_text(encoding="utf-8")
    assert path == service.config.output.dir / "digests" / "2026-W48.html"
    assert "token=" not in page and "__" not in page and "@example.org" not in page
    assert 'href="https://news.example.org/subscribe"' in page  # [web] url: the site's


def _spamassassin() -> str | None:
    found = shutil.which("spamassassin")
    if found is None:
        if os.environ.get("AGGREGATOR_REQUIRE_SPAMASSASSIN") == "1":
            pytest.fail("spamassassin required (AGGREGATOR_REQUIRE_SPAMASSASSIN=1); "
                        "install Debian's spamassassin")
        pytest.skip("spamassassin not installed (Debian package spamassassin)")
    return found


@pytest.mark.parametrize("tags", [(), ("country:ly",)])
def test_spamassassin_local_tests_score_it_under_2(service: Service,
                                                   tags: tuple[str, ...]) -> None:
    binary = _spamassassin()
    msg = _message(service)
    if tags:
        view = build.view_for(service.digests.build("2026-W48", LATER)[0], tags)
        rendered = render.personalize(render.render_digest(service.config, view),
                                      recipient="r@example.org", unsubscribe_url="https://x/u",
                                      preferences_url="https://x/p")
        msg.raw = render.compose(  # type: ignore[attr-defined]
            service.config, rendered, to="r@example.org", now=NOW,
            msg_id="<a.b@news.example.org>", unsubscribe_url="https://x/u")
    result = subprocess.run([binary, "-L", "-t"], input=msg.raw,  # type: ignore[attr-defined]
                            capture_output=True, timeout=120)
    report = result.stdout.decode("utf-8", "replace")
    score = re.search(r"(?m)^X-Spam-Status: \w+, score=(-?[\d.]+)", report)
    assert score, report[:2000]
    assert float(score.group(1)) < 2.0, report.split("Content analysis details")[-1]
