"""Shared fixtures: databases (SQLite and PostgreSQL), clocks, a project copy.

PostgreSQL tests use ``$AGGREGATOR_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each in a schema of its own that is
dropped afterwards. Where no server answers they are skipped with the reason,
unless ``AGGREGATOR_REQUIRE_POSTGRES=1`` (set by CI), which makes them fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = ROOT.parent / "shared"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _pg_base_url() -> str:
    url = os.environ.get("AGGREGATOR_TEST_DATABASE_URL", PG_DEFAULT)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


_pg_checked: list[str | None] = []


def _pg_unavailable() -> str | None:
    """None when PostgreSQL answers, else the reason (checked once per session)."""
    if not _pg_checked:
        try:
            engine = sa.create_engine(_pg_base_url(), connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_checked.append(None)
        except Exception as e:  # any failure to connect means "not here"
            _pg_checked.append(f"PostgreSQL not reachable at {_pg_base_url()}: "
                               f"{str(e).splitlines()[0]}")
    return _pg_checked[0]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL on PostgreSQL whose tables live in a fresh, private schema."""
    reason = _pg_unavailable()
    if reason:
        if os.environ.get("AGGREGATOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason + " (required: AGGREGATOR_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:12]
    base = _pg_base_url()
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the shipped config, sources and snapshots in a temporary folder."""
    dest = tmp_path / "project"
    dest.mkdir()
    shutil.copy(ROOT / "config.toml", dest / "config.toml")
    shutil.copytree(ROOT / "feeds", dest / "feeds")
    return dest


def write_summary(config: pytest.Config, line: str) -> None:
    """A line in pytest's terminal report, past output capture (a module's tally)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def tamper(signed: str) -> str:
    """A signed token or cookie with one character of its signature changed: not the
    last, whose low bits are base64 padding that a change there can leave unread."""
    return signed[:-5] + ("B" if signed[-5] == "A" else "A") + signed[-4:]


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket connects to during the test."""
    seen: list[Any] = []
    original = socket.socket.connect

    def spy(self: socket.socket, address: Any) -> None:
        seen.append(address)
        original(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen
