"""The office's JSON API for the bureau's other systems: what the office
pages do (declare, review and recognise, the school tables and a teacher's
sheet, certificates and revocation, background issue and render jobs, the
audit log's check), under /api/v1/office, described by office_openapi.py.

Every route but the OpenAPI document needs `Authorization: Bearer <token>`
(a token from `ecert staff token USERNAME`; only its SHA-256 is stored). A
missing, unknown or revoked token, or a deactivated account, is a 401 with
`WWW-Authenticate: Bearer`. The token's account acts through its Scope: a
role without the permission, or an object outside a registrar's school, is
a 404 that reads the same as an object that does not exist. No cookie is
read or set, so the blueprint is exempt from CSRF.

Each token is rate-limited (OFFICE_API_LIMIT, default 600 a minute) and
each client address's failed authentications (OFFICE_API_AUTH_FAILURES) in
the shared limiter's storage. Every error is JSON:
`{"error": {"message": <中文>, "detail": <English>}}`; bad input is a 400,
never a 500 or a stack trace."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import tempfile
import time
from datetime import date
from itertools import islice
from pathlib import Path

from flask import Blueprint, current_app, g, jsonify, request
from flask.globals import request_ctx
from flask_limiter.util import get_remote_address
from limits import parse_many
from sqlalchemy import select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.utils import secure_filename

from verifier.clock import today_in_china
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.vocab import BUCKETS

from .. import audit, queries, register, review, staff, tasks
from .. import jobs as jobs_lib
from ..credits.ledger import find_holder, sheet_for
from ..credits.sheet import amount
from ..db import read_session, write_session
from ..errors import EcertError, InputRefused, NotFound
from ..importing.records import import_records
from ..importing.report import ImportRefused, ImportResult
from ..models import Registration, School, Teacher
from . import limiter
from .context import engine, profile, settings

PREFIX = "/api/v1/office"
bp = Blueprint("office_api", __name__, url_prefix=PREFIX)
log = logging.getLogger(__name__)

MAX_JSON = 1024 * 1024  # a JSON body: some 8,000 records
MAX_UPLOAD = 10 * 1024 * 1024  # a declaration file
MAX_IDS = 10_000
MAX_ID = 2**31 - 1  # the database's integer ids: anything larger is no id at all
MAX_REASON = 500
PAGE_MAX = 1000
TOKEN_LIMIT = "600 per minute"
AUTH_FAILURE_LIMIT = "60 per minute"
REALM = 'Bearer realm="ecert-office"'
SPREADSHEETS = {
    "text/csv": ".csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
UPLOAD_TYPES = {"multipart/form-data", *SPREADSHEETS}
FILE_SUFFIXES = (".csv", ".xlsx")
RECORD_FIELDS = ("id_number", "project_code", "grade", "role", "completed_on")  # docs/formats.md's aliases
PUBLIC = {"office_api.openapi"}


class ApiError(Exception):
    """An answer other than 200, in the API's error shape."""

    def __init__(self, status: int, message: str, detail: str, headers: dict | None = None, **extra) -> None:
        super().__init__(detail)
        self.status, self.message, self.detail = status, message, detail
        self.headers, self.extra = headers or {}, extra


def _error(status: int, message: str, detail: str, headers: dict | None = None, **extra):
    resp = jsonify({"error": {"message": message, "detail": detail, **extra}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def bad(message: str, detail: str, **extra) -> ApiError:
    return ApiError(400, message, detail, **extra)


# -- authentication, rate limits, errors -------------------------------------


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


@bp.before_app_request
def routing_errors():
    """An unknown path or method under the API's prefix answers in the
    API's shape (the app's own handlers answer everything else)."""
    e = request.routing_exception
    if e is None or not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return None
    if isinstance(e, MethodNotAllowed):
        return _error(
            405,
            "不支持的请求方法",
            f"method {request.method} not allowed here",
            {"Allow": ", ".join(sorted(e.valid_methods or ()))},
        )
    if isinstance(e, RouteNotFound):
        return _error(404, "没有这个接口", f"no such endpoint: {request.path[:200]}")
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(ApiError)
def api_error(e: ApiError):
    return _error(e.status, e.message, e.detail, e.headers, **e.extra)


@bp.errorhandler(EcertError)
def ecert_error(e: EcertError):
    if isinstance(e, ImportRefused):
        return _refused(e, json_rows=False)
    return _error(404 if isinstance(e, NotFound) else 400, e.message, e.detail or e.message)


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
        return _error(
            400, f"请求体过大（上限 {limit // (1024 * 1024)} MB）", f"request body over {limit} bytes"
        )
    if e.code == 429:
        return _error(429, "请求过于频繁，请稍后再试", str(e.description))
    if e.code and e.code < 500:
        return _error(e.code, "请求有误", f"{e.code} {e.name}")
    return _internal(e)


@bp.errorhandler(Exception)
def internal_error(e: Exception):
    return _internal(e)


def _internal(e: Exception):
    log.exception("office API: %s %s failed", request.method, request.path, exc_info=e)
    return _error(500, "服务器内部错误，请稍后再试", "internal error")


def _scope(permission: str) -> staff.Scope:
    """The token's scope, if its role has `permission`; otherwise the
    route answers as if it did not exist."""
    scope = g.api_scope
    if not scope.can(permission):
        raise NotFound("没有此功能", "not found")
    return scope


# -- request bodies ----------------------------------------------------------


def _json_body():
    if request.mimetype != "application/json":
        raise bad(
            "请求体须为 JSON（Content-Type: application/json）",
            f"expected Content-Type application/json, got {request.mimetype or '(none)'}",
        )
    data = request.get_data(cache=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise bad("请求体不是 UTF-8 编码的 JSON", f"request body is not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise bad("请求体不是有效的 JSON", f"invalid JSON: {e}") from None
    except RecursionError:
        raise bad("请求体不是有效的 JSON：嵌套过深", "invalid JSON: nested too deeply") from None


def _json_object() -> dict:
    body = _json_body()
    if not isinstance(body, dict):
        raise bad("请求体须为 JSON 对象", "the JSON body must be an object")
    return body


def _ids(body: dict) -> list[int]:
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids)
    ):
        raise bad(
            f"ids 须为 1 至 {MAX_IDS} 个记录编号（正整数）组成的列表",
            f'"ids" must be a list of 1 to {MAX_IDS} positive integer record ids',
        )
    return ids


def _reason(body: dict) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise bad("须写明原因（reason）", '"reason" must be a non-empty string')
    if len(reason) > MAX_REASON:
        raise bad(f"原因不能超过 {MAX_REASON} 字", f'"reason" is longer than {MAX_REASON} characters')
    return reason


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad(
            f"参数 {name} 须为 {low} 至 {high} 的整数", f"{name} must be an integer from {low} to {high}"
        )
    return value


def _compact(number: str) -> str:
    try:
        return CertificateNumber.parse(number[:40]).compact
    except NumberFormatError as e:
        raise bad("证书编号无效", f"invalid certificate number: {e}") from None


# -- declaring records --------------------------------------------------------


@bp.post("/records")
def declare_records():
    """A school's declaration: a JSON list of records, a CSV/XLSX file
    (multipart field `file`, or the raw body), one transaction."""
    scope = _scope("declare")
    ctype = request.mimetype
    if ctype == "application/json":
        body = _json_body()
        requested = request.args.get("school")
        if isinstance(body, dict):
            requested = body.get("school", requested)
            body = body.get("records")
        if not isinstance(body, list):
            raise bad(
                '请求体须为记录列表，或 {"school": …, "records": [...]}',
                'the body must be a list of records or {"school": ..., "records": [...]}',
            )
        data = _records_csv(body)
        school = _declaring_school(scope, requested)
        try:
            result = _import(data, "records.csv", school)
        except ImportRefused as e:
            return _refused(e, json_rows=True)
    elif ctype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise bad("缺少文件：请在 file 字段上传 CSV 或 XLSX", 'multipart field "file" is missing')
        name = upload.filename or ""
        if Path(name).suffix.lower() not in FILE_SUFFIXES:
            raise bad(
                f"只接受 CSV 或 XLSX 文件（收到 {name[:100] or '空文件名'}）",
                "only .csv or .xlsx files are accepted",
            )
        data = upload.read()
        school = _declaring_school(scope, request.form.get("school") or request.args.get("school"))
        suffix, safe = Path(name).suffix.lower(), secure_filename(name)  # 申报.csv → "csv": keep a suffix
        result = _import(data, safe if safe.lower().endswith(suffix) else "upload" + suffix, school)
    elif ctype in SPREADSHEETS:
        school = _declaring_school(scope, request.args.get("school"))
        result = _import(request.get_data(), "upload" + SPREADSHEETS[ctype], school)
    else:
        raise bad(
            "不支持的内容类型：请用 application/json、multipart/form-data、text/csv 或 XLSX",
            f"unsupported Content-Type {ctype or '(none)'}",
        )
    return jsonify(_result_json(result, school))


def _records_csv(items: list) -> bytes:
    """The JSON records as the CSV a school would upload, so they go through
    exactly the file's checks; row n of the CSV is item n - 2."""
    if not items:
        raise bad("记录列表为空", "the list of records is empty")
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(RECORD_FIELDS)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad(f"第 {i} 项不是 JSON 对象", f"records[{i}] is not an object", index=i)
        row = []
        for k in RECORD_FIELDS:
            v = item.get(k)
            if v is not None and not isinstance(v, str):
                raise bad(f"第 {i} 项的 {k} 须为字符串", f"records[{i}].{k} must be a string", index=i)
            if v and any(c in v for c in "\r\n\x00"):
                raise bad(
                    f"第 {i} 项的 {k} 含有换行或控制字符", f"records[{i}].{k} contains a line break", index=i
                )
            row.append(v or "")
        w.writerow(row)
    return out.getvalue().encode()


def _declaring_school(scope: staff.Scope, requested) -> str:
    if requested is not None and not isinstance(requested, str):
        raise bad("school 须为学校代码字符串", '"school" must be a string')
    school = scope.school_or_own((requested or "").strip() or None)
    if school is None:
        raise bad("请指定学校代码（school）", 'name the school the records are declared for ("school")')
    with read_session(engine()) as s:
        if s.get(School, school) is None:
            raise NotFound("没有这所学校", f"no school {school!r} in this account's scope")
    return school


def _import(data: bytes, name: str, school: str) -> ImportResult:
    """The import reads paths (and names the file in its log): the body goes
    to a private temporary folder, then away. A damaged or oversized file is
    the reader's ImportRefused, naming the problem (tests/test_import_fuzz.py
    holds it to that), so anything else here is a fault of ours: a 500."""
    with tempfile.TemporaryDirectory(prefix="ecert-api-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        with write_session(engine()) as s:
            return import_records(s, path, school=school)


def _refused(e: ImportRefused, *, json_rows: bool):
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
    return _error(400, message, detail, rows=errors, total=e.total, omitted=e.omitted)


def _result_json(r: ImportResult, school: str) -> dict:
    return {
        "school": school,
        "status": "declared",
        "rows": r.rows,
        "created": r.created,
        "updated": r.updated,
        "unchanged": r.unchanged,
        "changes": r.changes[:1000],
    }


# -- the review queue -----------------------------------------------------------


@bp.get("/records")
def list_records():
    scope = g.api_scope
    if not (scope.can("review") or scope.can("declare")):
        raise NotFound("没有此功能", "not found")
    status = request.args.get("status", "declared")
    if status not in (*review.STATUS_LABELS, "all"):
        raise bad(
            "status 须为 declared、recognised、rejected 或 all",
            "status must be declared, recognised, rejected or all",
        )
    limit, offset = _int_arg("limit", 200, 1, PAGE_MAX), _int_arg("offset", 0, 0, 10**9)
    school = request.args.get("school", "").strip() or None
    with read_session(engine()) as s:
        if school and s.get(School, school) is None:
            raise NotFound("没有这所学校", f"no school {school!r} in this account's scope")
        rows = review.records(
            s,
            profile(),
            scope,
            school=school,
            status=None if status == "all" else status,
            limit=limit,
            offset=offset,
        )
        pending = review.pending_by_school(s, scope)
    return jsonify(
        {
            "status": status,
            "school": scope.school_or_own(school),
            "limit": limit,
            "offset": offset,
            "records": [_row_json(r) for r in rows],
            "pending": [{"school_code": c, "school": n, "declared": k} for c, n, k in pending],
        }
    )


def _row_json(r: review.ReviewRow) -> dict:
    c = r.credit
    return {
        "id": r.id,
        "teacher": r.teacher,
        "id_masked": r.id_masked,
        "school_code": r.school_code,
        "school": r.school,
        "project_code": r.project_code,
        "project": r.project,
        "completed_on": r.completed_on.isoformat(),
        "grade": r.grade,
        "role": r.role,
        "status": r.status,
        "reject_reason": r.reject_reason,
        "credits": {
            "basic": amount(c.basic),
            "reward": amount(c.reward),
            "credits": amount(c.credits),
            "bucket": c.bucket,
            "why": c.why,
        },
    }


@bp.post("/records/recognise")
def recognise_records():
    scope = _scope("review")
    ids = _ids(_json_object())
    with write_session(engine()) as s:
        n = review.recognise(s, scope, ids)
    return jsonify({"status": "recognised", "count": n})


@bp.post("/records/reject")
def reject_records():
    scope = _scope("review")
    body = _json_object()
    ids, reason = _ids(body), _reason(body)
    with write_session(engine()) as s:
        n = review.reject(s, scope, ids, reason)
    return jsonify({"status": "rejected", "count": n})


@bp.post("/schools/<code>/recognise")
def recognise_school(code: str):
    scope = _scope("review")
    with write_session(engine()) as s:
        n = review.recognise_school(s, scope, code[:32])
    return jsonify({"status": "recognised", "school": code, "count": n})


# -- queries --------------------------------------------------------------------


def _holder_not_found() -> NotFound:
    return NotFound("查无此教师", "no teacher registered under this number in this account's scope")


@bp.get("/teachers/<number>/sheet")
def teacher_sheet(number: str):
    scope = _scope("query")
    compact = _compact(number)
    as_of = request.args.get("as_of", "").strip()
    try:
        day = date.fromisoformat(as_of) if as_of else today_in_china()
    except ValueError:
        raise bad("as_of 须为 YYYY-MM-DD 日期", "as_of must be YYYY-MM-DD") from None
    if day > today_in_china():  # as the CLI's --as-of: no credit from the future
        raise bad(
            f"as_of {day} 晚于今天（{today_in_china()}，北京时间）",
            f"as_of {day} is after today (China time)",
        )
    p = profile()
    with read_session(engine()) as s:
        try:
            holder = find_holder(s, compact, p)
        except NotFound:
            raise _holder_not_found() from None
        if not scope.sees_school(holder.school_code):
            raise _holder_not_found()
        sheet = sheet_for(s, holder, p, day)
    return jsonify(sheet.to_json_dict())


def _certificate_not_found() -> NotFound:
    return NotFound("查无此证书", "no certificate with this number in this account's scope")


def _certificate_in_scope(s, scope: staff.Scope, compact: str) -> None:
    school = s.scalar(
        select(Teacher.school_code)
        .join(Registration, Registration.teacher_id == Teacher.id)
        .where(Registration.number == compact)
    )
    if school is None or not scope.sees_school(school):
        raise _certificate_not_found()


@bp.get("/certificates/<number>")
def certificate(number: str):
    """The current (or newest) version, as `ecert show --json --history`."""
    scope = _scope("query")
    compact = _compact(number)
    with read_session(engine()) as s:
        _certificate_in_scope(s, scope, compact)
        try:
            versions = register.history(s, compact)
        except NotFound:
            raise _certificate_not_found() from None
    cert = next((v for v in versions if v.state == "current"), versions[-1])
    data = register.show_json(cert, settings().base_url)
    data["history"] = [
        {
            "version": v.version,
            "state": v.state,
            "issued_at": v.issued_at.isoformat(),
            "changed_at": v.changed_at.isoformat() if v.changed_at else None,
            "reason": v.revoke_reason,
        }
        for v in versions
    ]
    return jsonify(data)


@bp.post("/certificates/<number>/revoke")
def revoke_certificate(number: str):
    scope = _scope("revoke")
    compact = _compact(number)
    reason = _reason(_json_object())
    with write_session(engine()) as s:
        _certificate_in_scope(s, scope, compact)
        try:
            done = register.revoke(s, compact, reason, scope.actor)
        except NotFound:
            raise _certificate_not_found() from None
        except InputRefused as e:  # the reason and number were checked: no current version is left
            raise ApiError(409, e.message, e.detail) from None
    return jsonify({"number": done.number, "version": done.version, "status": "revoked", "reason": reason})


@bp.get("/teachers")
def teachers():
    """A school's (or, for the bureau's staff without `school`, the
    region's) teachers with their buckets and verdicts; `short` keeps those
    short of a bucket ("any": everyone not qualified)."""
    scope = _scope("query")
    limit, offset = _int_arg("limit", 200, 1, PAGE_MAX), _int_arg("offset", 0, 0, 10**9)
    school = request.args.get("school", "").strip()[:32] or None
    short = request.args.get("short", "").strip()[:32] or None
    p = profile()
    with read_session(engine()) as s:
        stream = queries.school_rows(s, p, scope, school=school, short=short, as_of=today_in_china())
        rows = list(islice(stream, offset, offset + limit + 1))
    return jsonify(
        {
            "school": scope.school_or_own(school),
            "short": short,
            "limit": limit,
            "offset": offset,
            "more": len(rows) > limit,
            "teachers": [_teacher_json(r) for r in rows[:limit]],
        }
    )


def _teacher_json(r: queries.TeacherRow) -> dict:
    return {
        "number": r.number,
        "printed_number": r.printed_number,
        "name": r.name,
        "id_masked": r.id_masked,
        "school_code": r.school_code,
        "school": r.school_name,
        "buckets": {b: amount(r.buckets[b]) for b in BUCKETS},
        "qualified": r.qualified,
        "unmet": list(r.unmet),
        "certificate": None if r.cert_version is None else {"version": r.cert_version, "state": r.cert_state},
    }


# -- background jobs -------------------------------------------------------------


@bp.post("/jobs")
def start_job():
    """Queue an issuance or rendering for the region or one school; the
    work runs in the background (issuer/jobs.py, issuer/tasks.py)."""
    scope = _scope("issue")
    body = _json_object()
    kind, school = body.get("kind"), body.get("school")
    if not isinstance(kind, str) or kind not in jobs_lib.KINDS:
        raise bad(
            f"kind 须为 {'、'.join(jobs_lib.KINDS)} 之一", f"kind must be one of {', '.join(jobs_lib.KINDS)}"
        )
    if school is not None and not isinstance(school, str):
        raise bad("school 须为学校代码字符串", '"school" must be a string')
    job_id = jobs_lib.start(
        engine(), settings(), scope, kind, (school or "").strip()[:32] or None, tasks.enqueue
    )
    resp = jsonify(_job(scope, job_id))
    resp.status_code = 202
    resp.headers["Location"] = f"{PREFIX}/jobs/{job_id}"
    return resp


@bp.get("/jobs")
def list_jobs():
    scope = _scope("issue")
    limit = _int_arg("limit", 50, 1, 200)
    with read_session(engine()) as s:
        rows = [_job_json(j) for j in jobs_lib.recent(s, scope, limit)]
    return jsonify({"jobs": rows})


@bp.get("/jobs/<int:job_id>")
def job(job_id: int):
    scope = _scope("issue")
    if job_id > MAX_ID:
        raise NotFound("没有这个任务", f"no job {job_id} in this account's scope")
    return jsonify(_job(scope, job_id))


def _job(scope: staff.Scope, job_id: int) -> dict:
    with read_session(engine()) as s:
        return _job_json(jobs_lib.get(s, scope, job_id))


def _job_json(job) -> dict:
    info = jobs_lib.describe(job)
    info.pop("reasons", None)  # the listed (number, reason) pairs say it all
    return info


@bp.get("/audit/verify")
def audit_verify():
    _scope("audit")
    with read_session(engine()) as s:
        report = audit.verify_chain(s)
    return jsonify({"ok": report.ok, "entries": report.entries, "problem": report.problem or None})


@bp.get("/openapi.json")
def openapi():
    from .office_openapi import OPENAPI

    return jsonify(OPENAPI)
