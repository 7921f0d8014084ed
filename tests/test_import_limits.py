"""Input an import must refuse, not crash or stall (issue 14): damaged CSV
and XLSX files, spreadsheet bombs, files over the limits of
issuer/ledger/importing/limits.py, the capped error list, and formula text in the
CSV files the service writes. Each bad file is refused whole, naming the
file and the problem, from the importers, the CLI (exit code 2), the office
declare page and the office API (400), with nothing stored."""

from __future__ import annotations

import csv
import io
import re
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from issuer.db import read_session, write_session
from issuer.ledger.importing import limits
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.reader import read_table
from issuer.ledger.importing.records import COLUMNS as RECORD_COLUMNS
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster
from issuer.ledger.importing.safe_csv import excel_safe
from issuer.models import Teacher, TrainingRecord
from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    id_number,
    project_row,
    record_row,
    teacher_row,
)
from tests.helpers import SCHOOL_A, Api, csrf, signed_in
from verifier.profiles import load_profile

HORGOS = load_profile("horgos-7")
GOOD_ID = "654004198503123018"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- files, crafted ----------------------------------------------------------------


def csv_text(rows: list[list[str]], header: list[str] = RECORD_HEADER) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode()


def good_xlsx(rows: list[list] | None = None, header: list[str] = RECORD_HEADER) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(header)
    for r in rows if rows is not None else [record_row(GOOD_ID, "X-PRO")]:
        wb.active.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
    'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/>{more}</Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN_NS}" xmlns:r="http://'
    'schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" '
    'r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.'
    'org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>{more}</Relationships>',
}


def sheet_xlsx(rows_xml: str, dimension: str | None = None, shared: list[str] | None = None) -> bytes:
    """An XLSX written by hand around the sheet's rows (as Excel would, with
    shared strings if given): small however many rows it claims."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {n: c.replace("{more}", "") for n, c in _PARTS.items()}
    if shared is not None:
        parts["[Content_Types].xml"] = _PARTS["[Content_Types].xml"].replace(
            "{more}",
            (
                '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                'officedocument.spreadsheetml.sharedStrings+xml"/>'
            ),
        )
        parts["xl/_rels/workbook.xml.rels"] = _PARTS["xl/_rels/workbook.xml.rels"].replace(
            "{more}",
            (
                '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
                'sharedStrings" Target="sharedStrings.xml"/>'
            ),
        )
        parts["xl/sharedStrings.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}">'
            + "".join(f"<si><t>{s}</t></si>" for s in shared)
            + "</sst>"
        )
    parts["xl/worksheets/sheet1.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}">'
        f"{dim}<sheetData>{rows_xml}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    return out.getvalue()


def inline_row(n: int, values: list[str], first_column: str = "A") -> str:
    cells = "".join(
        f'<c r="{chr(ord(first_column) + i)}{n}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)
    )
    return f'<row r="{n}">{cells}</row>'


HEADER_ROW = inline_row(1, RECORD_HEADER)


def rezipped(data: bytes, part: str, change) -> bytes:
    """The XLSX with one part's content changed, the zip itself sound."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            z.writestr(info.filename, change(content) if info.filename == part else content)
    return out.getvalue()


def corrupt_deflate(data: bytes, part: str) -> bytes:
    """The XLSX with the deflate stream of one part made invalid: its first
    block claims the reserved block type 11, which zlib refuses outright."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(part)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    return data[:start] + b"\x07" + data[start + 1 :]


def bomb_xlsx() -> bytes:
    """1.7 KB that declare A1:CV1048576 and hold one cell in the sheet's last
    row and 100th column: openpyxl's iter_rows made a gigabyte of it."""
    return sheet_xlsx(
        HEADER_ROW + '<row r="1048576"><c r="CV1048576"><v>1</v></c></row>', dimension="A1:CV1048576"
    )


def entity_bomb_xlsx() -> bytes:
    """A billion laughs in the sheet: 30 bytes of entity, 10^9 times over."""
    entities = '<!ENTITY a0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    sheet = sheet_xlsx(HEADER_ROW + inline_row(2, [GOOD_ID, "&a9;"]))
    return rezipped(
        sheet,
        "xl/worksheets/sheet1.xml",
        lambda c: c.replace(b"<worksheet", f"<!DOCTYPE worksheet [{entities}]><worksheet".encode(), 1),
    )


def rows_xlsx(n: int) -> bytes:
    """A header and n data rows, the sheet's XML written directly (fast)."""
    row = "".join(f'<c t="inlineStr"><is><t>{v}</t></is></c>' for v in record_row(GOOD_ID, "X-PRO"))
    return sheet_xlsx(HEADER_ROW + f"<row>{row}</row>" * n)


# What each bad file is refused for: file name, bytes, and the row, column
# and words of the one error it gets (None: the whole file).
BAD_FILES = {
    "long-cell": (
        "long.csv",
        lambda: csv_text([[GOOD_ID, "X" * 200_000, "合格", "学员", "2025-06-01"]]),
        2,
        "项目编号",
        "单元格过长：200,000 字",
    ),
    "unbalanced-quote": (
        "quote.csv",
        lambda: csv_text([[GOOD_ID, '"X-PRO', "合格", "学员", "2025-06-01"], record_row(GOOD_ID, "X-ELE")]),
        2,
        "项目编号",
        "引号不配对",
    ),
    "corrupt-deflate": (
        "deflate.xlsx",
        lambda: corrupt_deflate(good_xlsx(), "xl/worksheets/sheet1.xml"),
        None,
        None,
        "xl/worksheets/sheet1.xml 的压缩数据已损坏",
    ),
    "broken-content-types": (
        "types.xlsx",
        lambda: rezipped(good_xlsx(), "[Content_Types].xml", lambda c: c[: len(c) // 2]),
        None,
        None,
        "[Content_Types].xml 的内容（XML）已损坏",
    ),
    "not-a-zip": (
        "scan.xlsx",
        lambda: b"%PDF-1.4\n" + bytes(range(256)) * 4,
        None,
        None,
        "不是有效的 .xlsx 文件：文件内容不是 Excel 工作簿（不是 zip 格式）",
    ),
    "dimension-bomb": ("bomb.xlsx", bomb_xlsx, 1048576, "第 100 列（CV）", "超出 64 列的上限"),
    "entity-bomb": (
        "laughs.xlsx",
        entity_bomb_xlsx,
        None,
        None,
        "xl/worksheets/sheet1.xml 的内容（XML）已损坏",
    ),
    "too-wide": (
        "wide.csv",
        lambda: csv_text([record_row(GOOD_ID, "X-PRO") + [""] * 60 + ["多余"]]),
        2,
        "第 66 列（BN）",
        "超出 64 列的上限",
    ),
}


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def said_of(e: ImportRefused) -> str:
    return " ".join([e.message] + [err.line() for err in e.errors])


def count(engine, model) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def roster_and_projects(engine, files):
    with write_session(engine) as s:
        import_projects(s, files.csv("p.csv", PROJECT_HEADER, [project_row("X-PRO"), project_row("X-ELE")]))
        import_roster(s, files.csv("r.csv", ROSTER_HEADER, [teacher_row(idn=GOOD_ID)]), HORGOS)


# -- the importers ---------------------------------------------------------------


@pytest.mark.parametrize("case", BAD_FILES)
def test_each_bad_file_is_refused_naming_the_file_and_the_problem_and_nothing_is_stored(
    case, engine, files, roster_and_projects
):
    name, make, row, column, reason = BAD_FILES[case]
    path = files.folder / name
    path.write_bytes(make())
    with pytest.raises(ImportRefused) as e, write_session(engine) as s:
        import_records(s, path)
    [err] = e.value.errors
    assert name in e.value.message and err.row == row and reason in err.message, said_of(e.value)
    assert column is None or err.column == column, said_of(e.value)
    assert count(engine, TrainingRecord) == 0


def test_a_cell_over_2000_characters_is_refused_even_in_a_column_not_imported(files):
    path = files.folder / "notes.csv"
    path.write_bytes(csv_text([record_row(GOOD_ID, "X-PRO") + ["备" * 2001]], RECORD_HEADER + ["备注"]))
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    [err] = e.value.errors
    assert (err.row, err.column) == (2, "备注") and "2,001 字" in err.message and len(err.value) < 50


def test_a_header_over_2000_characters_is_refused_naming_its_column(files):
    path = files.folder / "h.xlsx"
    path.write_bytes(good_xlsx(header=RECORD_HEADER + ["说明" * 1001]))
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    [err] = e.value.errors
    assert (err.row, err.column) == (1, "第 6 列（F）") and "过长" in err.message


def test_an_xlsx_cell_from_the_shared_strings_over_2000_characters_is_refused(files):
    path = files.folder / "s.xlsx"
    path.write_bytes(
        sheet_xlsx(
            HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>1</v></c></row>',
            shared=[GOOD_ID, "项" * 3000],
        )
    )
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    assert [(x.row, x.column) for x in e.value.errors] == [(2, "项目编号")]


def test_the_dimension_bomb_is_refused_at_once_in_little_memory(files):
    path = files.folder / "bomb.xlsx"
    path.write_bytes(bomb_xlsx())
    assert path.stat().st_size < 2000
    tracemalloc.start()
    try:
        with pytest.raises(ImportRefused):
            read_table(path, RECORD_COLUMNS, limits.RECORDS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30 * 1024 * 1024, (
        peak
    )  # was a gigabyte (and 5-22 s); memory, not time, is what a test can hold


def test_a_sheet_of_empty_rows_and_cells_claiming_the_whole_grid_costs_nothing_to_read(files):
    """The declared dimension is not trusted either way: an empty cell far
    out (formatting) neither pads the rows nor counts as a column."""
    path = files.folder / "far.xlsx"
    path.write_bytes(
        sheet_xlsx(
            HEADER_ROW
            + inline_row(2, record_row(GOOD_ID, "X-PRO"))
            + '<row r="900000"><c r="XFD900000" s="1"/></row>',
            dimension="A1:XFD1048576",
        )
    )
    table = read_table(path, RECORD_COLUMNS, limits.RECORDS)
    assert [(n, len(r)) for n, r in table.rows] == [(2, 5)]


@pytest.mark.slow
def test_an_xlsx_declaration_over_its_row_limit_is_refused_at_the_limit(engine, files):
    n = limits.DECLARATION.rows + 1
    path = files.folder / "many.xlsx"
    path.write_bytes(rows_xlsx(n))
    with pytest.raises(ImportRefused) as e, write_session(engine) as s:
        import_records(s, path, school=SCHOOL_A[0])
    [err] = e.value.errors
    assert err.row == n + 1 and "50,000 行" in err.message and "学校申报" in err.message


@pytest.mark.slow
def test_a_records_csv_over_its_row_limit_is_refused_before_any_row_is_checked(files):
    n = limits.RECORDS.rows + 1
    path = files.folder / "year.csv"
    path.write_bytes("\n".join([",".join(RECORD_HEADER), *["x,y,z,w,v"] * n, ""]).encode())
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    [err] = e.value.errors
    assert err.row == n + 1 and "500,000 行" in err.message


def test_blank_rows_are_not_counted_against_the_limit(files):
    path = files.folder / "gaps.xlsx"
    path.write_bytes(
        sheet_xlsx(
            HEADER_ROW
            + inline_row(2, record_row(GOOD_ID, "X-PRO"))
            + inline_row(limits.DECLARATION.rows + 10, record_row(GOOD_ID, "X-ELE"))
        )
    )
    table = read_table(path, RECORD_COLUMNS, limits.DECLARATION)
    assert [n for n, _ in table.rows] == [2, limits.DECLARATION.rows + 10]


def test_an_xlsx_unpacking_past_its_kinds_limit_is_refused_before_it_is_unpacked(files):
    """39 MB of XML in a 115 KB file: over a school's declaration's 24 MB,
    refused from the zip's directory alone."""
    path = files.folder / "big.xlsx"
    path.write_bytes(
        sheet_xlsx(
            HEADER_ROW
            + inline_row(2, record_row(GOOD_ID, "X-PRO"))
            + '<row r="3"><c r="F3"><v>1</v></c></row>' * 1_000_000
        )
    )
    assert path.stat().st_size < 150_000
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.DECLARATION)
    assert "解压后过大" in e.value.errors[0].message and "24 MB" in e.value.errors[0].message


@pytest.mark.slow
def test_a_sheet_of_padding_is_refused_after_half_a_million_elements(files):
    """Within the size limit, rows of empty styled cells with no data are
    read only so far: the file is refused in a fraction of a second."""
    path = files.folder / "pad.xlsx"
    path.write_bytes(sheet_xlsx(HEADER_ROW + ("<row>" + '<c s="1"/>' * 1_000 + "</row>") * 2_000))
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    assert "没有数据的内容过多" in e.value.errors[0].message


@pytest.mark.slow
def test_a_shared_string_table_past_its_limit_is_refused_as_it_is_read(files):
    """Two million empty shared strings in 13 KB: openpyxl took 10 s to read
    them before the sheet; the limit for a declaration is 900,000."""
    path = files.folder / "sst.xlsx"
    path.write_bytes(
        rezipped(
            sheet_xlsx(HEADER_ROW, shared=["x"]),
            "xl/sharedStrings.xml",
            lambda c: c.replace(b"<si><t>x</t></si>", b"<si/>" * 2_000_000),
        )
    )
    assert path.stat().st_size < 20_000
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.DECLARATION)
    assert "共享字符串表过大" in e.value.errors[0].message and "900,000" in e.value.errors[0].message


def test_a_file_over_the_size_limit_is_refused_unread(files, monkeypatch):
    monkeypatch.setattr("issuer.ledger.importing.reader.MAX_FILE_BYTES", 100)
    path = files.folder / "r.csv"
    path.write_bytes(csv_text([record_row(GOOD_ID, "X-PRO")] * 5))
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    assert "文件过大" in e.value.errors[0].message


def test_an_unread_shared_string_or_a_bad_number_names_its_cell(files):
    path = files.folder / "d.xlsx"
    path.write_bytes(
        sheet_xlsx(
            HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c><c r="B2" t="s"><v>7</v></c></row>',
            shared=[GOOD_ID],
        )
    )
    with pytest.raises(ImportRefused) as e:
        read_table(path, RECORD_COLUMNS, limits.RECORDS)
    assert [(x.row, x.column) for x in e.value.errors] == [(2, "项目编号")]
    assert "已损坏" in e.value.errors[0].message and "IndexError" in e.value.errors[0].detail


def test_the_streaming_reader_reads_what_openpyxl_reads(files):
    """Shared strings, inline rich text, dates, numbers, booleans, a
    formula's cached value, gaps between rows and cells: the same values
    openpyxl's own iter_rows gives (it pads; the reader does not)."""
    from datetime import datetime

    from openpyxl import Workbook, load_workbook
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont

    wb = Workbook()
    ws = wb.active
    ws.append(RECORD_HEADER + ["备注"])
    ws.append([GOOD_ID, "X-PRO", "合格", "学员", datetime(2025, 6, 1), 12.5])
    ws.append(
        [GOOD_ID, "X-ELE", True, 7, "2025-06-02", CellRichText(["富", TextBlock(InlineFont(b=True), "文本")])]
    )
    ws["C5"] = "=1+1"
    ws["A7"], ws["F7"] = " 跳过的行 ", -3
    path = files.folder / "rich.xlsx"
    wb.save(path)
    # the formula's cached value, as Excel would have saved it
    path.write_bytes(
        rezipped(
            path.read_bytes(),
            "xl/worksheets/sheet1.xml",
            # an empty value: <v /> by openpyxl's own writer, <v></v> by lxml's (pyHanko brings lxml)
            lambda c: re.sub(rb"<f>1\+1</f>(?:<v ?/>|<v></v>)", b"<f>1+1</f><v>2</v>", c),
        )
    )
    table = read_table(path, RECORD_COLUMNS, limits.RECORDS)
    expected = load_workbook(path, read_only=True, data_only=True)
    want = {}
    for n, row in enumerate(expected.worksheets[0].iter_rows(values_only=True), start=1):
        values = list(row)
        while values and values[-1] is None:
            values.pop()
        if n > 1 and values:
            want[n] = values
    expected.close()
    assert dict(table.rows) == want and want[5] == [None, None, 2]
    assert want[3][5] == "富文本"


def test_shared_strings_are_read_as_openpyxl_reads_them(files):
    """Plain, in runs, with phonetic guides, escaped: as read_string_table."""
    from openpyxl import load_workbook

    shared = [
        GOOD_ID,
        "<r><t>X-</t></r><r><rPr><b/></rPr><t>PRO</t></r>",
        '<t>合格</t><rPh sb="0" eb="2"><t>he ge</t></rPh>',
        "a_x005F_x000D_b",
        "<t/>",
    ]
    path = files.folder / "sst.xlsx"
    path.write_bytes(
        rezipped(
            sheet_xlsx(
                HEADER_ROW
                + '<row r="2">'
                + "".join(f'<c r="{c}2" t="s"><v>{i}</v></c>' for i, c in enumerate("ABCDE"))
                + "</row>",
                shared=["#"] * 5,
            ),
            "xl/sharedStrings.xml",
            lambda c: c.replace(
                b"<si><t>#</t></si>" * 5,
                "".join(f"<si>{x if x.startswith('<') else f'<t>{x}</t>'}</si>" for x in shared).encode(),
            ),
        )
    )
    [(_, row)] = read_table(path, RECORD_COLUMNS, limits.RECORDS).rows
    wb = load_workbook(path, read_only=True, data_only=True)
    [_, expected] = wb.worksheets[0].iter_rows(values_only=True)
    wb.close()
    assert row == list(expected)[:4] and row[:3] == [GOOD_ID, "X-PRO", "合格"] and row[3] == "a_x000D_b"


# -- the error list -------------------------------------------------------------


def test_the_error_list_is_the_first_200_by_row_and_a_count_of_the_rest(engine, files, run_ecert, tmp_path):
    rows = [record_row(GOOD_ID, f"P-{i}", grade="也许", role="旁听") for i in range(600)]  # 2 errors a row
    path = files.csv("bad.csv", RECORD_HEADER, rows)
    with pytest.raises(ImportRefused) as e, write_session(engine) as s:
        import_records(s, path)
    r = e.value
    assert (len(r.errors), r.total, r.omitted, r.row_count) == (200, 1200, 1000, 600)
    assert [x.row for x in r.errors] == [n for n in range(2, 102) for _ in (0, 1)]  # the first, by row
    assert "1200 处错误（涉及 600 行）" in r.message and "只列出前 200 处" in r.message
    report = tmp_path / "report.csv"
    out = run_ecert("records", "import", str(path), "--report", str(report), check=False)
    assert out.returncode == 2 and "另有 1000 处错误未列出" in out.stderr
    lines = list(read_csv(report))
    assert len(lines) == 1 + 200 + 1 and lines[-1][3].startswith("另有 1000 处错误未列出")


# -- formula text in the CSV files written ---------------------------------------


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+1", "'=1+1"),
        ("+86 139", "'+86 139"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("合格", "合格"),
        ("a=1", "a=1"),
        ("", ""),
        (12, "12"),
    ],
)
def test_excel_safe_writes_a_formula_as_text(value, written):
    assert excel_safe(value) == written


def test_the_refusal_report_does_not_hand_excel_a_formula(run_ecert, files, tmp_path):
    run_ecert("init")
    path = files.csv("f.csv", RECORD_HEADER, [record_row(GOOD_ID, '=HYPERLINK("http://x","点我")')])
    report = tmp_path / "r.csv"
    assert run_ecert("records", "import", str(path), "--report", str(report), check=False).returncode == 2
    values = [row[2] for row in read_csv(report)][1:]
    assert values and all(
        v.startswith("'=HYPERLINK") or not v.startswith(("=", "+", "-", "@")) for v in values
    )
    assert '\'=HYPERLINK("http://x","点我")' in values


def test_the_sign_in_codes_do_not_hand_excel_a_formula(run_ecert, files, tmp_path):
    run_ecert("init")
    school = ("6540040009", "=cmd|' /C calc'!A0")
    run_ecert(
        "roster",
        "import",
        str(files.csv("r.csv", ROSTER_HEADER, [teacher_row(idn=id_number(), school=school)])),
    )
    out = tmp_path / "codes.csv"
    run_ecert("passwords", "issue", "-o", str(out))
    [_, row] = list(read_csv(out))
    assert row[2] == "'=cmd|' /C calc'!A0"


def test_a_refused_cell_that_looks_like_rich_markup_is_printed_as_it_is(run_ecert, files):
    run_ecert("init")
    out = run_ecert(
        "records",
        "import",
        str(files.csv("m.csv", RECORD_HEADER, [record_row(GOOD_ID, "[/x]")])),
        check=False,
    )
    assert out.returncode == 2 and "[/x]" in out.stderr


# -- the CLI, the office page, the office API ---------------------------------------


@pytest.mark.parametrize("case", BAD_FILES)
def test_the_cli_refuses_each_bad_file_with_exit_code_2(case, run_ecert, files, tmp_path):
    name, make, row, column, reason = BAD_FILES[case]
    path = files.folder / name
    path.write_bytes(make())
    run_ecert("init")
    report = tmp_path / "report.csv"
    out = run_ecert("records", "import", str(path), "--report", str(report), check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert f"文件 {name} 被整体拒收" in out.stderr, out.stderr
    [_, written] = list(read_csv(report))
    assert written[0] == str(row or "") and written[1] == (column or "") and reason in written[3], written


def test_the_office_declare_page_answers_400_naming_each_bad_file(app, region):
    reg = signed_in(app, region, "reg-a")
    for case, (name, make, row, column, reason) in BAD_FILES.items():
        r = reg.post(
            "/office/declare",
            data={"csrf_token": csrf(reg, "/office/declare"), "file": (io.BytesIO(make()), name)},
            content_type="multipart/form-data",
        )
        html = r.get_data(as_text=True)
        assert r.status_code == 400 and "整体拒收" in html, (case, r.status_code, html[:300])
        cells = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
        assert f"<td>{row or '文件'}</td><td>{column or ''}</td>" in cells and reason in cells, (case, cells)
    with read_session(region.engine) as s:
        assert s.scalar(select(func.count()).select_from(TrainingRecord)) == 0
        assert s.scalar(select(func.count()).select_from(Teacher)) == 3


@pytest.mark.slow
def test_the_office_api_answers_400_naming_each_bad_file(app, region, tokens):
    reg = Api(app, tokens["reg-a"])
    many = limits.DECLARATION.rows + 1
    cases = {
        **BAD_FILES,
        "too-many-rows": ("many.xlsx", lambda: rows_xlsx(many), many + 1, None, "50,000 行"),
    }
    for case, (name, make, row, column, reason) in cases.items():
        data = make()
        for kw in (
            dict(data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"),
            dict(
                query=f"school={SCHOOL_A[0]}",
                data=data,
                content_type=XLSX_TYPE if name.endswith(".xlsx") else "text/csv",
            ),
        ):
            r = reg.post("/records", **kw)
            err = r.get_json()["error"]
            assert r.status_code == 400 and "整体拒收" in err["message"] and reason in err["message"], (
                case,
                err,
            )
            [x] = err["rows"]
            assert (x["row"], x["column"]) == (row, column or ""), (case, x)
            assert (err["total"], err["omitted"]) == (1, 0)
    assert Api(app, tokens["auditor"]).get("/records", query="status=all").get_json()["records"] == []


def test_the_office_api_lists_the_first_200_errors_and_counts_the_rest(app, region, tokens):
    reg = Api(app, tokens["reg-a"])
    rows = [record_row(region.a[0], f"NO-{i}") for i in range(300)]
    r = reg.post(
        "/records", data={"file": (io.BytesIO(csv_text(rows)), "r.csv")}, content_type="multipart/form-data"
    )
    err = r.get_json()["error"]
    assert r.status_code == 400 and len(err["rows"]) == 200 and (err["total"], err["omitted"]) == (300, 100)
    assert "300 处错误（涉及 300 行）" in err["message"] and "只列出前 200 处" in err["message"]
    assert [x["row"] for x in err["rows"]] == list(range(2, 202))


def test_the_office_page_lists_the_first_200_errors_and_counts_the_rest(app, region):
    reg = signed_in(app, region, "reg-a")
    rows = [record_row(region.a[0], f"NO-{i}") for i in range(300)]
    r = reg.post(
        "/office/declare",
        data={"csrf_token": csrf(reg, "/office/declare"), "file": (io.BytesIO(csv_text(rows)), "r.csv")},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and html.count("未知的项目编号") == 200 and "另有 100 处错误未列出" in html


def test_a_json_declaration_with_formula_text_is_refused_as_sent(app, region, tokens):
    """The JSON goes through the CSV importer (office_api/records.py: _records_csv), a
    file read back at once and never opened by a person: a value comes back
    in the refusal exactly as it was sent."""
    reg = Api(app, tokens["reg-a"])
    r = reg.post(
        "/records",
        json=[
            {
                "id_number": region.a[0],
                "project_code": "=1+1",
                "grade": "合格",
                "role": "学员",
                "completed_on": "2025-06-01",
            }
        ],
    )
    assert r.status_code == 400 and r.get_json()["error"]["rows"][0]["value"] == "=1+1"


def test_helpers_build_what_they_claim():
    assert len(bomb_xlsx()) < 2000
    assert zipfile.ZipFile(io.BytesIO(rows_xlsx(3))).read("xl/worksheets/sheet1.xml").count(b"<row") == 4
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(BAD_FILES["not-a-zip"][1]()))
    assert Path(BAD_FILES["long-cell"][0]).suffix == ".csv"
