"""The bureau's web service: the public verifier, the teacher's sign-in and
download, the office's pages and the office's JSON API, on one app."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from verifier.proxies import behind_proxies
from verifier.resources import templates_dir
from verifier.web import init_verifier, limiter, security_headers
from verifier.web.ratelimit import storage_uri

from ..config import Settings, load_settings
from ..db import make_engine

csrf = CSRFProtect()


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    settings = settings or load_settings()
    templates = templates_dir()
    app = Flask(__name__, template_folder=str(templates), static_folder=str(templates / "static"))
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=30),  # idle sessions end
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        ECERT_SETTINGS=settings,
        ECERT_BASE_URL=settings.base_url,  # the verifier's batch report: QR codes as the certificates'
        RATELIMIT_STORAGE_URI=storage_uri(settings.ratelimit_storage),
    )
    app.config.update(overrides)
    app.json.sort_keys = False  # keep docs/formats.md's order of keys
    engine = app.extensions["ecert_engine"] = make_engine(settings.database_url)
    csrf.init_app(app)
    limiter.init_app(app)
    from . import office, teacher

    app.register_blueprint(teacher.bp)
    app.register_blueprint(office.bp)
    init_verifier(app, engine, app.config.get("KEYS_TTL", 30.0))
    for name in ("verify", "api", "batch"):  # public and stateless: no session to forge a request with
        csrf.exempt(app.blueprints[name])
    from . import office_api, published

    app.register_blueprint(published.bp)
    app.register_blueprint(office_api.bp)
    csrf.exempt(office_api.bp)  # bearer tokens only: no cookie to forge a request with
    app.add_url_rule("/", "home", _home)
    app.after_request(security_headers)
    behind_proxies(app, settings.trusted_proxies)
    return app


def _home():
    """The landing page: the three ways in (the verifier, teachers, staff)."""
    from flask import render_template

    from .context import profile

    p = profile()
    return render_template(
        "home.html", bureau=p.issuer_name, cycle=p.cycle, years=f"{p.first_year}—{p.last_year}"
    )


def _secret_key(settings: Settings) -> bytes:
    """ECERT_SECRET_KEY, or one made once and kept in the data folder, so
    sessions survive a restart and several workers agree."""
    if settings.secret_key:
        return settings.secret_key.encode()
    path = settings.data_dir / "secret-key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass  # another worker made it first
    return path.read_text().strip().encode()
