"""The web app: the public output files at ``/`` and ``/healthz``, served by waitress.

``create_app(config)`` builds a fresh Flask app with the config in
``app.config["AGGREGATOR"]`` and one blueprint per concern; ``serve(config)`` runs it.
Today the blueprints are ``health`` (``/healthz`` for monitors), ``public`` (the
subscription pages of :mod:`aggregator.web.public`: confirm, unsubscribe,
preferences; the only ones that open the database) and ``output``
(:mod:`aggregator.web.static`, every other GET or HEAD, answered from
``[output] dir``). The editor and the public subscription pages join as blueprints
of their own; their routes take precedence over the catch-all file route because
Werkzeug matches static path parts before converters.

Every response gets the security headers below (a view may set its own first).
This module itself does not touch the database, log in anyone or write any file.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, jsonify

from aggregator.config import Config
from aggregator.web import auth
from aggregator.web.editor import bp as editor_bp
from aggregator.web.public import bp as public_bp
from aggregator.web.static import bp as output_bp

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}
#: for documents a browser renders as a page (an SVG can run script as well)
PAGE_CSP = ("default-src 'none'; style-src 'self' 'unsafe-inline'; img-src * data:; "
            "frame-ancestors 'none'")
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "image/svg+xml")

health_bp = Blueprint("health", __name__)


@health_bp.route("/healthz", methods=["GET", "HEAD"])
def healthz() -> Response:
    """200 ``{"status": "ok"}`` while the process answers; monitors must not cache it."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


def _add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype in _PAGE_TYPES:
        response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
    return response


def create_app(config: Config) -> Flask:
    """A new app serving ``config``; nothing global, so tests can build one per case."""
    # static_folder=None: "/static/..." is an output path like any other.
    app = Flask(__name__, static_folder=None)
    app.config["AGGREGATOR"] = config
    app.register_blueprint(health_bp)
    app.register_blueprint(public_bp)
    auth.init_app(app)  # sessions, CSRF, /login, /logout
    app.register_blueprint(editor_bp)  # /editor/...
    app.register_blueprint(output_bp)  # the catch-all: register other blueprints alongside
    app.after_request(_add_security_headers)  # also on auth's own pages
    return app


def serve(config: Config, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the app with waitress until interrupted (the ``aggregator serve`` command)."""
    import waitress  # imported here: only `serve` needs it

    app = create_app(config)
    shown = f"[{host}]" if ":" in host else host
    log.info("serving %s at http://%s:%d/", config.output.dir, shown, port)
    waitress.serve(app, host=host, port=port, threads=8)
