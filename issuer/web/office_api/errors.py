"""The API's one error shape, and the handlers that give every failure it."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as RouteNotFound

from issuer.errors import EcertError, NotFound
from issuer.ledger.importing.report import ImportRefused
from issuer.web.office_api import MAX_JSON, PREFIX, bp, log


class ApiError(Exception):
    """An answer other than 200, in the API's error shape."""

    def __init__(self, status: int, message: str, detail: str, headers: dict | None = None, **extra) -> None:
        super().__init__(detail)
        self.status, self.message, self.detail = status, message, detail
        self.headers, self.extra = headers or {}, extra


def error_response(status: int, message: str, detail: str, headers: dict | None = None, **extra):
    resp = jsonify({"error": {"message": message, "detail": detail, **extra}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def bad(message: str, detail: str, **extra) -> ApiError:
    return ApiError(400, message, detail, **extra)


@bp.before_app_request
def routing_errors():
    """An unknown path or method under the API's prefix answers in the
    API's shape (the app's own handlers answer everything else)."""
    e = request.routing_exception
    if e is None or not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return None
    if isinstance(e, MethodNotAllowed):
        return error_response(
            405,
            "不支持的请求方法",
            f"method {request.method} not allowed here",
            {"Allow": ", ".join(sorted(e.valid_methods or ()))},
        )
    if isinstance(e, RouteNotFound):
        return error_response(404, "没有这个接口", f"no such endpoint: {request.path[:200]}")
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def api_error(e: ApiError):
    return error_response(e.status, e.message, e.detail, e.headers, **e.extra)


@bp.errorhandler(EcertError)
def ecert_error(e: EcertError):
    if isinstance(e, ImportRefused):
        return refused_response(e, json_rows=False)
    return error_response(404 if isinstance(e, NotFound) else 400, e.message, e.detail or e.message)


# By code too: the app's handlers for a code (the verifier's 404, 405, 413,
# 500) would otherwise come before a blueprint's handler for a class.
@bp.errorhandler(HTTPException)
@bp.errorhandler(400)
@bp.errorhandler(404)
@bp.errorhandler(405)
@bp.errorhandler(413)
@bp.errorhandler(429)
@bp.errorhandler(500)
def http_error(e: HTTPException):
    if isinstance(e, RequestEntityTooLarge):
        limit = request.max_content_length or MAX_JSON
        return error_response(
            400, f"请求体过大（上限 {limit // (1024 * 1024)} MB）", f"request body over {limit} bytes"
        )
    if e.code == 429:
        return error_response(429, "请求过于频繁，请稍后再试", str(e.description))
    if e.code and e.code < 500:
        return error_response(e.code, "请求有误", f"{e.code} {e.name}")
    return _internal(e)


@bp.errorhandler(Exception)
def internal_error(e: Exception):
    return _internal(e)


def _internal(e: Exception):
    log.exception("office API: %s %s failed", request.method, request.path, exc_info=e)
    return error_response(500, "服务器内部错误，请稍后再试", "internal error")


def refused_response(e: ImportRefused, *, json_rows: bool):
    """The refusal's message (which counts every error) and its first
    errors by row; `total` counts them all and `omitted` those not listed."""
    errors = []
    for x in e.errors:
        item = {"row": x.row, "column": x.column, "value": x.value, "message": x.message, "detail": x.detail}
        if json_rows:
            item["index"] = x.row - 2 if x.row and x.row >= 2 else None
        errors.append(item)
    if e.total == 1:  # one reason (a damaged file, a limit, one bad cell): the headline says it
        x = e.errors[0]
        where = (f"第 {x.row} 行" + (f"「{x.column}」" if x.column else "") + "：") if x.row else ""
        where_en = (f"row {x.row}" + (f" ({x.column})" if x.column else "") + ": ") if x.row else ""
        message, detail = (
            f"申报被整体拒收，未写入任何数据：{where}{x.message}",
            f"declaration refused whole, nothing was stored: {where_en}{x.detail}",
        )
    else:
        listed = (
            (f"；只列出前 {len(e.errors)} 处", f"; the first {len(e.errors)} are listed")
            if e.omitted
            else ("", "")
        )
        message = f"申报被整体拒收：{e.total} 处错误（涉及 {e.row_count} 行），未写入任何数据{listed[0]}"
        detail = (
            f"declaration refused whole: {e.total} error(s) in {e.row_count} row(s); nothing was stored"
            f"{listed[1]}"
        )
    return error_response(400, message, detail, rows=errors, total=e.total, omitted=e.omitted)
