"""A registrar declares her school's training records: a file (the
records import, whose row-level error report is shown on the page) or one
record in a form. Declared records wait for the bureau. The page offers the
file as an XLSX template: the import's own headers, one example row."""

from __future__ import annotations

import io
from datetime import date
from pathlib import PureWindowsPath

from flask import flash, g, redirect, render_template, request, send_file, url_for

from issuer.ledger.importing.reader import Source
from issuer.ledger.importing.records import COLUMNS, import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.office import review as review_lib
from verifier.vocab import GRADES, ROLES

from ...db import read_session, write_session
from ...errors import EcertError
from . import bp, engine, profile, staff_required

ALLOWED = (".csv", ".xlsx")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_NAME = "培训记录申报模板.xlsx"
# The example row: an ID number whose check character is right (so the only
# refusal it meets is "not in your roster", if left in by mistake), a
# made-up project code, the commonest grade and role, a past date.
EXAMPLE = {
    "id_number": "65400419900101123X",
    "project_code": "XM-2025-001",
    "grade": "合格",
    "role": "学员",
    "completed_on": date(2025, 6, 1),
}
HINTS = {
    "id_number": "18 位身份证号，须为本校名册中的教师；请保持文本格式，以免末位丢失",
    "project_code": "已备案培训项目的项目编号",
    "grade": "、".join(GRADES.values()),
    "role": "、".join(ROLES.values()),
    "completed_on": "YYYY-MM-DD，不得晚于今天（北京时间）",
}


@bp.route("/declare", methods=["GET", "POST"])
@staff_required("declare")
def declare():
    # an administrator declares for a school she names; a registrar for hers alone
    school = g.scope.school_or_own(request.values.get("school", "").strip() or None)
    report, uploaded, status = None, None, 200
    if request.method == "POST" and "file" in request.files:
        upload = request.files["file"]
        uploaded = upload_name(upload.filename)
        try:
            result = _import_upload(upload, uploaded, school)
            flash(f"已申报：{result.summary()}，等待教育局认定")  # the summary begins with the name
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
    mine = []
    if report is None:  # with an error report, the report alone: the list is a link away
        with read_session(engine()) as s:
            mine = review_lib.records(s, profile(), g.scope, school=school, status=None, limit=200)
    return render_template(
        "office/declare.html",
        report=report,
        uploaded=uploaded,
        mine=mine,
        school=school,
        status_labels=review_lib.STATUS_LABELS,
        form=request.form,
    ), status


def upload_name(filename: str | None) -> str:
    """The uploaded file's own name, as the person's computer called it: the
    last part of the path some browsers send whole (C:\\…\\记录.xlsx), cut to
    what the import log keeps."""
    name = PureWindowsPath(filename or "").name.strip()  # splits on \\ and / alike
    return name[:100] or "upload.csv"


def _import_upload(upload, name: str, school: str | None):
    """The upload, read in memory (the app bounds a request's size), under its
    own name in the report."""
    if PureWindowsPath(name).suffix.lower() not in ALLOWED:
        raise EcertError(
            f"只接受 CSV 或 XLSX 文件（收到 {name}）",
            "only .csv or .xlsx files are accepted",
        )
    if school is None:
        raise EcertError("请先选择学校", "choose the school the records are declared for")
    with write_session(engine()) as s:
        return import_records(s, Source(name, upload.read()), school=school)


@bp.get("/declare/template.xlsx")
@staff_required("declare")
def declare_template():
    # the same for every school, but a school named outside the account's scope is
    # "not found" here as on every office page that takes one
    g.scope.school_or_own(request.args.get("school", "").strip() or None)
    out = io.BytesIO(template_xlsx())
    response = send_file(out, mimetype=XLSX, as_attachment=True, download_name=TEMPLATE_NAME)
    response.headers["Cache-Control"] = "no-store"
    return response


def template_xlsx() -> bytes:
    """The declaration file to fill in: the import's headers (bold, on a
    tinted row that stays in view), one example row, the ID number and code
    columns formatted as text so Excel keeps every digit of what is typed,
    drop-down lists for grade and role; a second sheet says what each column
    takes (the import reads the first sheet only)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "培训记录"
    header_font, header_fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="8B0000")
    widths = {"id_number": 24, "project_code": 18, "grade": 12, "role": 10, "completed_on": 14}
    choices = {"grade": list(GRADES.values()), "role": list(ROLES.values())}
    last_row = 1000  # how far the drop-downs reach
    for i, col in enumerate(COLUMNS, 1):
        letter = get_column_letter(i)
        cell = ws.cell(row=1, column=i, value=col.zh)
        cell.font, cell.fill, cell.alignment = header_font, header_fill, Alignment(horizontal="center")
        ws.column_dimensions[letter].width = widths.get(col.key, 14)
        example = ws.cell(row=2, column=i, value=EXAMPLE[col.key])
        if col.key == "completed_on":
            example.number_format = "yyyy-mm-dd"
        elif col.key in ("id_number", "project_code"):
            ws.column_dimensions[letter].number_format = "@"  # what is typed stays text
            example.number_format = "@"
        if col.key in choices:
            dv = DataValidation(
                type="list", formula1='"' + ",".join(choices[col.key]) + '"', allow_blank=True
            )
            dv.error, dv.errorTitle = f"请从列表中选择{col.zh}", col.zh
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{last_row}")
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    notes.append(["列", "填写要求"])
    for cell in notes[1]:
        cell.font, cell.fill = header_font, header_fill
    for col in COLUMNS:
        notes.append([col.zh, HINTS.get(col.key, "")])
    notes.append([])
    notes.append(["", "第 2 行是示例，上传前请删除或改为真实记录；每行一条记录，同一教师同一项目只填一行。"])
    notes.append(["", "可另存为 CSV（UTF-8）上传；有任何一行错误时整个文件不会写入，页面列出每处错误。"])
    notes.column_dimensions["A"].width, notes.column_dimensions["B"].width = 14, 80
    notes.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
