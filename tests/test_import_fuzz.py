"""The CSV and XLSX readers and the three importers fed what a damaged
disk, a careless export or an attacker would feed them: arbitrary bytes,
valid files with text spliced in or cut out, zips with bytes flipped, and
sound zips whose XML parts (the sheet, the shared strings, the styles, the
workbook, the content types) are mangled. The only outcomes allowed are an
import and a refusal (InputRefused, of which ImportRefused is one), which
names a problem in Chinese and English. Bounded for CI: seconds."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from datetime import datetime
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from issuer.db import make_engine, write_session
from issuer.errors import InputRefused
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster
from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    Files,
    project_row,
    record_row,
    teacher_row,
)
from verifier.profiles import load_profile

HORGOS = load_profile("horgos-7")
TEACHER = "654004198503123018"
SCHOOL = "6540040001"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
# ECERT_FUZZ_EXAMPLES=5000 for a deeper search than CI's few seconds
FAST = settings(
    max_examples=int(os.environ.get("ECERT_FUZZ_EXAMPLES", 300)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

IMPORTERS = {
    "roster": (lambda s, p: import_roster(s, p, HORGOS), ROSTER_HEADER, [teacher_row("张三", TEACHER)]),
    "projects": (import_projects, PROJECT_HEADER, [project_row("X-PRO"), project_row("X-ELE")]),
    "records": (
        import_records,
        RECORD_HEADER,
        [record_row(TEACHER, "X-PRO"), record_row(TEACHER, "X-ELE", done="2025-05-01")],
    ),
    "declaration": (
        lambda s, p: import_records(s, p, school=SCHOOL),
        RECORD_HEADER,
        [record_row(TEACHER, "X-PRO")],
    ),
}
# Text that breaks CSV files and spreadsheets: quotes, separators, line ends,
# a byte-order mark, NUL, formula starts, cells past the limits.
SPLICES = st.one_of(
    st.sampled_from(
        [
            '"',
            '""',
            ",",
            ";",
            "\t",
            "\n",
            "\r",
            "\r\n",
            "\ufeff",
            "\x00",
            "=",
            "+1",
            "@",
            "'",
            "\\",
            "x" * 2_001,
            "," * 70 + "v",
            '"' + "y" * 140_000,
            "\u2028",
            "𠀀",
            "\udcff",
        ]
    ),
    st.text(max_size=12),
)
# XML spliced into a part: rows and cells out of order or out of range,
# shared-string indexes past the table, numbers that are not, entities,
# elements opened and not closed.
XML_SPLICES = st.one_of(
    st.sampled_from(
        [
            '<row r="0">',
            '<row r="1048577"><c r="A1048577"><v>1</v></c></row>',
            '<row r="2"></row><row r="2">',
            '<c r="ZZZZ2" t="s"><v>0</v></c>',
            '<c r="XFD2"><v>1</v></c>',
            '<c t="s"><v>999999</v></c>',
            '<c t="s"><v>-1</v></c>',
            '<c t="n"><v>nan</v></c>',
            '<c t="n" s="1"><v>1e308</v></c>',
            '<c t="d"><v>not a date</v></c>',
            '<c t="b"><v>2</v></c>',
            '<c t="e"><v>#N/A</v></c>',
            '<c t="inlineStr"><is><r><t>a</t></r><rPh><t>b</t></rPh></is></c>',
            '<c r="A2" s="99999"><v>45000</v></c>',
            '<dimension ref="A1:XFD1048576"/>',
            '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>',
            "&a;",
            "</sheetData>",
            "<sheetData>",
            "<",
            "&",
            "]]>",
            '<?xml version="1.0" encoding="EUC-JP"?>',
            "\x00",
            '<c r="1A">',
            '<numFmt numFmtId="200" formatCode="yyyy-mm-dd"/>',
            '<xf numFmtId="200"/>',
            '<sheet name="x" sheetId="9"/>',
        ]
    ),
    st.text(max_size=8),
)


class _Undone(Exception):
    """An import that succeeded, rolled back so each example starts alike."""


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):
    """A SQLite database holding the teacher and projects the valid files
    name, and a folder for the files tried."""
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(sqlite_template, folder / "ecert.sqlite3")  # a migrated, empty database
    engine = make_engine(f"sqlite:///{folder / 'ecert.sqlite3'}")
    files = Files(folder / "seed")
    with write_session(engine) as s:
        import_projects(s, files.csv("p.csv", PROJECT_HEADER, IMPORTERS["projects"][2]))
        import_roster(s, files.csv("r.csv", ROSTER_HEADER, IMPORTERS["roster"][2]), HORGOS)
    yield engine, folder
    engine.dispose()


def imports_or_refuses(world, kind: str, name: str, data: bytes) -> str:
    """ "imported" or "refused: why"; any other outcome fails the test."""
    engine, folder = world
    path = folder / name
    path.write_bytes(data)
    importer = IMPORTERS[kind][0]
    try:
        with write_session(engine) as s:
            importer(s, path)
            raise _Undone
    except _Undone:
        return "imported"
    except InputRefused as e:  # anything else fails the test, with its traceback
        assert e.message and e.detail
        if not isinstance(e, ImportRefused):
            return "refused"
        assert e.errors and e.total >= len(e.errors) and all(x.message and x.detail for x in e.errors)
        return f"refused: {e.errors[0].detail[:30]}"  # for --hypothesis-show-statistics


def csv_of(kind: str) -> str:
    _, header, rows = IMPORTERS[kind]
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def xlsx_of(kind: str) -> bytes:
    from openpyxl import Workbook

    _, header, rows = IMPORTERS[kind]
    wb = Workbook()
    wb.active.append(header)
    for r in rows:
        wb.active.append(
            [datetime.fromisoformat(v) if k == "完成日期" else v for k, v in zip(header, r, strict=True)]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


VALID_XLSX = {kind: xlsx_of(kind) for kind in IMPORTERS}
KINDS = st.sampled_from(sorted(IMPORTERS))


@st.composite
def mutated(draw, base: str, splices) -> str:
    """The text with a few pieces spliced in and spans cut out."""
    text = base
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(splices) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
    return text


def test_the_valid_files_import(world):
    for kind in IMPORTERS:
        assert imports_or_refuses(world, kind, "ok.csv", csv_of(kind).encode()) == "imported"
        assert imports_or_refuses(world, kind, "ok.xlsx", VALID_XLSX[kind]) == "imported"


@FAST
@given(
    kind=KINDS,
    data=st.binary(max_size=3_000),
    suffix=st.sampled_from([".csv", ".xlsx", ".txt"]),
    prefix=st.sampled_from([b"", b"PK\x03\x04", b"\xef\xbb\xbf", b"\xd0\xcf\x11\xe0"]),
)
def test_arbitrary_bytes(world, kind, data, suffix, prefix):
    event(imports_or_refuses(world, kind, "any" + suffix, prefix + data))


@FAST
@given(
    kind=KINDS, data=st.data(), encoding=st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "gb18030", "utf-16"])
)
def test_csv_with_text_spliced_in_or_cut_out(world, kind, data, encoding):
    text = data.draw(mutated(csv_of(kind), SPLICES))
    try:
        raw = text.encode(encoding, errors="surrogatepass")  # a lone surrogate: bytes that are not UTF-8
    except UnicodeEncodeError:
        raw = text.encode(encoding, errors="replace")
    event(imports_or_refuses(world, kind, "m.csv", raw))


@pytest.mark.slow
@FAST
@given(kind=KINDS, data=st.data())
def test_xlsx_with_bytes_flipped_cut_or_inserted(world, kind, data):
    raw = bytearray(VALID_XLSX[kind])
    for _ in range(data.draw(st.integers(1, 6))):
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if how == "flip" and raw:
            raw[at] ^= data.draw(st.integers(1, 255))
        elif how == "cut":
            del raw[at : at + data.draw(st.integers(1, 64))]
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=16))
        else:
            del raw[max(at, 4) :]
    event(imports_or_refuses(world, kind, "m.xlsx", bytes(raw)))


@pytest.mark.slow
@FAST
@given(kind=KINDS, data=st.data())
def test_sound_zips_with_mangled_xml_parts(world, kind, data):
    source = zipfile.ZipFile(io.BytesIO(VALID_XLSX[kind]))
    names = [i.filename for i in source.infolist()]
    target = data.draw(st.sampled_from(["xl/worksheets/sheet1.xml"] * 4 + names))  # the sheet most often
    text = source.read(target).decode("utf-8")
    mangled = data.draw(mutated(text, XML_SPLICES))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in names:
            if name != target or data.draw(st.integers(0, 9)):  # now and then the part goes missing
                z.writestr(
                    name,
                    mangled.encode("utf-8", errors="surrogatepass") if name == target else source.read(name),
                )
    event(imports_or_refuses(world, kind, "m.xlsx", out.getvalue()))


@pytest.mark.slow
@FAST
@given(
    kind=KINDS,
    cells=st.lists(
        st.lists(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(-(2**70), 2**70),
                st.floats(allow_nan=True, allow_infinity=True),
                st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 1, 1)),
                st.text(max_size=30).filter(lambda s: not s.startswith("=")),
            ),
            max_size=10,
        ),
        max_size=6,
    ),
)
def test_xlsx_cells_of_any_type_under_the_right_header(world, kind, cells):
    """Real spreadsheets under a valid header: numbers, dates, booleans and
    odd text where text is wanted, written by openpyxl."""
    from openpyxl import Workbook
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = Workbook()
    wb.active.append(IMPORTERS[kind][1])
    try:
        for row in cells:
            wb.active.append(row)
    except IllegalCharacterError:
        return  # openpyxl will not write control characters; nor would Excel
    out = io.BytesIO()
    wb.save(out)
    event(imports_or_refuses(world, kind, "cells.xlsx", out.getvalue()))


XML_TEXT = st.characters(blacklist_categories=("Cs", "Cc"))  # what XML 1.0 can hold (and tab, line ends: no)


def _attr(name: str, value: str | None) -> str:
    return "" if value is None else f' {name}="{escape(value, {chr(34): "&quot;"})}"'


CELL_REFS = st.one_of(
    st.none(),
    st.builds(
        lambda c, r: f"{c}{r}",
        st.sampled_from(["A", "B", "E", "BL", "BM", "XFD", "ZZZ", "a", ""]),
        st.sampled_from(["1", "2", "3", "1048576", "0", "", "x"]),
    ),
    st.text(max_size=5),
)
CELL_TYPES = st.sampled_from([None, "s", "n", "inlineStr", "str", "b", "e", "d", "x"])
CELL_VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "0",
            "1",
            "-1",
            "7",
            "45809",
            "1e308",
            "nan",
            "2.5",
            "",
            "2025-06-01T00:00:00",
            TEACHER,
            "X-PRO",
            "合格",
            "学员",
        ]
    ),
    st.integers(-(2**64), 2**64).map(str),
    st.text(XML_TEXT, max_size=20),
    st.just("长" * 2_001),
)


@st.composite
def cell_xml(draw) -> str:
    kind = draw(CELL_TYPES)
    attrs = (
        _attr("r", draw(CELL_REFS))
        + _attr("t", kind)
        + _attr("s", draw(st.sampled_from([None, "0", "1", "2", "-1", "x"])))
    )
    value = draw(CELL_VALUES)
    if value is None:
        return f"<c{attrs}/>"
    if kind == "inlineStr" and draw(st.booleans()):
        runs = "".join(
            f"<r><t>{escape(t)}</t></r>" for t in draw(st.lists(st.text(XML_TEXT, max_size=5), max_size=3))
        )
        return f"<c{attrs}><is><t>{escape(value)}</t>{runs}<rPh><t>ㄅ</t></rPh></is></c>"
    return f"<c{attrs}><v>{escape(value)}</v></c>"


@st.composite
def sheet_xml(draw) -> str:
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        r = draw(
            st.one_of(
                st.none(), st.sampled_from(["1", "2", "3", "5", "2", "1048576", "1048577", "0", "-3", "x"])
            )
        )
        rows.append(f"<row{_attr('r', r)}>" + "".join(draw(st.lists(cell_xml(), max_size=7))) + "</row>")
    return "".join(rows)


@pytest.mark.slow
@FAST
@given(
    kind=KINDS,
    header=st.booleans(),
    rows=sheet_xml(),
    shared=st.lists(
        st.one_of(
            st.sampled_from([TEACHER, "X-PRO", "合格", "学员", "2025-06-01"]),
            st.text(XML_TEXT, max_size=10),
            st.sampled_from(
                [
                    "<r><t>X-</t></r><r><t>PRO</t></r>",
                    "<t/>",
                    "",
                    "<r/>",
                    '<t>合</t><rPh sb="0" eb="1"><t>he</t></rPh>',
                    "<rPh/>",
                    "<t>a</t><t>b</t>",
                    "<r><t>" + "长" * 2001 + "</t></r>",
                ]
            ),
        ),
        max_size=6,
    ),
)
def test_sheets_of_arbitrary_rows_and_cells(world, kind, header, rows, shared):
    """A sound workbook (openpyxl's, with its date style as style 1) whose
    sheet holds generated rows: cells of every type, references in and out of
    range, rows out of order, shared-string indexes past the table."""
    source = zipfile.ZipFile(io.BytesIO(VALID_XLSX[kind]))
    sheet = source.read("xl/worksheets/sheet1.xml").decode()
    head = sheet[: sheet.index("<sheetData>") + len("<sheetData>")]
    first = sheet[len(head) : sheet.index("</row>") + len("</row>")] if header else ""
    tail = sheet[sheet.index("</sheetData>") :]
    parts = {name: source.read(name) for name in source.namelist()}
    parts["xl/worksheets/sheet1.xml"] = (head + first + rows + tail).encode()
    parts["xl/sharedStrings.xml"] = (
        f'<sst xmlns="{MAIN}">'
        + "".join(
            f"<si>{s}</si>" if s.startswith("<") or not s else f"<si><t>{escape(s)}</t></si>" for s in shared
        )
        + "</sst>"
    ).encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        (
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            b'spreadsheetml.sharedStrings+xml"/></Types>'
        ),
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in parts.items():
            z.writestr(name, content)
    event(imports_or_refuses(world, kind, "gen.xlsx", out.getvalue()))
