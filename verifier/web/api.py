"""The JSON API: verify, the public keys, the published rules, a number's
status, and the OpenAPI document describing them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from verifier.batch import MAX_ITEMS, item_from_json, summary, verify_items
from verifier.lookup import newest
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.profiles import NoProfile, profile_for_cycle
from verifier.token import from_base32, parse
from verifier.verify import Result, format_failed

from . import limiter
from .common import BadDate, ClientCodeGate, asked_date, json_body, json_response, online, parse_date
from .openapi import OPENAPI
from .ratelimit import Budget, OverBudget, per_client, spend

bp = Blueprint("api", __name__)
MAX_TEXT = 5000
GET_LIMIT, POST_LIMIT = "600 per minute", "300 per minute"
# Each item of a batch counts as one GET /api/v1/verify, from the same per-client count.
VERIFY_BUDGET = Budget(GET_LIMIT, "api.verify_get")


def format_failure(message: str, detail: str, status: int = 400) -> Response:
    return json_response(format_failed(message, detail).to_json(), status)


def _answer(result: Result) -> Response:
    return json_response(result.to_json(), 200 if result.checks[0].ok else 400)


def _checked_date(view: Callable[[date], Response]) -> Callable[[], Response]:
    """The view gets the asked date; a malformed one is a 400 of the usual shape."""

    @functools.wraps(view)
    def wrapper() -> Response:
        try:
            at = asked_date()
        except BadDate as e:
            return format_failure(str(e), "at must be YYYY-MM-DD")
        return view(at)

    return wrapper


@bp.get("/api/v1/verify")
@per_client(limiter, GET_LIMIT)
@_checked_date
def verify_get(at: date) -> Response:
    token = request.args.get("token", "")
    if not token:
        return format_failure("缺少 token 参数", "query parameter token is required")
    return _answer(online().verifier().verify_text(token[: MAX_TEXT + 1], at))


@bp.post("/api/v1/verify")
@per_client(limiter, POST_LIMIT)
@_checked_date
def verify_post(at: date) -> Response:
    v = online().verifier()
    ctype = request.mimetype or ""
    if ctype == "application/json":
        body = json_body()
        text = body.get("token") or body.get("url") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return format_failure(
                "JSON 中缺少 token 或 url", 'JSON body must be {"token": "..."} or {"url": "..."}'
            )
        return _answer(v.verify_text(text[: MAX_TEXT + 1], at))
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        f = request.files.get("file")
        if f is not None:
            try:
                data = f.read()
            finally:
                f.close()
            return _answer(v.verify_bytes(data, (f.filename or "upload")[:100], at))
        text = request.form.get("token") or request.form.get("url")
        if text:
            return _answer(v.verify_text(text[: MAX_TEXT + 1], at))
        return format_failure("缺少 token、url 或 file", "send token, url or file")
    if ctype in ("application/pdf", "image/png", "image/jpeg", "text/plain", "application/octet-stream"):
        return _answer(v.verify_bytes(request.get_data(), "body", at))
    return format_failure("不支持的内容类型", f"unsupported Content-Type {ctype or '(none)'}", 415)


def error(status: int, code: str, message: str, detail: str, **headers: str) -> Response:
    """The API's error shape: {"error": code, "message": 中文, "detail": English}."""
    resp = json_response({"error": code, "message": message, "detail": detail}, status)
    resp.headers.update(headers)
    return resp


def over_budget(e: OverBudget) -> Response:
    return error(
        429,
        "rate_limited",
        f"查验过于频繁：本批 {e.asked} 项，当前还可查验 {e.left} 项，{e.retry_after} 秒后恢复"
        f"（每个网络地址每分钟 {e.limit.amount} 项，单个与批量查验合计）",
        f"{e.asked} items asked, {e.left} left of {e.limit} per client (single and batch verifications "
        f"together); retry in {e.retry_after} s",
        **{"Retry-After": str(e.retry_after)},
    )


@bp.post("/api/v1/verify/batch")
def verify_batch() -> Response:
    """Up to MAX_ITEMS items at once (docs/formats.md, "Batch verification"):
    one result per item, in order, and how many had each outcome. Only the
    request as a whole can be refused; a malformed item is a result."""
    body = json_body()
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return error(
            400,
            "bad_request",
            '请求应为 JSON：{"items": [...], "at": "YYYY-MM-DD"}',
            'the body must be a JSON object {"items": [...]} (Content-Type: application/json)',
        )
    items: list[object] = body["items"]
    if len(items) > MAX_ITEMS:
        return error(
            400,
            "too_many_items",
            f"一次最多查验 {MAX_ITEMS} 项，本次 {len(items)} 项：请分批提交",
            f"at most {MAX_ITEMS} items a request, got {len(items)}",
        )
    at = body.get("at", request.args.get("at"))
    try:
        if at is not None and not isinstance(at, str):
            raise BadDate(f"日期格式应为 YYYY-MM-DD：{str(at)[:20]}")
        day = parse_date(at or "")
    except BadDate as e:
        return error(400, "bad_date", str(e), "at must be YYYY-MM-DD")
    try:
        spend(limiter, VERIFY_BUDGET, len(items))
    except OverBudget as e:
        return over_budget(e)
    parsed = [item_from_json(obj, f"items[{i}]") for i, obj in enumerate(items)]
    results = verify_items(parsed, online().verifier(), online().engine, day, ClientCodeGate())
    return json_response({"results": [r.to_json() for r in results], "summary": summary(results)}, 200)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    resp = jsonify(online().keys().to_jwks())
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/.well-known/pdf-signing-certificates.pem")
def pdf_certificates() -> Response:
    """The PDF-signing certificates (and chains) of every key, beside the JWKS:
    a certificate PDF's signature is the bureau's only under one of these."""
    resp = Response(online().keys().pdf_certificates_pem(), mimetype="application/x-pem-file")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/api/v1/profiles/<int:cycle>")
def profile(cycle: int) -> ResponseReturnValue:
    try:
        p = profile_for_cycle(cycle, request.args.get("issuer") or None)
    except NoProfile as e:
        return jsonify({"error": "not_found", "message": "未找到该周期公布的学分规则", "detail": str(e)}), 404
    return jsonify(p.public_dict())


@bp.get("/api/v1/status/<number>")
@per_client(limiter, "120 per minute")
def status(number: str) -> ResponseReturnValue:
    try:
        compact = CertificateNumber.parse(number[:40]).compact
    except NumberFormatError as e:
        return jsonify({"error": "bad_number", "message": "证书编号无效", "detail": str(e)}), 400
    engine = online().engine
    if engine is None:
        return _status_from_snapshot(compact)
    entry = newest(engine, compact)
    if entry is None:
        return jsonify({"error": "not_found", "message": "查无此证书编号", "detail": compact}), 404
    claims = parse(from_base32(entry.token)).claims
    info = online().status.lookup(compact)
    return jsonify(
        {
            "number": compact,
            "version": entry.version,
            "current_version": entry.version if entry.state == "current" else None,
            "status": entry.state,
            "cycle": claims.cycle,
            "issuer": claims.issuer,
            "valid_until": claims.valid_until.isoformat(),
            # what binds a token to the register (docs/formats.md): a token of this number
            # is the register's only if its SHA-256 is the one listed for its version
            "versions": [
                {"version": i, "state": v.state, "token_sha256": v.digest}
                for i, v in enumerate(info.versions if info else (), 1)
            ],
        }
    )


def _status_from_snapshot(compact: str) -> ResponseReturnValue:
    """The same answer from the status snapshot (the number's bureau and
    cycle are the token's: the format check holds them equal), and `source`
    (added): the snapshot it rests on, so a reader knows how fresh it is."""
    status = online().status
    info = status.lookup(compact)
    if info is None:
        return jsonify({"error": "not_found", "message": "查无此证书编号", "detail": compact}), 404
    version = info.current or info.latest
    v = info.of(version)
    assert v is not None and v.valid_until is not None  # a snapshot's version always has its validity
    number = CertificateNumber.parse(compact)
    generated = getattr(status, "generated_at", None)
    return jsonify(
        {
            "number": compact,
            "version": version,
            "current_version": info.current,
            "status": v.state,
            "cycle": number.cycle,
            "issuer": number.bureau,
            "valid_until": v.valid_until.isoformat(),
            "versions": [
                {"version": i, "state": s.state, "token_sha256": s.digest}
                for i, s in enumerate(info.versions, 1)
            ],
            "source": {
                "kind": "snapshot",
                "generated_at": generated.isoformat() if generated is not None else None,
            },
        }
    )


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    return jsonify(OPENAPI)


@bp.app_errorhandler(404)
def not_found(_e: HTTPException) -> ResponseReturnValue:
    if request.path.startswith("/api/"):
        return jsonify({"error": "not_found", "message": "没有这个接口", "detail": request.path[:200]}), 404
    return "<!DOCTYPE html><title>404</title><p>页面不存在 · not found</p>", 404


@bp.app_errorhandler(405)
def not_allowed(_e: HTTPException) -> ResponseReturnValue:
    return jsonify(
        {"error": "method_not_allowed", "message": "不支持的请求方法", "detail": request.method}
    ), 405


@bp.app_errorhandler(500)
def server_error(_e: HTTPException) -> ResponseReturnValue:
    return jsonify({"error": "internal", "message": "服务器内部错误，请稍后再试", "detail": ""}), 500
