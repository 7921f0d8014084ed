"""The public verifier: the page a committee member's phone opens from the
QR code, the lookup by number and 查验码, uploads, and the JSON API.

It runs alone (`create_app(database_url)`: public keys and the certificate
register, read only) and is mounted by the bureau's full service.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Flask, redirect, url_for
from flask_limiter.util import get_remote_address
from sqlalchemy import Engine, create_engine

from verifier.keyset import KeySet
from verifier.proxies import behind_proxies, trusted_proxies
from verifier.status import DatabaseStatus
from verifier.verify import Verifier

from .ratelimit import VerifierLimiter, storage_uri

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MAX_UPLOAD = 10 * 1024 * 1024
limiter = VerifierLimiter(
    key_func=get_remote_address,
    default_limits=[],
    storage_uri=storage_uri(os.environ.get("ECERT_RATELIMIT_STORAGE", "memory://")),
)


class Online:
    """The verifier on the register's database. The key set is re-read at
    most every `keys_ttl` seconds (a compromise shows within that time)."""

    def __init__(self, engine: Engine, keys_ttl: float = 30.0) -> None:
        self.engine, self.keys_ttl = engine, keys_ttl
        self.status = DatabaseStatus(engine)
        self._keys, self._keys_at = None, 0.0

    def keys(self) -> KeySet:
        if self._keys is None or time.monotonic() - self._keys_at > self.keys_ttl:
            self._keys, self._keys_at = KeySet.from_database(self.engine), time.monotonic()
        return self._keys

    def verifier(self) -> Verifier:
        return Verifier(self.keys(), self.status)

    def close(self) -> None:
        self.status.close()
        self.engine.dispose()


def init_verifier(app: Flask, engine: Engine, keys_ttl: float = 30.0) -> None:
    """Mount the verifier's pages and API on an app (alone or the full service)."""
    from . import api, pages

    app.extensions["ecert_verifier"] = Online(engine, keys_ttl)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    if "limiter" not in app.extensions:
        limiter.init_app(app)


def create_app(database_url: str | None = None, **config) -> Flask:
    """The verifier alone: `ECERT_VERIFIER_DATABASE_URL` or DATABASE_URL,
    read only."""
    url = database_url or os.environ.get("ECERT_VERIFIER_DATABASE_URL") or os.environ["DATABASE_URL"]
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=str(TEMPLATES / "static"))
    app.config.update(MAX_CONTENT_LENGTH=MAX_UPLOAD, **config)
    app.json.sort_keys = False  # keep docs/formats.md's order of keys
    init_verifier(app, create_engine(url, pool_pre_ping=True), app.config.get("KEYS_TTL", 30.0))
    # alone, the verifier's front door is the lookup (the full service has a landing page)
    app.add_url_rule("/", "home", lambda: redirect(url_for("verify.lookup")))
    app.after_request(security_headers)
    behind_proxies(app, trusted_proxies(os.environ.get("ECERT_TRUSTED_PROXIES")))
    return app


SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; "
        "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
)
_SECURITY = tuple((name, name.lower(), value) for name, value in SECURITY_HEADERS)


def security_headers(response):
    """Each of SECURITY_HEADERS unless the response has its own, in one pass
    over its headers (four `setdefault`s scanned them eight times)."""
    h = response.headers
    present = {name.lower() for name in h}
    for name, lower, value in _SECURITY:
        if lower not in present:
            h.add(name, value)
    return response
