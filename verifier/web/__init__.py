"""The public verifier: the page a committee member's phone opens from the
QR code, the lookup by number and 查验码, uploads, the batch page for a
review committee, and the JSON API.

It runs alone (`create_app(database_url)`: public keys and the certificate
register, read only) and is mounted by the bureau's full service. With
`ECERT_STATUS=snapshot` it runs on what the bureau publishes alone, the
JWKS and the signed status snapshot, with no database (verifier/published.py),
so that any number of them can stand behind a load balancer.
"""

from __future__ import annotations

import time
from typing import cast

from flask import Flask, Response, g, has_request_context, redirect, url_for
from flask.json.provider import DefaultJSONProvider
from flask_limiter.util import get_remote_address
from sqlalchemy import Engine, create_engine

from verifier.keyset import KeySet
from verifier.proxies import behind_proxies
from verifier.published import LiveSnapshot, PublishedError, live_snapshot
from verifier.resources import templates_dir
from verifier.settings import SettingsError, VerifierSettings, load_verifier_settings, sqlalchemy_url
from verifier.status import DatabaseStatus, SnapshotStatus
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


class FromSnapshot:
    """The verifier on the published keys and status snapshot alone: no
    database, so no lookup by number and 查验码 (the snapshot holds neither
    the tokens nor the codes). Each request answers from the pair of keys
    and snapshot it found (verifier/published.py swaps the pair whole)."""

    engine: Engine | None = None  # no register to look a number up in

    def __init__(self, live: LiveSnapshot) -> None:
        self.live = live

    @property
    def status(self) -> SnapshotStatus:
        return self.live.held.status

    def keys(self) -> KeySet:
        return self.live.held.keys

    def verifier(self) -> Verifier:
        held = self.live.held
        if has_request_context():  # the answer's header names the snapshot it rests on
            g.ecert_snapshot = held.status.generated_at.isoformat()
        return Verifier(held.keys, held.status)

    def close(self) -> None:
        self.live.close()


Source = Online | FromSnapshot


def init_verifier(app: Flask, engine: Engine, keys_ttl: float = 30.0) -> None:
    """Mount the verifier's pages and API on an app (alone or the full service)."""
    mount_verifier(app, Online(engine, keys_ttl))


def mount_verifier(app: Flask, source: Source) -> None:
    """The pages and API on an app, answering from `source`."""
    from . import api, batch, pages

    app.extensions["ecert_verifier"] = source
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(batch.bp)
    if "limiter" not in app.extensions:
        limiter.init_app(app)


def create_app(
    database_url: str | None = None, settings: VerifierSettings | None = None, **config: object
) -> Flask:
    """The verifier alone, on the register's database (read only): the given
    URL, else ECERT_VERIFIER_DATABASE_URL or DATABASE_URL; or, with
    ECERT_STATUS=snapshot, on the published JWKS and status snapshot alone
    (a database URL is then not used). Refuses to start (SettingsError,
    naming the variable) without what it needs."""
    settings = settings or load_verifier_settings()
    source: Source
    if settings.status == "snapshot":
        refresh = _seconds(config.get("STATUS_REFRESH"), settings.status_refresh)
        source = FromSnapshot(_live_snapshot(settings, refresh))
    else:
        url = sqlalchemy_url(database_url) or settings.database_url
        if not url:
            raise SettingsError(
                "请设置 ECERT_VERIFIER_DATABASE_URL 或 DATABASE_URL（证书登记数据库），"
                "或设置 ECERT_STATUS=snapshot 只读签名的状态快照",
                "set ECERT_VERIFIER_DATABASE_URL or DATABASE_URL: the verifier reads the register "
                "(or ECERT_STATUS=snapshot to serve from the signed status snapshot alone)",
            )
        keys_ttl = _seconds(config.get("KEYS_TTL"), 30.0)
        source = Online(create_engine(url, pool_pre_ping=True), keys_ttl)
    templates = templates_dir()
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "static"))
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_UPLOAD, ECERT_BASE_URL=settings.base_url, **limit_storage(settings)
    )
    app.config.update(config)
    # keep docs/formats.md's order of keys (a Flask made here has the default provider)
    cast(DefaultJSONProvider, app.json).sort_keys = False
    mount_verifier(app, source)
    if isinstance(source, FromSnapshot):
        app.after_request(_snapshot_header)
    # alone, the verifier's front door is the lookup (the full service has a landing page)
    app.add_url_rule("/", "home", lambda: redirect(url_for("verify.lookup")))
    app.after_request(security_headers)
    behind_proxies(app, settings.trusted_proxies)
    return app


def _seconds(value: object, default: float) -> float:
    """A time in seconds given in the app's config (tests shorten them)."""
    return float(value) if isinstance(value, int | float) else default


def _live_snapshot(settings: VerifierSettings, refresh: float) -> LiveSnapshot:
    missing = [
        name
        for name, value in (
            ("ECERT_STATUS_SNAPSHOT", settings.status_snapshot),
            ("ECERT_JWKS", settings.jwks),
        )
        if not value
    ]
    if missing:
        raise SettingsError(
            f"ECERT_STATUS=snapshot 时须设置 {'、'.join(missing)}（签名的状态快照与公布的公钥集：文件路径或 http(s) 网址）",
            f"ECERT_STATUS=snapshot needs {' and '.join(missing)}: the signed status snapshot and the "
            "published JWKS, each a file path or an http(s) URL",
        )
    assert settings.status_snapshot and settings.jwks
    try:
        return live_snapshot(settings.status_snapshot, settings.jwks, refresh)
    except PublishedError as e:
        raise SettingsError(
            f"{e.setting} 不可用，查验服务不启动：{e}",
            f"{e.setting}: {e}; the verifier does not start on a status snapshot it cannot trust",
        ) from None


STATUS_HEADER = "X-Ecert-Status-Snapshot"


def _snapshot_header(response: Response) -> Response:
    """Each answer says the status it rests on is the snapshot of that time."""
    from .common import online

    source = online()
    if isinstance(source, FromSnapshot):
        response.headers[STATUS_HEADER] = g.get("ecert_snapshot") or source.live.generated_at
    return response


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
