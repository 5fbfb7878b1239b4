"""Alembic migrations; applied at start-up by :func:`aggregator.store.migrate`."""
