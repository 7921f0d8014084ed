"""The verifier's settings, read from the environment when asked for (never at
import), in this one place. The issuer's own settings (issuer/config.py) read
these through `load_verifier_settings` and add the rest."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from verifier.proxies import trusted_proxies
from verifier.qr import base_url


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail  # Chinese for the operator, English detail


@dataclass(frozen=True)
class VerifierSettings:
    database_url: str | None  # ECERT_VERIFIER_DATABASE_URL, else DATABASE_URL
    ratelimit_storage: str  # ECERT_RATELIMIT_STORAGE
    trusted_proxies: int  # ECERT_TRUSTED_PROXIES
    # ECERT_BASE_URL as the verification URL spells it (upper case, no trailing
    # slash): the QR codes of the verifier's batch report lead where the
    # certificates' do. None when unset (the issuer checks the value it signs with).
    base_url: str | None = None


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
    )


def sqlalchemy_url(url: str | None) -> str | None:
    """A bare postgres:// URL (as hosting platforms give it) through psycopg 3."""
    if url and url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url or None
