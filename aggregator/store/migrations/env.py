"""Alembic environment: runs on the connection the store hands it.

The store calls Alembic programmatically (``aggregator.store.migrate``); the
``alembic`` command line works too, with ``-x url=...``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from aggregator.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: sa.Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("alembic: give the database as -x url=sqlite:///var/aggregator.db")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        _run(conn)
