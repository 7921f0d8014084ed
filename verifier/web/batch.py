"""The batch page for a title-review committee (`/verify/batch`): a sheet of
applicants (证书编号 + 查验码, or verification URLs) or up to MAX_PDFS
certificate PDFs at once, and the review date; one table row per item; the
table as XLSX and a printable 核验报告 (PDF) with a QR code a line.

Stateless, like the rest of the verifier: the result page carries the items
(PDFs reduced to their tokens, rows that were no certificate and PDFs whose
own signature failed as their reason) and the date in a hidden form, and
each download verifies them again. Every item counts against the client's verification budget, the one
GET /api/v1/verify counts in (verifier/web/api.py: VERIFY_BUDGET), on the
page and on each download alike. No session and no cookie, so no CSRF
token, as for the other verifier forms (the full service exempts them).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import date

from flask import Blueprint, current_app, render_template, request, send_file
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import FileStorage

from verifier.batch import MAX_ITEMS, Item, Row, item_from_json, rows, summary, token_text, verify_items
from verifier.clock import CHINA, now_utc, today_in_china
from verifier.inputs import PDF_MAGIC
from verifier.qr import base_url, qr_data_uri, verification_url
from verifier.sheets import SheetRefused, read_sheet, write_xlsx
from verifier.verdict import TONES
from verifier.verify import Result, format_failed

from . import limiter
from .api import VERIFY_BUDGET
from .common import BadDate, ClientCodeGate, asked_date, online
from .ratelimit import OverBudget, spend

bp = Blueprint("batch", __name__)
MAX_PDFS = 200
MB = 1024 * 1024
MAX_UPLOAD = 48 * MB  # 200 certificate PDFs of ~60 KB with room to spare; each file 10 MB at most
MAX_CARRIED = 2 * MB  # the result page's hidden items (500 URLs are about 250 KB)
NO_STORE = {"Cache-Control": "no-store"}  # holders' names: nobody else's copy


class Refusal(Exception):
    """The request as a whole cannot be verified; the form says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def form_page(error: str | None = None, status: int = 200, at: str = "") -> tuple[str, int]:
    return render_template(
        "verifier/batch.html",
        error=error,
        at=at or today_in_china().isoformat(),
        max_items=MAX_ITEMS,
        max_pdfs=MAX_PDFS,
        limit=VERIFY_BUDGET.items[0].amount,
    ), status


def over_budget_text(e: OverBudget) -> str:
    return (
        f"查验过于频繁：本次共 {e.asked} 项，当前还可查验 {e.left} 项，请 {e.retry_after} 秒后再试"
        f"（每个网络地址每分钟最多查验 {e.limit.amount} 项，单个与批量合计）"
    )


@bp.get("/verify/batch")
def form() -> ResponseReturnValue:
    return form_page()


@bp.post("/verify/batch")
def run() -> ResponseReturnValue:
    request.max_content_length = MAX_UPLOAD  # before anything reads the form
    try:
        at = asked_date()
        refs, items, results = _uploaded(at)
    except BadDate as e:
        return form_page(str(e), 400)
    except Refusal as e:
        return form_page(e.message, e.status, request.form.get("at", ""))
    except OverBudget as e:
        return form_page(over_budget_text(e), 429, request.form.get("at", ""))
    table = rows(refs, results)
    carried = json.dumps(
        [[ref, item.to_json()] for ref, item in zip(refs, items, strict=True)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    counts = summary(results)
    page = render_template(
        "verifier/batch.html",
        rows=table,
        counts=counts,
        at=at.isoformat(),
        carried=carried,
        tones=TONES,
        counted=COUNTED,
    )
    return page, 200, NO_STORE


def _uploaded(at: date) -> tuple[list[str], list[Item], list[Result]]:
    """The items of the uploaded sheet and PDFs, counted against the
    client's budget, and their results; PDFs are verified as uploaded and
    carried on as the tokens they hold."""
    sheet = request.files.get("sheet")
    pdfs = [f for f in request.files.getlist("pdfs") if f.filename]
    rows_in: list[tuple[str, Item]] = []
    if sheet is not None and sheet.filename:
        try:
            rows_in = read_sheet(_read(sheet), sheet.filename[:100])
        except SheetRefused as e:
            raise Refusal(f"无法读取表格「{sheet.filename[:100]}」：{e.message}") from None
    if not rows_in and not pdfs:
        raise Refusal(
            "请选择申报人名单表格（CSV 或 XLSX），或 PDF 证书"
            if sheet is None or not sheet.filename
            else "表格中没有要查验的行"
        )
    if len(pdfs) > MAX_PDFS:
        raise Refusal(f"一次最多上传 {MAX_PDFS} 份 PDF 证书，本次 {len(pdfs)} 份：请分批查验")
    if len(rows_in) + len(pdfs) > MAX_ITEMS:
        raise Refusal(f"一次最多查验 {MAX_ITEMS} 项，本次 {len(rows_in) + len(pdfs)} 项：请分批查验")
    spend(limiter, VERIFY_BUDGET, len(rows_in) + len(pdfs))
    verifier, engine = online().verifier(), online().engine
    refs = [ref for ref, _ in rows_in]
    items = [item for _, item in rows_in]
    results = verify_items(items, verifier, engine, at, ClientCodeGate())
    for f in pdfs:
        name = f.filename[:100] if f.filename else "PDF"
        data = _read(f)
        if not data.startswith(PDF_MAGIC):
            result = format_failed("不是 PDF 文件", f"{name}: not a PDF")
        else:
            result = verifier.verify_bytes(data, name, at)
        # Carried on as its token, unless the file itself failed (a page changed
        # after signing): its token alone would verify, so it goes on as its reason.
        token = token_text(result) if result.pdf_intact else None
        failure = result.first_failure or result.checks[0]
        refs.append(name)
        items.append(Item(text=token) if token else Item.failed(failure.message, failure.detail))
        results.append(result)
    return refs, items, results


def _read(f: FileStorage) -> bytes:
    try:
        return bytes(f.read())  # (FileStorage.read is untyped)
    finally:
        f.close()


def _carried() -> tuple[date, list[str], list[Item]]:
    """What a result page's hidden form carries back: the date and the items."""
    request.max_form_memory_size = MAX_CARRIED
    at = asked_date()
    try:
        data = json.loads(request.form.get("items", ""))
    except (ValueError, RecursionError):
        raise Refusal("下载所需的查验数据缺失或已损坏：请重新上传查验") from None
    if not isinstance(data, list) or not data:
        raise Refusal("下载所需的查验数据缺失或已损坏：请重新上传查验")
    if len(data) > MAX_ITEMS:
        raise Refusal(f"一次最多查验 {MAX_ITEMS} 项，本次 {len(data)} 项：请分批查验")
    refs, items = [], []
    for i, entry in enumerate(data, 1):
        if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str):
            refs.append(entry[0][:100])
            items.append(item_from_json(entry[1], f"item {i}", carried=True))
        else:
            refs.append(f"第 {i} 项")
            items.append(item_from_json(entry, f"item {i}"))
    return at, refs, items


def _verified_again() -> tuple[date, list[Row]]:
    at, refs, items = _carried()
    spend(limiter, VERIFY_BUDGET, len(items))
    results = verify_items(items, online().verifier(), online().engine, at, ClientCodeGate())
    return at, rows(refs, results)


def _download(make: str) -> ResponseReturnValue:
    try:
        at, table = _verified_again()
    except BadDate as e:
        return form_page(str(e), 400)
    except Refusal as e:
        return form_page(e.message, e.status)
    except OverBudget as e:
        return form_page(over_budget_text(e), 429)
    made = now_utc().astimezone(CHINA)
    verifier_base = _verifier_base()
    if make == "xlsx":
        about = [
            ("评审日期", at.isoformat()),
            ("生成时间", made.strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）"),
            ("查验服务", verifier_base),
            ("结果", _counts_text(table)),
        ]
        data, mimetype = (
            write_xlsx(table, about),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        data, mimetype = (
            _report_pdf(table, at, made.strftime("%Y-%m-%d %H:%M"), verifier_base),
            "application/pdf",
        )
    resp = send_file(
        io.BytesIO(data),
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"核验{'结果' if make == 'xlsx' else '报告'}-{at.isoformat()}.{make}",
    )
    resp.headers.update(NO_STORE)
    return resp


@bp.post("/verify/batch/report.xlsx")
def xlsx() -> ResponseReturnValue:
    return _download("xlsx")


@bp.post("/verify/batch/report.pdf")
def pdf() -> ResponseReturnValue:
    return _download("pdf")


def _verifier_base() -> str:
    """The base of the verification URLs: ECERT_BASE_URL, as the
    certificates' QR codes have it, else this service's own address."""
    configured = current_app.config.get("ECERT_BASE_URL")
    return base_url(configured if isinstance(configured, str) and configured else request.url_root)


# The outcomes as the result page's banner counts them.
COUNTED = {
    "valid": "真实有效",
    "superseded": "已更新",
    "revoked": "已撤销",
    "expired": "已过有效期",
    "not_valid": "无效",
}


def _counts_text(table: Sequence[Row]) -> str:
    counts = summary([r.result for r in table])
    return f"共 {len(table)} 项：" + " · ".join(f"{COUNTED[o]} {n}" for o, n in counts.items())


def _report_pdf(table: Sequence[Row], at: date, made: str, base: str) -> bytes:
    """The printable 核验报告: when and where it was made, one line per
    applicant with a QR code of the certificate's verification URL."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    lines = []
    for row in table:
        token = row.token
        url = verification_url(base, token) if token else None
        lines.append((row, qr_data_uri(url) if url else None))
    here = base_url(request.url_root)
    html = render_template(
        "verifier/report.html",
        lines=lines,
        at=at.isoformat(),
        made=made,
        base=base,
        here=here if here != base else None,
        counts=_counts_text(table),
        tones=TONES,
    )
    # the report holds data: URIs only; it fetches nothing, however a cell reads
    fetcher = URLFetcher(allowed_protocols={"data"})
    return bytes(HTML(string=html, url_fetcher=fetcher).write_pdf())
