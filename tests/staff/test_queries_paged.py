"""The teacher table a page at a time: the same rows as every sheet
computed at once (ledger.all_sheets), page after page and under every
filter, for the region and each school; the rows the filters keep between
requests go stale on any change to the ledger (the triggers of migration
0009), and the XLSX export says what it holds above its header."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select, text, update

from issuer.db import read_session, write_session
from issuer.ledger.credits import ledger
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.roster import import_roster
from issuer.models import LedgerVersion, Project, Registration, School, Teacher, TrainingRecord
from issuer.office import queries
from issuer.office.staff import Scope
from issuer.office.summaries import ledger_version
from issuer.web.office import queries as query_pages
from scripts.make_sample import generate
from tests.builders import record_row
from tests.helpers import SCHOOL_A, SCHOOL_B, signed_in
from verifier.numbers import mask_id_number
from verifier.profiles import load_profile

PROFILE = load_profile("horgos-7")
AS_OF = date(2026, 6, 30)
ADMIN = Scope(0, "admin", "admin", None)


@pytest.fixture
def sample(engine, tmp_path):
    """150 teachers of 8 schools, about 20 records each (scripts/make_sample.py)."""
    generate(tmp_path, teachers=150, schools=8, seed=3)
    with write_session(engine) as s:
        import_projects(s, tmp_path / "projects.csv")
        import_roster(s, tmp_path / "roster.csv", PROFILE)
        import_records(s, tmp_path / "records.csv")
    queries.forget_summaries()
    return engine


def expected_rows(engine, school=None, short=None) -> list[tuple]:
    """What a row shows, straight from all_sheets, filtered as the page says."""
    with read_session(engine) as s:
        out = []
        for h, sheet in ledger.all_sheets(s, PROFILE, school=school, as_of=AS_OF):
            if short == "any" and sheet.qualified or short not in (None, "any") and short not in sheet.unmet:
                continue
            out.append(
                (
                    h.number,
                    h.name,
                    mask_id_number(h.id_number),
                    h.school_code,
                    h.school_name,
                    sheet.buckets,
                    sheet.qualified,
                    sheet.unmet,
                )
            )
        return out


def shown(row: queries.TeacherRow) -> tuple:
    return (
        row.number,
        row.name,
        row.id_masked,
        row.school_code,
        row.school_name,
        row.buckets,
        row.qualified,
        row.unmet,
    )


def paged(engine, scope=ADMIN, school=None, short=None, size=25) -> list[tuple]:
    """Every page in turn until one says no more follow."""
    out, page = [], 0
    while True:
        with read_session(engine) as s:
            rows, more = queries.school_page(
                s, PROFILE, scope, school=school, short=short, as_of=AS_OF, offset=page * size, limit=size
            )
        assert len(rows) == size or not more, (page, len(rows), more)
        out += [shown(r) for r in rows]
        if not more:
            return out
        page += 1


def test_pages_are_the_full_computation_cut_in_pieces(sample):
    with read_session(sample) as s:
        school_codes = list(s.scalars(select(School.code).order_by(School.code)))
    assert len(school_codes) == 8
    filters = [None, *queries.short_options(PROFILE)]
    for short in filters:
        every = expected_rows(sample, short=short)
        assert paged(sample, short=short) == every, short
        if short in (None, "any"):
            assert len(every) > 25  # several pages
    # a page past the end is empty; a school's pages (the region's kept rows, or the school's own)
    with read_session(sample) as s:
        assert queries.school_page(s, PROFILE, ADMIN, offset=9999, as_of=AS_OF) == ([], False)
    for code in school_codes[:3]:
        registrar = Scope(1, "reg", "registrar", code)
        for short in (None, "any", "elective"):
            assert paged(sample, registrar, short=short, size=7) == expected_rows(sample, code, short), (
                code,
                short,
            )
    # her school's rows kept alone, then the region's beside them
    queries.forget_summaries()
    registrar = Scope(1, "reg", "registrar", school_codes[4])
    assert paged(sample, registrar, short="any", size=7) == expected_rows(sample, school_codes[4], "any")
    assert paged(sample, short="any", size=50) == expected_rows(sample, short="any")


def test_the_kept_rows_are_reused_until_the_ledger_changes(sample, monkeypatch):
    def first_page():
        with read_session(sample) as s:
            return [
                shown(r)
                for r in queries.school_page(s, PROFILE, ADMIN, short="any", as_of=AS_OF, limit=500)[0]
            ]

    before = first_page()
    computed = []
    real = ledger.holders_after

    def counting(*args, **kw):
        computed.append(kw["after"])
        return real(*args, **kw)

    monkeypatch.setattr(queries, "holders_after", counting)
    assert first_page() == before and computed == []  # kept
    version = _version(sample)

    with read_session(sample) as s:
        teacher_id, school, record_id, project = s.execute(
            select(Teacher.id, Teacher.school_code, TrainingRecord.id, TrainingRecord.project_code)
            .join(TrainingRecord, TrainingRecord.teacher_id == Teacher.id)
            .where(TrainingRecord.status == "recognised")
            .order_by(TrainingRecord.id)
        ).first()
    # Each change to what a row is made of, in place or not, moves the version and is seen at once.
    changes = [
        update(TrainingRecord).where(TrainingRecord.id == record_id).values(status="declared"),
        update(Project).where(Project.code == project).values(hours=Decimal("1.00")),
        update(Teacher).where(Teacher.id == teacher_id).values(name="改名后"),
        update(School).where(School.code == school).values(name="改名学校"),
        delete(TrainingRecord).where(TrainingRecord.teacher_id == teacher_id),
    ]
    for change in changes:
        with write_session(sample) as s:
            s.execute(change)
        assert _version(sample) > version, change
        version = _version(sample)
        n = len(computed)
        assert first_page() == [r for r in expected_rows(sample, short="any")], change
        assert computed[n] is None and None not in computed[n + 1 :]  # recomputed once, then kept again
        m = len(computed)
        first_page()
        assert len(computed) == m
    # nothing but a read: the version stays
    expected_rows(sample)
    assert _version(sample) == version


def _version(engine) -> int:
    with read_session(engine) as s:
        v = ledger_version(s)
    assert v is not None
    return v


def test_an_imported_record_changes_the_filtered_page_at_the_next_load(app, region):
    """A page of "short of X" is kept in the web process; the bureau's import
    of a record that changes a teacher's totals shows at the next load."""
    admin = signed_in(app, region, "admin")
    wang = region.a[0]

    def row_of_wang(short: str) -> dict[str, str]:
        html = admin.get(f"/office/teachers?school=all&short={short}").get_data(as_text=True)
        row = html.split("<td>王芳</td>", 1)[1].split("</tr>", 1)[0]
        return dict(
            zip(query_pages.PAGE_BUCKETS, re.findall(r'<td class="num[^"]*">([^<]+)</td>', row), strict=True)
        )

    before = row_of_wang("any")
    assert (before["elective"], before["total"]) == ("0.00", "0.00") and row_of_wang("any") == before  # kept
    region.run("records", "import", str(region.records_file("more.csv", [record_row(wang, "X-ELE")])))
    sheet = json.loads(region.run("credits", wang, "--json").stdout)["buckets"]
    assert (sheet["elective"], sheet["total"]) == ("5.00", "5.00")  # 20 hours
    for short in ("any", "elective", "total"):
        after = row_of_wang(short)
        assert (after["elective"], after["total"]) == ("5.00", "5.00"), short


def test_the_version_moves_with_every_kind_of_write(engine):
    """The triggers on all five tables, on this database: an insert, an
    update that changes nothing visible, a delete."""
    with write_session(engine) as s:
        s.add(School(code="S1", name="一小"))
    v0 = _version(engine)
    with write_session(engine) as s:
        s.execute(update(School).values(name="一小"))
    v1 = _version(engine)
    with write_session(engine) as s:
        s.execute(delete(School))
    v2 = _version(engine)
    assert v0 < v1 < v2
    with read_session(engine) as s:
        assert s.scalar(select(func.count()).select_from(LedgerVersion)) == 1
        tables = {
            "sqlite": "select count(*) from sqlite_master where type = 'trigger' and name like 'ledger_version_%'",
            "postgresql": "select count(*) from pg_trigger t join pg_class c on c.oid = t.tgrelid"
            " where t.tgname = 'ledger_version_bump' and c.relnamespace = current_schema()::regnamespace",
        }
        n = s.scalar(text(tables[engine.dialect.name]))
    assert n == (15 if engine.dialect.name == "sqlite" else 5)


def test_the_export_says_whose_which_when_and_under_which_rules(app, region):
    admin = signed_in(app, region, "admin")
    with write_session(region.engine) as s:  # a school name that a spreadsheet would take for a formula
        s.execute(update(School).where(School.code == SCHOOL_B[0]).values(name='=HYPERLINK("http://x")'))

    def sheet(path):
        r = admin.get(path)
        data = r.get_data()
        r.close()
        assert r.status_code == 200
        return load_workbook(io.BytesIO(data)).active

    before = datetime.now(UTC)
    ws = sheet("/office/teachers.xlsx?school=all")
    caption = ws["A1"].value
    assert caption.startswith("教师学分 · 全区 · 筛选：全部教师 · 导出时间：") and ws["A1"].font.b
    stamp = datetime.strptime(caption.split("导出时间：")[1][:16], "%Y-%m-%d %H:%M")
    assert (
        abs((stamp - before.astimezone(queries.CHINA).replace(tzinfo=None)).total_seconds()) < 120
    )  # Beijing
    assert "（北京时间）" in caption and PROFILE.title in caption and "horgos-7" in caption
    assert ws["A2"].value == "证书编号" and ws.freeze_panes == "A3"
    assert ws.auto_filter.ref == f"A2:{ws.cell(2, ws.max_column).column_letter}5"  # header and 3 teachers
    assert ws.max_row == 5
    formula = [c for c in ws["E"] if c.value == '=HYPERLINK("http://x")']
    assert formula and all(c.data_type == "s" for c in formula)  # text, never a formula

    ws = sheet(f"/office/teachers.xlsx?school={SCHOOL_A[0]}&short=elective")
    assert ws["A1"].value.startswith(f"教师学分 · {SCHOOL_A[0]} {SCHOOL_A[1]} · 筛选：选修未达 · ")
    reg = signed_in(app, region, "reg-a")
    r = reg.get("/office/teachers.xlsx?short=any")
    ws = load_workbook(io.BytesIO(r.get_data())).active
    r.close()
    assert ws["A1"].value.startswith(
        f"教师学分 · {SCHOOL_A[0]} {SCHOOL_A[1]} · 筛选：任一项未达（未合格） · "
    )
    assert (
        ws.auto_filter.ref.startswith("A2:") and ws.auto_filter.ref.endswith("4") and ws.freeze_panes == "A3"
    )


def test_a_writing_session_neither_uses_nor_fills_the_kept_rows(sample):
    """A transaction sees its own changes before it commits, and may roll
    them back: rows it computed must not be kept under the version it would
    have made, which the next committed change makes for other rows."""

    class Undone(Exception):
        pass

    short_one = expected_rows(sample, short="any")[0]  # a teacher on the page
    with read_session(sample) as s:
        teacher_id = s.scalar(select(Registration.teacher_id).where(Registration.number == short_one[0]))
    version = _version(sample)
    with pytest.raises(Undone), write_session(sample) as s:
        s.execute(update(Teacher).where(Teacher.id == teacher_id).values(name="未提交的名字"))
        rows, _ = queries.school_page(s, PROFILE, ADMIN, short="any", as_of=AS_OF, limit=500)
        assert [shown(r) for r in rows] != expected_rows(sample, short="any")  # its own change
        raise Undone
    with write_session(sample) as s:  # another change, which takes the same next version
        s.execute(update(School).where(School.code == short_one[3]).values(name="改名学校"))
    assert _version(sample) == version + 1
    assert paged(sample, short="any", size=500) == expected_rows(sample, short="any")


def test_a_filtered_page_computes_only_as_far_as_it_needs_and_the_next_goes_on(sample, monkeypatch):
    from issuer.office import summaries

    monkeypatch.setattr(summaries, "FIRST_BLOCK", 4)
    monkeypatch.setattr(summaries, "LAST_BLOCK", 16)
    asked = []
    real = ledger.holders_after

    def counting(*args, **kw):
        holders = real(*args, **kw)
        asked.append(len(holders))
        return holders

    monkeypatch.setattr(queries, "holders_after", counting)
    every = expected_rows(sample, short="any")
    with read_session(sample) as s:
        rows, more = queries.school_page(s, PROFILE, ADMIN, short="any", as_of=AS_OF, offset=0, limit=5)
    assert [shown(r) for r in rows] == every[:5] and more
    first = sum(asked)
    assert first < 40  # six of the short, not 150 teachers' sheets
    with read_session(sample) as s:  # the next page extends the same rows
        rows, more = queries.school_page(s, PROFILE, ADMIN, short="any", as_of=AS_OF, offset=5, limit=5)
    assert [shown(r) for r in rows] == every[5:10] and more
    assert asked[len(asked) - 1] > 0 and sum(asked) < 80
    for short in (None, *queries.short_options(PROFILE)):  # blocks of 4 to 16, every filter, every page
        for size in (3, 25):
            queries.forget_summaries()
            assert paged(sample, short=short, size=size) == expected_rows(sample, short=short), (short, size)
