"""The bureau's web service: the teacher's sign-in and download (and, with
later issues, the public verifier and the bureau's workflow)."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from ..config import Settings, load_settings
from ..db import make_engine

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
limiter = Limiter(key_func=get_remote_address, default_limits=[],
                  storage_uri=os.environ.get("ECERT_RATELIMIT_STORAGE", "memory://"))
csrf = CSRFProtect()


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=str(TEMPLATES / "static"))
    app.config.update(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("HTTPS://")
        or os.environ.get("ECERT_COOKIE_SECURE") == "1",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=30),  # idle sessions end
        SESSION_REFRESH_EACH_REQUEST=True,
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        ECERT_SETTINGS=settings,
    )
    app.config.update(overrides)
    app.extensions["ecert_engine"] = make_engine(settings.database_url)
    csrf.init_app(app)
    limiter.init_app(app)
    from . import teacher
    app.register_blueprint(teacher.bp)
    app.after_request(_security_headers)
    return app


def _secret_key(settings: Settings) -> bytes:
    """ECERT_SECRET_KEY, or one made once and kept in the data folder, so
    sessions survive a restart and several workers agree."""
    if os.environ.get("ECERT_SECRET_KEY"):
        return os.environ["ECERT_SECRET_KEY"].encode()
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


def _security_headers(response):
    h = response.headers
    h.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                 "style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    return response
