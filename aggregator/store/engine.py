"""Opening the database: engine options per backend, and migrations at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from aggregator.errors import StorageError

# Any fixed number works; it only has to be the same in every process.
_MIGRATION_LOCK = 0x61676772  # "aggr"


def database_url(url: str) -> sa.URL:
    """Accept the URLs people write and pick our drivers (psycopg 3 for PostgreSQL)."""
    try:
        parsed = make_url(url)
    except Exception as e:  # SQLAlchemy raises ArgumentError on garbage
        raise StorageError(f"[storage] url: not a database URL: {url!r}") from e
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise StorageError(
            f"[storage] url: unsupported database {parsed.drivername!r} "
            "(use sqlite:///path or postgresql://user@host/db)"
        )
    return parsed


def create_engine(url: str) -> sa.Engine:
    parsed = database_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.drivername.startswith("sqlite"):
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
    engine = sa.create_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite opens transactions lazily and never for SELECT; make BEGIN explicit
        # so a read-then-write unit is one transaction. Writers ask for IMMEDIATE
        # (execution option ``immediate``), which takes the write lock up front and
        # waits on busy_timeout instead of failing on a stale snapshot.
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: sa.Connection) -> None:
    immediate = conn.get_execution_options().get("immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see create_engine)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def migrate(engine: sa.Engine) -> str | None:
    """Bring the schema to the newest revision; return the revision it was at.

    Cheap when nothing is to do (one query, and alembic is not even imported: it
    costs ~0.2 s of start-up), so it runs at every start-up. On PostgreSQL an
    advisory lock makes concurrent starts wait for each other.
    """
    current = _current_revision(engine)
    if current == HEAD:
        return current
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            current = MigrationContext.configure(conn).get_current_revision()
            if current != head:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            return current
    except sa.exc.OperationalError as e:
        raise StorageError(f"cannot open the database {engine.url!r}: {_first_line(e)}") from e


#: the newest migration's revision (``migrations/versions``); a test keeps it true
HEAD = "0008"


def _current_revision(engine: sa.Engine) -> str | None:
    """The revision the database is at, read without alembic; None if unknown or empty."""
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except sa.exc.OperationalError as e:
        raise StorageError(f"cannot open the database {engine.url!r}: {_first_line(e)}") from e


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "orig", None) or e).strip()
    return text.splitlines()[0] if text else type(e).__name__
