"""The public verifier: the page a committee member's phone opens from the
QR code, the lookup by number and 查验码, uploads, the batch page for a
review committee, and the JSON API.

It runs alone (`create_app(database_url)`: public keys and the certificate
register, read only) and is mounted by the bureau's full service.
"""

from __future__ import annotations

import time
from typing import cast

from flask import Flask, Response, redirect, url_for
from flask.json.provider import DefaultJSONProvider
from flask_limiter.util import get_remote_address
from sqlalchemy import Engine, create_engine

from verifier.keyset import KeySet
from verifier.proxies import behind_proxies
from verifier.resources import templates_dir
from verifier.settings import SettingsError, VerifierSettings, load_verifier_settings, sqlalchemy_url
from verifier.status import DatabaseStatus
from verifier.verify import Verifier

from .ratelimit import VerifierLimiter, storage_uri

MAX_UPLOAD = 10 * 1024 * 1024
# Its storage comes from each app's RATELIMIT_STORAGE_URI (`limit_storage`), set from the settings.
limiter = VerifierLimiter(key_func=get_remote_address, default_limits=[])


def limit_storage(settings: VerifierSettings) -> dict[str, str]:
    """The app config that points the limiter at ECERT_RATELIMIT_STORAGE."""
    return {"RATELIMIT_STORAGE_URI": storage_uri(settings.ratelimit_storage)}


class Online:
    """The verifier on the register's database. The key set is re-read at
    most every `keys_ttl` seconds (a compromise shows within that time)."""

    def __init__(self, engine: Engine, keys_ttl: float = 30.0) -> None:
        self.engine, self.keys_ttl = engine, keys_ttl
        self.status = DatabaseStatus(engine)
        self._keys: KeySet | None = None
        self._keys_at = 0.0

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
    from . import api, batch, pages

    app.extensions["ecert_verifier"] = Online(engine, keys_ttl)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(batch.bp)
    if "limiter" not in app.extensions:
        limiter.init_app(app)


def create_app(
    database_url: str | None = None, settings: VerifierSettings | None = None, **config: object
) -> Flask:
    """The verifier alone, on the register's database (read only): the given
    URL, else ECERT_VERIFIER_DATABASE_URL or DATABASE_URL."""
    settings = settings or load_verifier_settings()
    url = sqlalchemy_url(database_url) or settings.database_url
    if not url:
        raise SettingsError(
            "请设置 ECERT_VERIFIER_DATABASE_URL 或 DATABASE_URL（证书登记数据库）",
            "set ECERT_VERIFIER_DATABASE_URL or DATABASE_URL: the verifier reads the register",
        )
    templates = templates_dir()
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "static"))
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD, ECERT_BASE_URL=settings.base_url, **limit_storage(settings)
    )
    app.config.update(config)
    # keep docs/formats.md's order of keys (a Flask made here has the default provider)
    cast(DefaultJSONProvider, app.json).sort_keys = False
    init_verifier(app, create_engine(url, pool_pre_ping=True), app.config.get("KEYS_TTL", 30.0))
    # alone, the verifier's front door is the lookup (the full service has a landing page)
    app.add_url_rule("/", "home", lambda: redirect(url_for("verify.lookup")))
    app.after_request(security_headers)
    behind_proxies(app, settings.trusted_proxies)
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


def security_headers(response: Response) -> Response:
    """Each of SECURITY_HEADERS unless the response has its own, in one pass
    over its headers (four `setdefault`s scanned them eight times)."""
    h = response.headers
    present = {name.lower() for name, _ in h}  # Headers iterate as (name, value) pairs
    for name, lower, value in _SECURITY:
        if lower not in present:
            h.add(name, value)
    return response
