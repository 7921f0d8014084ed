"""Queries (查询): the school table and its filter "short of X", a teacher's
sheet, and both as XLSX that openpyxl opens."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from issuer.db import read_session
from issuer.errors import InputRefused, NotFound
from issuer.office import queries
from issuer.web.office import queries as query_pages
from tests.builders import PROJECT_HEADER, project_row, record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, scope_of, signed_in
from verifier.numbers import CertificateNumber
from verifier.profiles import load_profile
from verifier.vocab import BUCKET_LABELS, BUCKETS

PROFILE = load_profile("horgos-7")
TABLE_HEADERS = [
    "证书编号",
    "姓名",
    "身份证号（脱敏）",
    "学校代码",
    "学校名称",
    *(BUCKET_LABELS[b] for b in BUCKETS),
    "结论",
    "未达项目",
    "证书状态",
]


@pytest.fixture
def graded(region):
    """Recognised records that tell the teachers apart: a[0] meets the
    elective minimum (10) but not school-based (20); a[1] the reverse; b[0]
    meets both. Nobody meets the required minimums."""
    region.run(
        "projects",
        "import",
        str(
            region.files.csv(
                "p2.csv",
                PROJECT_HEADER,
                [
                    project_row("Q-ELE", level="县市级", category="选修", mode="集中", hours="40"),
                    project_row("Q-SCH", level="校级", category="校本", mode="校本", hours="100"),
                ],
            )
        ),
    )
    region.run(
        "records",
        "import",
        str(
            region.records_file(
                "graded.csv",
                [
                    record_row(region.a[0], "Q-ELE"),
                    record_row(region.a[1], "Q-SCH"),
                    record_row(region.b[0], "Q-ELE"),
                    record_row(region.b[0], "Q-SCH"),
                ],
            )
        ),
    )
    return {idn: sheet_json(region, idn) for idn in (*region.a, *region.b)}


def sheet_json(region, idn) -> dict:
    return json.loads(region.run("credits", idn, "--json").stdout)


def fetch(client, path):
    """GET, read, close: a file response holds its file open until closed."""
    r = client.get(path)
    r.get_data()
    r.close()
    return r


def numbers_on(html: str) -> set[str]:
    return set(re.findall(r'href="/office/teachers/([0-9A-Z]{16})"', html))


def test_short_of_x_is_exactly_the_teachers_whose_sheet_is_short_of_x(app, region, graded):
    by_number = {s["certificate_number"]: s for s in graded.values()}
    a_numbers = {graded[i]["certificate_number"] for i in region.a}
    admin, reg = signed_in(app, region, "admin"), signed_in(app, region, "reg-a")
    options = queries.short_options(PROFILE)
    assert {"any", "elective", "school_based", "required", "total", "induction"} <= set(options)
    for short in options:
        expected = {
            n for n, s in by_number.items() if (not s["qualified"] if short == "any" else short in s["unmet"])
        }
        r = admin.get(f"/office/teachers?school=all&short={short}")
        assert r.status_code == 200
        assert numbers_on(r.get_data(as_text=True)) == expected, short
        assert (
            numbers_on(reg.get(f"/office/teachers?short={short}").get_data(as_text=True))
            == expected & a_numbers
        )
    # the cases that make the check worth having: each filter tells them apart
    elective = numbers_on(admin.get("/office/teachers?school=all&short=elective").get_data(as_text=True))
    school_based = numbers_on(
        admin.get("/office/teachers?school=all&short=school_based").get_data(as_text=True)
    )
    assert elective == {graded[region.a[1]]["certificate_number"]}
    assert school_based == {graded[region.a[0]]["certificate_number"]}
    assert (
        numbers_on(admin.get("/office/teachers?school=all&short=induction").get_data(as_text=True)) == set()
    )
    everyone = numbers_on(admin.get("/office/teachers?school=all").get_data(as_text=True))
    assert everyone == set(by_number)
    landing = admin.get("/office/teachers").get_data(as_text=True)  # the region's staff choose a school first
    assert numbers_on(landing) == set() and SCHOOL_A[1] in landing and SCHOOL_B[1] in landing
    assert numbers_on(admin.get(f"/office/teachers?school={SCHOOL_B[0]}").get_data(as_text=True)) == {
        graded[region.b[0]]["certificate_number"]
    }
    assert admin.get(f"/office/teachers?school={SCHOOL_A[0]}&short=nonsense").status_code == 400
    assert admin.get("/office/teachers?school=9999999999").status_code == 404

    # what a row shows: numbers printed, ID numbers masked, buckets, verdict, what is short
    html = admin.get(f"/office/teachers?school={SCHOOL_A[0]}").get_data(as_text=True)
    for idn in region.a:
        assert idn not in html and idn[-4:] in html  # masked, never whole
        assert CertificateNumber.parse(graded[idn]["certificate_number"]).printed in html
    assert "王芳" in html and "张伟" not in html
    assert '<td class="num">10.00</td>' in html  # a[0]'s elective, met
    assert '<td class="num short">20.00</td>' in html  # a[1]'s total, 20 of 90: short
    assert "未达要求" in html and "校本研修" in html and "未签发" in html


def test_the_xlsx_holds_every_row_not_just_the_page(app, region, graded, monkeypatch):
    monkeypatch.setattr(query_pages, "PAGE", 1)
    admin = signed_in(app, region, "admin")
    page = admin.get("/office/teachers?school=all").get_data(as_text=True)
    assert len(numbers_on(page)) == 1 and "下一页" in page
    assert len(numbers_on(admin.get("/office/teachers?school=all&page=2").get_data(as_text=True))) == 1

    r = fetch(admin, "/office/teachers.xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in r.headers["Content-Disposition"] and r.headers["Cache-Control"] == "no-store"
    ws = load_workbook(io.BytesIO(r.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].startswith("教师学分 · 全区 · 筛选：全部教师") and list(rows[1]) == TABLE_HEADERS
    assert len(rows) == 2 + len(graded)
    got = {CertificateNumber.parse(row[0]).compact: row for row in rows[2:]}
    for idn, sheet in graded.items():
        row = got[sheet["certificate_number"]]
        assert idn not in row and row[2].endswith(idn[-4:])
        for i, b in enumerate(BUCKETS, 5):
            assert Decimal(str(row[i])) == Decimal(sheet["buckets"][b]), (idn, b)
        assert row[-3] == ("已达要求" if sheet["qualified"] else "未达要求")
        assert row[-2] == "、".join(queries.unmet_label(u) for u in sheet["unmet"])

    filtered = load_workbook(io.BytesIO(fetch(admin, "/office/teachers.xlsx?short=elective").data)).active
    assert [r[1] for r in filtered.iter_rows(min_row=3, values_only=True)] == ["李娜"]
    reg = signed_in(app, region, "reg-a")
    mine = load_workbook(io.BytesIO(fetch(reg, "/office/teachers.xlsx").data)).active
    assert sorted(r[1] for r in mine.iter_rows(min_row=3, values_only=True)) == ["李娜", "王芳"]


def test_a_teachers_page_and_its_xlsx(app, region, graded):
    number = graded[region.a[0]]["certificate_number"]
    reg = signed_in(app, region, "reg-a")
    html = reg.get(f"/office/teachers/{number}").get_data(as_text=True)
    assert "王芳" in html and "Q-ELE" in html and "尚未签发证书" in html and "尚未达到本周期要求" in html
    assert region.a[0] not in html
    assert 'action="/office/teachers/' not in html  # a registrar may neither revoke nor reissue
    printed = CertificateNumber.parse(number).printed
    assert reg.get(f"/office/teachers/{printed}").status_code == 200  # the printed form works too

    r = fetch(reg, f"/office/teachers/{number}.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["分类学分", "培训记录", "证书版本"]
    buckets = {row[0]: row[1:] for row in wb["分类学分"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(buckets["选修"][0])) == Decimal("10.00") and buckets["选修"][2] == "达标"
    assert buckets["校本研修"][2] == "未达"
    records = list(wb["培训记录"].iter_rows(values_only=True))
    assert records[0][:3] == ("完成日期", "项目编号", "基础学分") and records[1][1] == "Q-ELE"
    assert [c.value for c in wb["证书版本"][1]][:2] == ["版本", "状态"] and wb["证书版本"].max_row == 1


def test_the_domain_query_keeps_a_registrar_in_her_school(region, graded):
    reg_a = scope_of(region.engine, "reg-a")
    with read_session(region.engine) as s:
        assert {r.school_code for r in queries.school_rows(s, PROFILE, reg_a)} == {SCHOOL_A[0]}
        for school in (SCHOOL_B[0], "9999999999"):
            with pytest.raises(NotFound):
                queries.school_rows(s, PROFILE, reg_a, school=school)
        with pytest.raises(NotFound):
            queries.teacher_detail(s, PROFILE, reg_a, graded[region.b[0]]["certificate_number"])
        with pytest.raises(NotFound):
            queries.teacher_detail(s, PROFILE, reg_a, region.a[0])  # an ID number is not a certificate number
        with pytest.raises(InputRefused):
            queries.school_rows(s, PROFILE, reg_a, short="everything")
        d = queries.teacher_detail(s, PROFILE, reg_a, graded[region.a[0]]["certificate_number"])
        assert d.sheet.to_json_dict()["buckets"] == graded[region.a[0]]["buckets"] and d.versions == []


def test_write_xlsx_keeps_text_as_text_and_types_the_rest(tmp_path):
    table = queries.Table(
        "导出[测试]",
        [
            queries.Column("姓名"),
            queries.Column("学分", "amount"),
            queries.Column("日期", "date"),
            queries.Column("时间", "datetime"),
            queries.Column("编号"),
        ],
        iter(
            [
                [
                    '=HYPERLINK("http://x")',
                    Decimal("12.5"),
                    date(2025, 6, 1),
                    datetime(2025, 6, 1, 0, 30, tzinfo=UTC),
                    "001234",
                ],
                ["+1", None, None, None, 7],
            ]
        ),
    )
    path = tmp_path / "t.xlsx"
    with path.open("wb") as f:
        assert queries.write_xlsx(f, [table]) == 2
    ws = load_workbook(path).active
    assert ws.title == "导出_测试_" and ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:E3"
    assert [c.value for c in ws[1]] == ["姓名", "学分", "日期", "时间", "编号"] and ws["A1"].font.b
    assert ws["A2"].value == '=HYPERLINK("http://x")' and ws["A2"].data_type == "s"  # never a formula
    assert ws["B2"].value == 12.5 and ws["B2"].number_format == "0.00"
    assert ws["C2"].value == datetime(2025, 6, 1) and ws["D2"].value == datetime(2025, 6, 1, 8, 30)  # Beijing
    assert ws["E2"].value == "001234" and ws["E3"].value == "7" and ws["B3"].value is None


def test_outside_the_scope_is_the_apps_404_and_a_made_up_filter_its_400(app, region, numbers):
    """The office's errors for a hand-made URL: the same pages as a wrong
    address, never a 500 and never a hint that the teacher exists."""
    reg = signed_in(app, region, "reg-a")
    b_number = numbers[region.b[0]]
    for path in (
        f"/office/teachers/{b_number}",
        f"/office/teachers/{b_number}.xlsx",
        f"/office/teachers?school={SCHOOL_B[0]}",
        f"/office/teachers.xlsx?school={SCHOOL_B[0]}",
        "/office/teachers/6540040710009991",
        "/office/no-such-page",
    ):
        r = reg.get(path)
        assert r.status_code == 404 and "页面不存在" in r.get_data(as_text=True), path
    for path in ("/office/teachers?short=nonsense", "/office/teachers.xlsx?short=nonsense"):
        assert reg.get(path).status_code == 400, path
