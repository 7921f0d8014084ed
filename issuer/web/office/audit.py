"""The audit log's pages (审计日志): the chain's entries as sentences, newest
first, a page at a time, filtered by who, what, which certificate and
Beijing dates; the check of the hash chain; the filtered log as CSV and
XLSX. The staff who may audit (Scope.can("audit")) see all of it.

Every query is bounded: a page reads its 100 entries and names them in a
few lookups; an export reads 500 at a time, each chunk in a session of its
own, up to the last entry there was when it started."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from issuer.certificates import audit as audit_lib
from issuer.ledger.importing import safe_csv
from issuer.office import audit_log as log_lib
from verifier.clock import today_in_china
from verifier.numbers import NumberFormatError

from ...db import read_session
from . import NAV, bp, engine, page_arg, staff_required

PAGE = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_MAX_ROWS = 1_048_575  # Excel's rows, less the header
XLSX_MAX_CELL = 32_767  # Excel's characters in a cell: a whole school's decision lists more ids
SPOOL = 8 * 1024 * 1024
WIDTHS = (8, 18, 14, 18, 12, 70, 10, 24, 20, 40, 20)
FILTER_KEYS = ("actor", "action", "number", "since", "until")

NAV.append(("office.audit_log", "审计日志", "audit"))


def read_filter(args: MultiDict[str, str]) -> tuple[log_lib.AuditFilter, list[str]]:
    """The filter in the query string, and what is wrong with it (in
    Chinese, for the page). A value no form offers (an unknown action) is a
    bad request."""
    problems: list[str] = []
    actor = args.get("actor", "").strip()[:100] or None
    action = args.get("action", "").strip() or None
    if action is not None and action not in log_lib.ACTIONS:
        abort(400)
    number = None
    number_text = args.get("number", "").strip()[:40]
    if number_text:
        try:
            number = log_lib.parse_number(number_text)
        except NumberFormatError:
            problems.append(f"证书编号 {number_text} 格式不正确：应为 16 位，如 654004-07-1-000123-6")
    since = _date(args, "since", "起始日期", problems)
    until = _date(args, "until", "截止日期", problems)
    if since and until and since > until:
        problems.append(f"起始日期 {since} 晚于截止日期 {until}")
    return log_lib.AuditFilter(actor, action, number, since, until), problems


def _date(args: MultiDict[str, str], key: str, label: str, problems: list[str]) -> date | None:
    text = args.get(key, "").strip()[:20]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        problems.append(f"{label} {text} 不是有效日期（应为 YYYY-MM-DD）")
        return None


def _filter_args() -> dict[str, str]:
    """The query string's filter as given, for the pager's and the exports' links."""
    return {k: v for k in FILTER_KEYS if (v := request.args.get(k, "").strip())}


@bp.get("/audit")
@staff_required("audit")
def audit_log() -> ResponseReturnValue:
    return _page(None)


@bp.post("/audit/verify")
@staff_required("audit")
def audit_verify() -> ResponseReturnValue:
    with read_session(engine()) as s:
        report = audit_lib.verify_chain(s)
    return _page(report)


def _page(report: audit_lib.ChainReport | None) -> ResponseReturnValue:
    flt, problems = read_filter(request.args)
    page = page_arg()
    lines: list[log_lib.Line] = []
    total = 0
    with read_session(engine()) as s:
        actors = log_lib.actor_options(s)
        everything = log_lib.count(s, log_lib.AuditFilter())
        if not problems:
            total = log_lib.count(s, flt)
            lines = log_lib.page(s, flt, PAGE, page * PAGE)
    return render_template(
        "office/audit.html",
        lines=lines,
        total=total,
        everything=everything,
        page=page,
        page_size=PAGE,
        report=report,
        flt=flt,
        problems=problems,
        args=_filter_args(),
        actors=actors,
        actions=log_lib.ACTIONS,
        filtered=bool(_filter_args()),
    ), (400 if problems else 200)


# -- exports ---------------------------------------------------------------------


def _export_or_back() -> tuple[log_lib.AuditFilter | None, int, ResponseReturnValue | None]:
    """The filter and the last entry an export includes; a filter with a
    problem sends the person back to the page, which says what it is."""
    flt, problems = read_filter(request.args)
    if problems:
        return None, 0, redirect(url_for("office.audit_log", **_filter_args()))
    with read_session(engine()) as s:
        upto = log_lib.last_seq(s)
    return flt, upto, None


def _export_name(ext: str) -> str:
    return f"audit-log-{today_in_china():%Y%m%d}.{ext}"


def _all_lines(flt: log_lib.AuditFilter, upto: int) -> Iterator[log_lib.Line]:
    return log_lib.lines(lambda: read_session(engine()), flt, upto)


@bp.get("/audit.csv")
@staff_required("audit")
def audit_csv() -> ResponseReturnValue:
    """UTF-8 with a BOM (Excel then reads the Chinese), oldest first, every
    cell through safe_csv: a reason or a note typed as "=…" is text, never a
    formula. Streamed: the log may be long."""
    flt, upto, back = _export_or_back()
    if back is not None:
        return back
    assert flt is not None

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = safe_csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(log_lib.EXPORT_HEADER)
        for n, line in enumerate(_all_lines(flt, upto), 1):
            writer.writerow(log_lib.export_row(line))  # the time as str(): YYYY-MM-DD HH:MM:SS
            if n % 500 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(rows()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f"attachment; filename={_export_name('csv')}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/audit.xlsx")
@staff_required("audit")
def audit_xlsx() -> ResponseReturnValue:
    """The header bold on a tinted row that stays in view, a filter on every
    column; times in Beijing time, as Excel dates."""
    flt, upto, back = _export_or_back()
    if back is not None:
        return back
    assert flt is not None
    with read_session(engine()) as s:
        n = log_lib.count(s, flt)
    if n > XLSX_MAX_ROWS:
        flash(f"筛选结果有 {n} 条，超过 Excel 一张工作表的行数上限：请缩小日期范围，或导出 CSV")
        return redirect(url_for("office.audit_log", **_filter_args()))
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115  (send_file closes it)
    write_xlsx(out, _all_lines(flt, upto))
    out.seek(0)
    response = send_file(out, mimetype=XLSX, as_attachment=True, download_name=_export_name("xlsx"))
    response.headers["Cache-Control"] = "no-store"
    return response


def write_xlsx(target: IO[bytes], lines: Iterator[log_lib.Line]) -> int:
    """openpyxl's write-only mode: rows are written as they come, memory stays flat."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("审计日志")
    for i, width in enumerate(WIDTHS, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"  # before the first row: write-only sheets write their view first
    font, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="8B0000")
    header = []
    for title in log_lib.EXPORT_HEADER:
        cell = WriteOnlyCell(ws, title)
        cell.font, cell.fill = font, fill
        header.append(cell)
    ws.append(header)
    n = 0
    for line in lines:
        row = []
        for value in log_lib.export_row(line):
            if isinstance(value, str):
                if len(value) > XLSX_MAX_CELL:  # Excel would call the file damaged; the CSV has it whole
                    value = value[: XLSX_MAX_CELL - 1] + "…"
                cell = WriteOnlyCell(ws, value)
                cell.data_type = "s"  # text stays text: "=…" is never a formula
            elif isinstance(value, datetime):
                cell = WriteOnlyCell(ws, value)
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            else:
                cell = WriteOnlyCell(ws, value)
            row.append(cell)
        ws.append(row)
        n += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(log_lib.EXPORT_HEADER))}{n + 1}"
    wb.save(target)
    return n
