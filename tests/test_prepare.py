"""Parsing in other processes (``[fetch] parse_processes``) stores what parsing here does."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from aggregator.errors import ParseError
from aggregator.models import SourceDef
from aggregator.prepare import ParsePool, prepare
from aggregator.service import Service
from aggregator.tagging import compile_rules

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def _poll(project: Path, processes: int) -> tuple[list[tuple[object, ...]], list[object]]:
    config = project / "config.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("\n[fetch]\n", f"\n[fetch]\nparse_processes = {processes}\n",
                                   1), encoding="utf-8")
    with Service.open(config, clock=lambda: NOW) as svc:
        report = svc.poll(all_sources=True, offline=True)
        with svc.store.engine.connect() as conn:  # every stored field but the story chosen
            copies = [tuple(r) for r in conn.execute(sa.text(
                "SELECT source_id, guid, url, canonical_url, title, summary_html, content_html,"
                " text, author, categories, enclosures, language, content_hash, signature,"
                " features FROM copies ORDER BY source_id, guid"))]
    return copies, [(o.source_id, o.status, o.new, o.warnings, o.error) for o in report.outcomes]


def test_a_pool_stores_the_same_copies(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(project, other)
    here, here_report = _poll(project, 0)
    there, there_report = _poll(other, 2)
    assert here and here == there
    assert here_report == there_report


def test_a_document_that_is_not_a_feed_fails_as_here() -> None:
    source = SourceDef(id="x", url="https://example.org/feed")
    rules = compile_rules({})
    body = b"<!doctype html><html><body>no feed</body></html>"
    with pytest.raises(ParseError) as here:
        prepare(source, source.url, body, {}, now=NOW, rules=rules, max_items=10,
                max_bytes=1 << 20)
    pool = ParsePool(1, rules)
    try:
        with pytest.raises(ParseError) as there:
            asyncio.run(pool.prepare(source, source.url, body, {}, now=NOW, max_items=10,
                                     max_bytes=1 << 20, host_aliases=()))
    finally:
        pool.close()
    assert (there.value.url, there.value.message) == (here.value.url, here.value.message)


@pytest.mark.parametrize(("setting", "due", "cpus", "expected"), [
    (0, 5000, 8, 0),        # off is off
    (3, 1, 1, 3),           # a number is taken as it is
    ("auto", 8, 8, 0),      # a small poll: starting processes costs more than it saves
    ("auto", 99, 8, 0),
    ("auto", 100, 2, 2),    # one per core...
    ("auto", 5000, 16, 4),  # ...up to 4
    ("auto", 5000, 1, 0),   # one core: nothing to share it with
])
def test_parse_processes_auto_starts_a_pool_for_big_polls_only(
        setting: int | str, due: int, cpus: int, expected: int) -> None:
    from aggregator.pipeline import pool_size

    assert pool_size(setting, due, cpus) == expected
