"""Bearer tokens, the per-token and per-client rate limits, and scopes."""

from __future__ import annotations

import hashlib
import math
import time

from flask import current_app, g, request
from flask.globals import request_ctx
from flask_limiter.util import get_remote_address
from limits import parse_many

from issuer.db import read_session
from issuer.errors import NotFound
from issuer.office import staff
from issuer.web import limiter
from issuer.web.context import engine
from issuer.web.office_api import MAX_JSON, MAX_UPLOAD, UPLOAD_TYPES, bp
from issuer.web.office_api.errors import ApiError

TOKEN_LIMIT = "600 per minute"
AUTH_FAILURE_LIMIT = "60 per minute"
REALM = 'Bearer realm="ecert-office"'
PUBLIC = {"office_api.openapi"}


@bp.before_request
def authenticate():
    _no_session()
    # bodies are bounded before anything reads them: files 10 MB, JSON 1 MB
    request.max_content_length = MAX_UPLOAD if request.mimetype in UPLOAD_TYPES else MAX_JSON
    if request.endpoint in PUBLIC:
        return None
    client = ("office-api-auth", get_remote_address())
    failures = current_app.config.get("OFFICE_API_AUTH_FAILURES", AUTH_FAILURE_LIMIT)
    _refuse_if_over(failures, client, count=False)
    token = _bearer()
    scope = None
    if token:
        with read_session(engine()) as s:
            account = staff.account_for_token(s, token)
            scope = staff.Scope.of(account) if account is not None else None
    if scope is None:
        _refuse_if_over(failures, client, count=True)
        if token is None:
            raise ApiError(
                401,
                "需要接口令牌：Authorization: Bearer <令牌>",
                "an Authorization: Bearer <token> header is required",
                {"WWW-Authenticate": REALM},
            )
        raise ApiError(
            401,
            "接口令牌无效、已撤销或账号已停用",
            "invalid or revoked token",
            {"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        )
    g.api_scope = scope
    key = ("office-api-token", hashlib.sha256(token.encode()).hexdigest()[:32])
    _refuse_if_over(current_app.config.get("OFFICE_API_LIMIT", TOKEN_LIMIT), key, count=True)
    return None


def _no_session() -> None:
    """The API reads and writes no cookie: an office page's session cookie
    sent along is neither used nor refreshed (a null session is not saved)."""
    if hasattr(request_ctx, "_session"):
        request_ctx._session = current_app.session_interface.make_null_session(current_app)


def _bearer() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def _refuse_if_over(limit: str, ids: tuple[str, ...], *, count: bool) -> None:
    """Count a hit (or, with count=False, only look) in the shared
    limiter's strategy and storage; over the limit is a 429."""
    if not (limiter.enabled and limiter.initialized):
        return
    strategy = limiter.limiter
    for item in parse_many(limit):
        ok = strategy.hit(item, *ids) if count else strategy.test(item, *ids)
        if not ok:
            reset = strategy.get_window_stats(item, *ids).reset_time
            raise ApiError(
                429,
                "请求过于频繁，请稍后再试",
                f"rate limit exceeded: {item}",
                {"Retry-After": str(max(1, math.ceil(reset - time.time())))},
            )


def scope_for(permission: str) -> staff.Scope:
    """The token's scope, if its role has `permission`; otherwise the
    route answers as if it did not exist."""
    scope = g.api_scope
    if not scope.can(permission):
        raise NotFound("没有此功能", "not found")
    return scope
