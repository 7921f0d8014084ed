"""A committee's spreadsheet of applicants, read into batch items, and the
batch's table written back as XLSX.

Reading: a CSV (UTF-8 with or without BOM, or GB18030 as Excel saves
"CSV" in Chinese) or an XLSX (the first worksheet), whose first row that
holds anything is the header: columns 证书编号 and 查验码, or one column of
verification URLs or tokens (查验网址, URL, token…), or both (a row with a
URL uses it). A sheet without a header whose first row holds a
verification URL is read as a column of them. Full-width digits and
letters and spaces inside a value are read as a person typed them. Rows
with nothing in them are skipped; a row with something, but no URL and no
number, is an item that fails, named by its row.

Everything is bounded, before it is read: the file's size, what an XLSX
unpacks to and its parts (a zip bomb is refused on its directory, which
bounds what zipfile will unpack), the columns read, a cell's length and
MAX_ITEMS rows of data. Whatever the bytes, the outcome is items or
SheetRefused, never a traceback.

Writing: every text cell is a string cell, never a formula, and one that
begins as a formula would (= + - @) is also marked quote-prefixed, so
Excel keeps it text when edited.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from verifier.batch import MAX_ITEMS, MAX_TEXT, MAX_TYPED, Item, Row

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

MB = 1024 * 1024
MAX_SHEET_BYTES = 2 * MB  # a 500-row sheet of verification URLs is about 250 KB
MAX_UNPACKED = 16 * MB  # about 30 times a 500-row sheet of verification URLs
MAX_PARTS = 200
MAX_COLUMNS = 32
XLSX_MAGIC, XLS_MAGIC = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"

# Headers, folded (see _fold); English aliases too.
HEADERS = {
    "number": ("证书编号", "编号", "number", "certificatenumber", "certificateno", "certno"),
    "code": ("查验码", "验证码", "code", "checkcode", "verificationcode"),
    "url": (
        "查验网址",
        "查验链接",
        "证书网址",
        "证书链接",
        "网址",
        "链接",
        "二维码",
        "二维码内容",
        "url",
        "link",
        "token",
        "verificationurl",
    ),
}
_HEADER_OF = {alias: key for key, aliases in HEADERS.items() for alias in aliases}
_NOTE = re.compile(r"[(（【\[].*?[)）】\]]")
_SPACE = re.compile(r"\s+")
_URL_HINT = re.compile(r"/V/[A-Z2-7]{16,}", re.IGNORECASE)


class SheetRefused(ValueError):
    """A file that cannot be read as a sheet of applicants at all."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail  # Chinese for the committee, English detail


def _fold(header: str) -> str:
    """A header as matched: NFKC, a bracketed note dropped, lower case,
    no spaces, underscores or dashes."""
    text = _NOTE.sub("", unicodedata.normalize("NFKC", header))
    return re.sub(r"[\s_\-]+", "", text).lower()


def _text(value: object) -> str:
    """A cell as text: a whole number without ".0" (a number typed into a
    cell Excel took for one), dates as YYYY-MM-DD."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_sheet(data: bytes, name: str) -> list[tuple[str, Item]]:
    """The items of a committee's sheet, each with the row it came from
    ("第 3 行"), in order; SheetRefused for a file that is no such sheet."""
    if len(data) > MAX_SHEET_BYTES:
        raise SheetRefused(
            f"表格文件过大（上限 {MAX_SHEET_BYTES // MB} MB）",
            f"{name}: larger than {MAX_SHEET_BYTES // MB} MB",
        )
    if data.startswith(XLS_MAGIC):
        raise SheetRefused(
            "不支持旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV 后再上传", f"{name}: legacy .xls is not read"
        )
    table = _xlsx_rows(data, name) if data.startswith(XLSX_MAGIC) else _csv_rows(data, name)
    return list(_items(table, name))


def _items(table: Iterator[tuple[int, list[str]]], name: str) -> Iterator[tuple[str, Item]]:
    columns: dict[str, int] | None = None
    count = 0
    for row_no, cells in table:
        if not any(cells):
            continue
        if columns is None:
            columns, is_header = _header(cells, name)
            if is_header:
                continue
        count += 1
        if count > MAX_ITEMS:
            raise SheetRefused(
                f"表格超过 {MAX_ITEMS} 行：请分成几个文件查验", f"{name}: more than {MAX_ITEMS} rows of data"
            )
        yield f"第 {row_no} 行", _row_item(cells, columns, row_no)
    if columns is None:
        raise SheetRefused("表格是空的", f"{name}: no rows")


def _header(cells: list[str], name: str) -> tuple[dict[str, int], bool]:
    """Which column holds what, from the header row, and True; or, for a
    first row holding a verification URL, that column and False (a sheet
    without a header: the row is data)."""
    found: dict[str, int] = {}
    for i, cell in enumerate(cells):
        key = _HEADER_OF.get(_fold(cell))
        if key is not None and key not in found:
            found[key] = i
    if "url" in found or {"number", "code"} <= found.keys():
        return found, True
    hint = next((i for i, cell in enumerate(cells) if _URL_HINT.search(cell)), None)
    if hint is not None and not found:
        return {"url": hint}, False
    if "number" in found:
        raise SheetRefused(
            "表格有「证书编号」列，但没有「查验码」列：按编号查验需要证书上的查验码",
            f"{name}: a 证书编号 column without a 查验码 column",
        )
    raise SheetRefused(
        "未找到表头：第一行应有「证书编号」和「查验码」两列，或「查验网址」一列（二维码中的网址）",
        f"{name}: no header found; expected 证书编号 and 查验码 (number, code), or 查验网址 (url, token)",
    )


def _row_item(cells: list[str], columns: dict[str, int], row_no: int) -> Item:
    def cell(key: str) -> str:
        i = columns.get(key)
        return cells[i] if i is not None and i < len(cells) else ""

    url, number, code = cell("url"), cell("number"), cell("code")
    where = f"row {row_no}"
    if url:
        # NFKC: full-width letters and digits; no whitespace inside a URL or token
        return Item(text=_SPACE.sub("", unicodedata.normalize("NFKC", url))[: MAX_TEXT + 1])
    if number and code:
        if len(number) > MAX_TYPED or len(code) > MAX_TYPED:
            return Item.failed(
                f"证书编号或查验码过长（超过 {MAX_TYPED} 个字符）",
                f"{where}: number or code longer than {MAX_TYPED} characters",
            )
        return Item(number=_SPACE.sub("", number), code=code)
    if number:
        return Item.failed("该行缺少查验码", f"{where}: a number without its code")
    if code:
        return Item.failed("该行缺少证书编号", f"{where}: a code without a number")
    return Item.failed(
        "该行不是证书：没有查验网址，也没有证书编号和查验码",
        f"{where}: neither a verification URL nor a number and code",
    )


# -- CSV ----------------------------------------------------------------------


def _csv_rows(data: bytes, name: str) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data, name)
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            if cells:  # (a blank line)
                yield reader.line_num, [c.strip()[: MAX_TEXT + 1] for c in cells[:MAX_COLUMNS]]
    except csv.Error as e:
        raise SheetRefused("CSV 文件格式有误，无法读取", f"{name}: {e}") from None


def _decode(data: bytes, name: str) -> str:
    if b"\0" in data[:4096]:
        raise SheetRefused("不是表格文件：请上传 CSV 或 XLSX", f"{name}: binary data, not CSV text")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "gb18030"):  # Excel's "CSV" in Chinese Windows is GB18030/GBK
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SheetRefused("无法识别 CSV 文件的编码：请另存为「CSV UTF-8」", f"{name}: neither UTF-8 nor GB18030")


# -- XLSX ---------------------------------------------------------------------


def _xlsx_rows(data: bytes, name: str) -> Iterator[tuple[int, list[str]]]:
    """The first worksheet's rows, read only, at most MAX_COLUMNS wide."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except Exception:  # zipfile's own errors, or a struct error from a mangled directory
        raise _damaged(name) from None
    unpacked = sum(p.file_size for p in parts)
    if len(parts) > MAX_PARTS or unpacked > MAX_UNPACKED:
        raise SheetRefused(
            f"XLSX 文件解压后过大（上限 {MAX_UNPACKED // MB} MB、{MAX_PARTS} 个部分）：请只保留数据",
            f"{name}: unpacks to {unpacked:,} bytes in {len(parts)} parts; the limit is "
            f"{MAX_UNPACKED:,} bytes and {MAX_PARTS} parts",
        )
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns of styles and extensions it does not read
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception:  # openpyxl and zipfile on untrusted bytes: any error is a damaged file
        raise _damaged(name) from None
    try:
        if not book.worksheets:
            raise SheetRefused("XLSX 文件中没有工作表", f"{name}: no worksheet")
        sheet = book.worksheets[0]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for row_no, values in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), 1):
                    if values.count(None) < len(values):  # rows padded to a declared dimension pass quickly
                        yield row_no, [_text(v)[: MAX_TEXT + 1] for v in values]
        except SheetRefused:
            raise
        except Exception:
            raise _damaged(name) from None
    finally:
        book.close()


def _damaged(name: str) -> SheetRefused:
    return SheetRefused(
        "XLSX 文件已损坏或不是 Excel 工作簿，无法读取", f"{name}: not a readable XLSX workbook"
    )


# -- writing ------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    number_format: str | None = None  # a number; text when None


COLUMNS = (
    Column("序号", 6, "0"),
    Column("来源", 22),
    Column("查验结果", 16),
    Column("结果代码", 12),
    Column("持证人", 16),
    Column("学校", 24),
    Column("证书编号", 22),
    Column("版本", 6, "0"),
    Column("有效期至", 12),
    Column("周期结论", 12),
    Column("总学分", 9, "0.00"),
    Column("尚差", 40),
    Column("原因", 48),
)


def row_values(row: Row) -> tuple[str | int | Decimal | None, ...]:
    return (
        row.index,
        row.ref,
        row.outcome_label,
        str(row.outcome),
        row.holder,
        row.school,
        row.number,
        row.version,
        row.valid_until,
        row.verdict,
        row.total,
        row.short,
        row.reason,
    )


def write_xlsx(rows: Sequence[Row], about: Sequence[tuple[str, str]]) -> bytes:
    """The batch's table as a workbook: a header row that stays in view and
    filters, one row per item; then a sheet saying what was verified when
    and where (`about`: label, value)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    book = Workbook()
    sheet = book.active
    assert isinstance(sheet, Worksheet)  # a new workbook's one sheet
    sheet.title = "核验结果"
    bold = Font(bold=True)
    for i, col in enumerate(COLUMNS, 1):
        cell = sheet.cell(1, i, col.header)
        cell.font = bold
        sheet.column_dimensions[get_column_letter(i)].width = col.width
    for r, row in enumerate(rows, 2):
        for i, (col, value) in enumerate(zip(COLUMNS, row_values(row), strict=True), 1):
            if value is None or value == "":
                continue
            if col.number_format is None:
                _text_cell(sheet, r, i, str(value))
            else:
                sheet.cell(r, i, value).number_format = col.number_format
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    info = book.create_sheet("查验信息")
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 14, 60
    for r, (label, value) in enumerate(about, 1):
        _text_cell(info, r, 1, label).font = bold
        _text_cell(info, r, 2, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _text_cell(sheet: Worksheet, row: int, column: int, text: str) -> Cell:
    """A cell that holds `text` as text: a string cell, never a formula,
    whatever it begins with; one that begins as a formula would is also
    quote-prefixed, so that Excel keeps it text when it is edited."""
    from openpyxl.cell.cell import Cell

    cell = sheet.cell(row, column)
    assert isinstance(cell, Cell)  # a cell of a worksheet being written, not a merged one
    cell.value = text
    cell.data_type = "s"
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True
    return cell
