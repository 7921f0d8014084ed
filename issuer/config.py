"""Settings, read from the environment when asked for (never at import), in
this one place (the verifier's own, shared ones through verifier/settings.py).

The key passphrase is not a setting: it is read from ECERT_KEY_PASSPHRASE at
the moment a key is opened (issuer/certificates/keystore.py), and never kept here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from verifier.qr import base_url as verifier_base_url
from verifier.settings import SettingsError, load_verifier_settings

from .errors import ConfigError

# Where `./run.sh` serves without ECERT_PORT (5000 is `ecert serve --port`'s default as well).
DEFAULT_PORT = 5000
# What a QR code's alphanumeric mode can carry (docs/formats.md).
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    profile_id: str
    keys_dir: Path
    base_url: str
    actor: str
    # ECERT_PORT: the port `./run.sh` serves on, and so the default base URL's
    # (a QR code made without ECERT_BASE_URL leads to the service that runs)
    port: int = DEFAULT_PORT
    trusted_proxies: int = 0  # reverse proxies in front of the web service (ECERT_TRUSTED_PROXIES)
    ratelimit_storage: str = "memory://"  # ECERT_RATELIMIT_STORAGE
    cookie_secure: bool = False  # ECERT_COOKIE_SECURE=1, or an HTTPS base URL
    secret_key: str | None = None  # ECERT_SECRET_KEY; unset: one kept in the data folder
    celery_broker_url: str | None = None  # CELERY_BROKER_URL; unset: the embedded broker
    celery_queue: str = "ecert"  # ECERT_CELERY_QUEUE: deployments sharing a broker each name theirs
    storage: str = "folder"  # ECERT_STORAGE: folder | database | s3://bucket/prefix (issuer/storage.py)


def load_settings() -> Settings:
    data_dir = Path(os.environ.get("ECERT_DATA_DIR") or "data").resolve()
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir / 'ecert.sqlite3'}"
    profile_id = os.environ.get("ECERT_PROFILE") or "horgos-7"
    keys_dir = Path(os.environ.get("ECERT_KEYS_DIR") or "keys").resolve()
    actor = os.environ.get("ECERT_ACTOR") or _os_user()
    try:
        shared = load_verifier_settings()
    except SettingsError as e:
        raise ConfigError(e.message, e.detail) from None
    port = port_number(os.environ.get("ECERT_PORT"))
    base = base_url(os.environ.get("ECERT_BASE_URL") or default_base_url(port))
    return Settings(
        data_dir=data_dir,
        database_url=url,
        profile_id=profile_id,
        keys_dir=keys_dir,
        base_url=base,
        actor=actor,
        port=port,
        trusted_proxies=shared.trusted_proxies,
        ratelimit_storage=shared.ratelimit_storage,
        cookie_secure=base.startswith("HTTPS://") or os.environ.get("ECERT_COOKIE_SECURE") == "1",
        secret_key=os.environ.get("ECERT_SECRET_KEY") or None,
        celery_broker_url=os.environ.get("CELERY_BROKER_URL") or None,
        celery_queue=os.environ.get("ECERT_CELERY_QUEUE") or "ecert",
        storage=storage_setting(os.environ.get("ECERT_STORAGE") or "folder"),
    )


STORAGES = ("folder", "database")


def storage_setting(value: str) -> str:
    """ECERT_STORAGE: where the PDFs go (issuer/storage.py), or ConfigError."""
    value = value.strip() or "folder"
    if value.lower() in STORAGES:
        return value.lower()
    if value.lower().startswith("s3://") and value[5:].partition("/")[0]:
        return "s3://" + value[5:]
    raise ConfigError(
        f"ECERT_STORAGE 不可用：{value!r}（只能是 folder、database 或 s3://存储桶/前缀）",
        "ECERT_STORAGE must be folder (the data folder), database (DATABASE_URL's database) "
        "or s3://bucket/prefix (an S3-compatible store)",
    )


def port_number(value: str | None) -> int:
    """ECERT_PORT: a TCP port, 1–65535 (unset or blank: 5000)."""
    text = (value or "").strip()
    if not text:
        return DEFAULT_PORT
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 1 <= int(text) <= 65535):
        raise ConfigError(
            f"ECERT_PORT 应为 1 到 65535 之间的端口号：{value!r}",
            f"ECERT_PORT must be a port number from 1 to 65535, not {value!r}",
        )
    return int(text)


def default_base_url(port: int) -> str:
    """The base URL when ECERT_BASE_URL is unset: this machine, on the port
    the service is served on (ECERT_PORT), as `./run.sh` serves it."""
    return f"HTTP://127.0.0.1:{port}"


def base_url(value: str) -> str:
    """The verification URL's base, upper-cased, without a trailing slash.
    Refused if the QR code could not carry it in alphanumeric mode."""
    url = verifier_base_url(value)
    bad = sorted({c for c in url if c not in QR_ALPHANUMERIC or c == " "})
    if not url.startswith(("HTTP://", "HTTPS://")) or bad:
        raise ConfigError(
            f"ECERT_BASE_URL 不可用：{value!r}",
            "ECERT_BASE_URL must be an http(s) URL made of A-Z 0-9 $%*+-./: so the QR code can use "
            f"alphanumeric mode{'; found ' + ''.join(bad) if bad else ''}",
        )
    return url


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
