"""The verifier's settings, read from the environment when asked for (never at
import), in this one place. The issuer's own settings (issuer/config.py) read
these through `load_verifier_settings` and add the rest."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from verifier.proxies import trusted_proxies
from verifier.qr import base_url


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail  # Chinese for the operator, English detail

    def __str__(self) -> str:
        """Both, for a traceback or a log line at start: 中文 · English."""
        return f"{self.message} · {self.detail}"


STATUS_SOURCES = ("database", "snapshot")
DEFAULT_REFRESH = 60.0  # seconds between two checks of the published snapshot and keys
MAX_REFRESH = 86_400.0
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class VerifierSettings:
    database_url: str | None  # ECERT_VERIFIER_DATABASE_URL, else DATABASE_URL
    ratelimit_storage: str  # ECERT_RATELIMIT_STORAGE
    trusted_proxies: int  # ECERT_TRUSTED_PROXIES
    # ECERT_BASE_URL as the verification URL spells it (upper case, no trailing
    # slash): the QR codes of the verifier's batch report lead where the
    # certificates' do. None when unset (the issuer checks the value it signs with).
    base_url: str | None = None
    # ECERT_STATUS: where the verifier web app reads certificates' status, "database"
    # (the register, online) or "snapshot" (the signed status snapshot alone, no database)
    status: str = "database"
    status_snapshot: str | None = None  # ECERT_STATUS_SNAPSHOT: a file path or an http(s) URL
    status_refresh: float = DEFAULT_REFRESH  # ECERT_STATUS_REFRESH: seconds between checks
    jwks: str | None = None  # ECERT_JWKS: the published keys (a path or URL), for snapshot mode


def load_verifier_settings(env: Mapping[str, str] | None = None) -> VerifierSettings:
    env = os.environ if env is None else env
    try:
        proxies = trusted_proxies(env.get("ECERT_TRUSTED_PROXIES"))
    except ValueError as e:
        raise SettingsError("ECERT_TRUSTED_PROXIES 应为 0 到 10 的整数（反向代理的层数）", str(e)) from None
    return VerifierSettings(
        database_url=sqlalchemy_url(env.get("ECERT_VERIFIER_DATABASE_URL") or env.get("DATABASE_URL")),
        ratelimit_storage=env.get("ECERT_RATELIMIT_STORAGE") or "memory://",
        trusted_proxies=proxies,
        base_url=base_url(env["ECERT_BASE_URL"]) if (env.get("ECERT_BASE_URL") or "").strip() else None,
        status=_status_source(env.get("ECERT_STATUS")),
        status_snapshot=published_location("ECERT_STATUS_SNAPSHOT", env.get("ECERT_STATUS_SNAPSHOT")),
        status_refresh=_refresh(env.get("ECERT_STATUS_REFRESH")),
        jwks=published_location("ECERT_JWKS", env.get("ECERT_JWKS")),
    )


def _status_source(value: str | None) -> str:
    source = (value or "").strip().lower() or "database"
    if source not in STATUS_SOURCES:
        raise SettingsError(
            f"ECERT_STATUS 应为 database（读证书登记数据库）或 snapshot（只读签名的状态快照），而不是 {value!r}",
            f"ECERT_STATUS must be database or snapshot, got {value!r}",
        )
    return source


def _refresh(value: str | None) -> float:
    text = (value or "").strip()
    if not text:
        return DEFAULT_REFRESH
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 1 <= seconds <= MAX_REFRESH:  # (NaN fails too)
        raise SettingsError(
            f"ECERT_STATUS_REFRESH 应为 1 到 {MAX_REFRESH:.0f} 之间的秒数（多久检查一次状态快照是否更新），"
            f"而不是 {value!r}",
            f"ECERT_STATUS_REFRESH must be a number of seconds from 1 to {MAX_REFRESH:.0f}, got {value!r}",
        )
    return seconds


def published_location(name: str, value: str | None) -> str | None:
    """A published file's place: a path, a file:// URL (read as its path) or
    an http(s) URL; any other scheme is refused, naming the variable."""
    text = (value or "").strip()
    if not text:
        return None
    if _SCHEME.match(text):
        scheme = text.split("://", 1)[0].lower()
        if scheme == "file":
            return text[len("file://") :] or None
        if scheme not in ("http", "https") or len(text) <= len(scheme) + 3:
            raise SettingsError(
                f"{name} 应为文件路径或 http(s) 网址，而不是 {text[:100]!r}",
                f"{name} must be a file path or an http(s) URL, got {text[:100]!r}",
            )
    return text


def sqlalchemy_url(url: str | None) -> str | None:
    """A bare postgres:// URL (as hosting platforms give it) through psycopg 3."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url or None
