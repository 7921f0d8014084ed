"""Queries (查询): a school's table of teachers, filterable by what they are
short of; one teacher's credit sheet and certificate versions; both as
XLSX. A registrar sees her own school only: another school, or a teacher
of it, is a 404."""

from __future__ import annotations

import functools
import tempfile

from flask import g, redirect, render_template, request, send_file, url_for

from issuer.ledger.credits.sheet import amount
from issuer.models import School
from issuer.office import queries as q
from verifier.clock import CHINA, as_utc, now_utc, today_in_china
from verifier.vocab import BUCKETS, CERT_STATE_LABELS, VERDICT_LABELS

from ...db import read_session
from . import NAV, bp, engine, page_arg, profile, staff_required

PAGE = 100
PAGE_BUCKETS = ("prefecture", "county", "digital", "required", "elective", "school_based", "total")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SPOOL = 8 * 1024 * 1024

NAV.append(("office.teachers", "查询", "query"))


@bp.app_template_filter("china_time")
def china_time(t) -> str:
    """A stored (UTC) moment as Beijing time, to the minute."""
    return as_utc(t).astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if t else ""


ALL = "all"  # the region's staff asking for every school at once


def _filters() -> tuple[str | None, str | None]:
    return (
        request.args.get("school", "").strip()[:32] or None,
        request.args.get("short", "").strip()[:32] or None,
    )


def _bound(school: str | None) -> str | None:
    """The school to query: "all" means the whole region to the region's
    staff, and to a registrar it is just another school that is not hers."""
    return None if school == ALL and g.scope.school_code is None else school


@bp.get("/teachers")
@staff_required("query")
def teachers():
    school, short = _filters()
    page = page_arg()
    prof = profile()
    rows, more = None, False
    with read_session(engine()) as s:
        schools = q.schools(s, g.scope)
        if school is not None or g.scope.school_code is not None:  # the region's staff first choose a school
            rows, more = q.school_page(
                s,
                prof,
                g.scope,
                school=_bound(school),
                short=short,
                as_of=today_in_china(),
                offset=page * PAGE,
                limit=PAGE,
            )
    return _page(schools, school=school, short=short, rows=rows, more=more, page=page)


@bp.post("/search")
@staff_required("query")
def search():
    """The search box: a name, an ID number or a certificate number, in the
    account's scope (the region, or her school). Sent by POST, so that an ID
    number never stands in a URL (nor in a log or the browser's history).
    One teacher named by a whole number opens her page at once; no match
    and a match outside the scope read the same."""
    school, _ = _filters()
    with read_session(engine()) as s:
        schools = q.schools(s, g.scope)
        found = q.search(
            s, profile(), g.scope, request.form.get("q", ""), school=_bound(school), as_of=today_in_china()
        )
    if found.exact is not None:
        return redirect(url_for("office.teacher", number=found.exact.number), 303)
    return _page(schools, school=None, short=None, found=found)


def _page(schools, *, school, short, rows=None, more=False, page=0, found=None):
    return render_template(
        "office/teachers.html",
        rows=rows,
        more=more,
        page=page,
        landing=rows is None and found is None,
        found=found,
        school=g.scope.school_code or school,
        short=short,
        schools=schools,
        short_options=q.short_options(profile()),
        buckets=PAGE_BUCKETS,
        bucket_labels=profile().bucket_labels,
        amount=amount,
    )


@bp.get("/teachers.xlsx")
@staff_required("query")
def teachers_xlsx():
    """The same table with the same filters, every row; without a school,
    everything the account can see. Its first line says whose teachers,
    which, when and under which rules."""
    school, short = _filters()
    prof = profile()
    with read_session(engine()) as s:
        bound = _bound(school)
        stream = q.school_rows(s, prof, g.scope, school=bound, short=short, as_of=today_in_china())
        code = g.scope.school_code or bound
        named = s.get(School, code) if code else None
        caption = q.table_caption(prof, named and (named.code, named.name), short, now_utc())
        name = "-".join(p for p in ("teachers", g.scope.school_code or school, short) if p)
        return _xlsx(
            [q.school_table(stream, labels=prof.bucket_labels, caption=caption)],
            f"{name}-{today_in_china()}.xlsx",
        )


@bp.get("/teachers/<number>")
@staff_required("query")
def teacher(number: str):
    d = _teacher_detail(number)
    return render_template(
        "office/teacher.html",
        d=d,
        sheet=d.sheet,
        buckets=BUCKETS,
        bucket_labels=profile().bucket_labels,
        amount=amount,
        unmet_label=functools.partial(q.unmet_label, labels=profile().bucket_labels),
        state_labels=CERT_STATE_LABELS,
        verdict_labels=VERDICT_LABELS,
        year_labels=q.YEAR_STATUS_LABELS,
    )


@bp.get("/teachers/<number>.xlsx")
@staff_required("query")
def teacher_xlsx(number: str):
    d = _teacher_detail(number)
    return _xlsx(
        q.teacher_tables(d, profile().bucket_labels), f"teacher-{d.holder.number}-{today_in_china()}.xlsx"
    )


def _teacher_detail(number: str):
    """A teacher of the staff member's scope, by certificate number; 404 otherwise."""
    with read_session(engine()) as s:
        return q.teacher_detail(s, profile(), g.scope, number, as_of=today_in_china())


def _xlsx(tables, download_name: str):
    """The workbook is written to a spooled file (memory, then disk when
    large) and sent from there; personal data, so never cached."""
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115  (send_file closes it)
    q.write_xlsx(out, tables)
    out.seek(0)
    response = send_file(out, mimetype=XLSX, as_attachment=True, download_name=download_name)
    response.headers["Cache-Control"] = "no-store"
    return response
