"""A registrar declares her school's training records: a file (the
records import, whose row-level error report is shown on the page) or one
record in a form. Declared records wait for the bureau."""

from __future__ import annotations

from pathlib import Path

from flask import flash, g, redirect, render_template, request, url_for

from issuer.ledger.importing.reader import Source
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.office import review as review_lib

from ...db import read_session, write_session
from ...errors import EcertError
from . import bp, engine, profile, staff_required

ALLOWED = (".csv", ".xlsx")


@bp.route("/declare", methods=["GET", "POST"])
@staff_required("declare")
def declare():
    # an administrator declares for a school she names; a registrar for hers alone
    school = g.scope.school_or_own(request.values.get("school", "").strip() or None)
    report, result, status = None, None, 200
    if request.method == "POST" and "file" in request.files:
        try:
            result = _import_upload(request.files["file"], school)
            flash(f"已申报：{result.summary()}，等待教育局认定")
        except ImportRefused as e:
            report, status = e, 400
        except EcertError as e:
            flash(e.message)
            status = 400
    elif request.method == "POST":
        try:
            with write_session(engine()) as s:
                review_lib.declare_one(s, g.scope, request.form)
            flash("已申报 1 条记录，等待教育局认定")
            return redirect(url_for("office.declare"))
        except EcertError as e:
            flash(e.message)
            status = 400
    with read_session(engine()) as s:
        mine = review_lib.records(s, profile(), g.scope, school=school, status=None, limit=200)
    return render_template(
        "office/declare.html",
        report=report,
        result=result,
        mine=mine,
        school=school,
        status_labels=review_lib.STATUS_LABELS,
        form=request.form,
    ), status


def _import_upload(upload, school: str | None):
    """The upload, read in memory (the app bounds a request's size), under its
    own name in the report."""
    name = Path(upload.filename or "").name[:100] or "upload.csv"
    if Path(name).suffix.lower() not in ALLOWED:
        raise EcertError(
            f"只接受 CSV 或 XLSX 文件（收到 {upload.filename or '空文件名'}）",
            "only .csv or .xlsx files are accepted",
        )
    if school is None:
        raise EcertError("请先选择学校", "choose the school the records are declared for")
    with write_session(engine()) as s:
        return import_records(s, Source(name, upload.read()), school=school)
