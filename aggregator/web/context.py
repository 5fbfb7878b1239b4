"""The app's one :class:`~aggregator.service.Service`, shared by its request threads.

Built on first use from ``app.config["AGGREGATOR"]``: the store is opened (and
migrated), the tag rules compiled; sources are not synchronized from the files here
(the CLI and the worker do that), so starting the web app writes nothing.
SQLAlchemy's engine is safe to share between threads; the service keeps no
per-request state.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from aggregator.service import Service

_lock = threading.Lock()
_KEY = "aggregator.service"


def get_service(app: Flask | None = None) -> Service:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    found = app.extensions.get(_KEY)
    if found is None:
        with _lock:
            found = app.extensions.get(_KEY)
            if found is None:
                from aggregator.store import Store
                from aggregator.tagging import compile_rules

                config = app.config["AGGREGATOR"]
                found = Service(config, Store.open(config.storage.url),
                                rules=compile_rules(config.tags, path=config.path))
                app.extensions[_KEY] = found
    return found
