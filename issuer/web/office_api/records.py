"""Declaring records (JSON, CSV or XLSX) and the review queue."""

from __future__ import annotations

from pathlib import Path

from flask import g, jsonify, request

from issuer.db import read_session, write_session
from issuer.errors import NotFound
from issuer.ledger.credits.sheet import amount
from issuer.ledger.importing.reader import Source
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused, ImportResult
from issuer.models import School
from issuer.office import review, staff
from issuer.web.context import engine, profile
from issuer.web.office_api import SPREADSHEETS, bp
from issuer.web.office_api.auth import scope_for
from issuer.web.office_api.bodies import (
    PAGE_MAX,
    int_arg,
    json_body,
    json_object,
    reason_in,
    record_ids,
)
from issuer.web.office_api.errors import bad, refused_response

FILE_SUFFIXES = (".csv", ".xlsx")
RECORD_FIELDS = ("id_number", "project_code", "grade", "role", "completed_on")  # docs/formats.md's aliases


@bp.post("/records")
def declare_records():
    """A school's declaration: a JSON list of records, a CSV/XLSX file
    (multipart field `file`, or the raw body), one transaction."""
    scope = scope_for("declare")
    ctype = request.mimetype
    if ctype == "application/json":
        body = json_body()
        requested = request.args.get("school")
        if isinstance(body, dict):
            requested = body.get("school", requested)
            body = body.get("records")
        if not isinstance(body, list):
            raise bad(
                '请求体须为记录列表，或 {"school": …, "records": [...]}',
                'the body must be a list of records or {"school": ..., "records": [...]}',
            )
        rows = _records_table(body)
        school = _declaring_school(scope, requested)
        try:
            result = _import(rows, school)
        except ImportRefused as e:
            return refused_response(e, json_rows=True)
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
        result = _import(Source(Path(name).name[:100], data), school)
    elif ctype in SPREADSHEETS:
        school = _declaring_school(scope, request.args.get("school"))
        result = _import(Source("upload" + SPREADSHEETS[ctype], request.get_data()), school)
    else:
        raise bad(
            "不支持的内容类型：请用 application/json、multipart/form-data、text/csv 或 XLSX",
            f"unsupported Content-Type {ctype or '(none)'}",
        )
    return jsonify(_result_json(result, school))


def _records_table(items: list) -> Source:
    """The JSON records as the table a school's file would give, so they go
    through exactly the file's checks; row n of the table is item n - 2."""
    if not items:
        raise bad("记录列表为空", "the list of records is empty")
    rows = []
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
        rows.append(row)
    return Source.from_rows("records.json", RECORD_FIELDS, rows)


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


def _import(source: Source, school: str) -> ImportResult:
    """A damaged or oversized file is the reader's ImportRefused, naming the
    problem (tests/test_import_fuzz.py holds it to that), so anything else
    here is a fault of ours: a 500."""
    with write_session(engine()) as s:
        return import_records(s, source, school=school)


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
    limit, offset = int_arg("limit", 200, 1, PAGE_MAX), int_arg("offset", 0, 0, 10**9)
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
    scope = scope_for("review")
    ids = record_ids(json_object())
    with write_session(engine()) as s:
        n = review.recognise(s, scope, ids)
    return jsonify({"status": "recognised", "count": n})


@bp.post("/records/reject")
def reject_records():
    scope = scope_for("review")
    body = json_object()
    ids, reason = record_ids(body), reason_in(body)
    with write_session(engine()) as s:
        n = review.reject(s, scope, ids, reason)
    return jsonify({"status": "rejected", "count": n})


@bp.post("/schools/<code>/recognise")
def recognise_school(code: str):
    scope = scope_for("review")
    with write_session(engine()) as s:
        n = review.recognise_school(s, scope, code[:32])
    return jsonify({"status": "recognised", "school": code, "count": n})
