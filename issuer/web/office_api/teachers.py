"""A teacher's credit sheet and a school's (or the region's) teacher table."""

from __future__ import annotations

from datetime import date

from flask import jsonify, request

from issuer.db import read_session
from issuer.errors import NotFound
from issuer.ledger.credits.ledger import find_holder, sheet_for
from issuer.ledger.credits.sheet import amount
from issuer.office import queries
from issuer.web.context import engine, profile
from issuer.web.office_api import bp
from issuer.web.office_api.auth import scope_for
from issuer.web.office_api.bodies import (
    PAGE_MAX,
    compact_number,
    int_arg,
)
from issuer.web.office_api.errors import bad
from verifier.clock import today_in_china
from verifier.vocab import BUCKETS


def _holder_not_found() -> NotFound:
    return NotFound("查无此教师", "no teacher registered under this number in this account's scope")


@bp.get("/teachers/<number>/sheet")
def teacher_sheet(number: str):
    scope = scope_for("query")
    compact = compact_number(number)
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


@bp.get("/teachers")
def teachers():
    """A school's (or, for the bureau's staff without `school`, the
    region's) teachers with their buckets and verdicts; `short` keeps those
    short of a bucket ("any": everyone not qualified)."""
    scope = scope_for("query")
    limit, offset = int_arg("limit", 200, 1, PAGE_MAX), int_arg("offset", 0, 0, 10**9)
    school = request.args.get("school", "").strip()[:32] or None
    short = request.args.get("short", "").strip()[:32] or None
    p = profile()
    with read_session(engine()) as s:
        # one page's sheets, or the kept rows for a filter (issuer/office/summaries.py)
        rows, more = queries.school_page(
            s, p, scope, school=school, short=short, as_of=today_in_china(), offset=offset, limit=limit
        )
    return jsonify(
        {
            "school": scope.school_or_own(school),
            "short": short,
            "limit": limit,
            "offset": offset,
            "more": more,
            "teachers": [_teacher_json(r) for r in rows],
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
