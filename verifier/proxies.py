"""The service behind reverse proxies: how many there are is a setting
(ECERT_TRUSTED_PROXIES), and behind them a request's client is the address
the nearest proxy saw, so that rate limits count per client, not per proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

MAX_PROXIES = 10


def trusted_proxies(value: str | None) -> int:
    """ECERT_TRUSTED_PROXIES: how many reverse proxies stand in front of the
    service (0, the default, when it faces clients itself). ValueError
    unless a small whole number."""
    text = (value or "0").strip()
    if not text.isascii() or not text.isdigit() or int(text) > MAX_PROXIES:
        raise ValueError(f"ECERT_TRUSTED_PROXIES must be a whole number 0..{MAX_PROXIES}, got {value!r}")
    return int(text)


def behind_proxies(app: Flask, n: int) -> None:
    """Behind n trusted proxies, take the client's address, scheme and host
    from the headers they add (Werkzeug's ProxyFix); with none, such headers
    are anybody's and are ignored."""
    if n:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Flask's documented way to add WSGI middleware: the instance attribute
        # shadows the method, which mypy will not allow without being told.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n
        )
