"""Imports: validated whole before anything is written, idempotent,
corrections reported, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from issuer.db import read_session, write_session
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster
from issuer.models import Project, Registration, School, Teacher, TrainingRecord
from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    id_number,
    project_row,
    record_row,
    teacher_row,
)
from verifier.profiles import load_profile

HORGOS = load_profile("horgos-7")


def count(engine, model) -> int:
    with read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(model))


def do(engine, fn, *args, **kw):
    with write_session(engine) as s:
        return fn(s, *args, **kw)


def refused(engine, fn, *args, **kw) -> ImportRefused:
    with pytest.raises(ImportRefused) as e:
        do(engine, fn, *args, **kw)
    return e.value


def test_roster_import_registers_numbers_in_file_order(engine, files):
    a, b = id_number(), id_number()
    path = files.csv("r.csv", ROSTER_HEADER, [teacher_row("张喆", a), teacher_row("阿依古丽·买买提", b)])
    result = do(engine, import_roster, path, HORGOS)
    assert (result.created, result.updated, result.unchanged) == (2, 0, 0)
    with read_session(engine) as s:
        numbers = dict(
            s.execute(
                select(Teacher.id_number, Registration.number).join(
                    Registration, Registration.teacher_id == Teacher.id
                )
            ).all()
        )
    assert numbers == {a: "6540040710000014", b: "6540040710000022"}


def test_reimport_changes_nothing_and_correction_updates_and_says_so(engine, files):
    a, b = id_number(), id_number()
    rows = [teacher_row("张三", a), teacher_row("李四", b)]
    path = files.csv("r.csv", ROSTER_HEADER, rows)
    do(engine, import_roster, path, HORGOS)
    again = do(engine, import_roster, path, HORGOS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    rows[1] = teacher_row("李四", b, school=("6540040002", "霍尔果斯市第二中学"), title="一级教师")
    fixed = do(engine, import_roster, files.csv("r2.csv", ROSTER_HEADER, rows), HORGOS, new_schools=True)
    assert (fixed.created, fixed.updated, fixed.unchanged) == (0, 1, 1)
    assert "第 3 行" in fixed.changes[0] and "6540040002" in fixed.changes[0]
    assert count(engine, Registration) == 2  # the number is kept, not reassigned
    with read_session(engine) as s:
        assert s.scalar(select(Teacher.title).where(Teacher.id_number == b)) == "一级教师"


def test_a_file_with_one_bad_row_is_refused_whole(engine, files):
    good = [teacher_row(idn=id_number()) for _ in range(5)]
    bad_id = id_number()
    bad_id = bad_id[:-1] + ("0" if bad_id[-1] != "0" else "1")
    path = files.csv("r.csv", ROSTER_HEADER, good + [teacher_row("王五", bad_id, stage="大学")])
    e = refused(engine, import_roster, path, HORGOS)
    assert {(err.row, err.column) for err in e.errors} == {(7, "身份证号"), (7, "学段")}
    assert count(engine, Teacher) == 0 and count(engine, Registration) == 0 and count(engine, School) == 0


def test_refused_import_leaves_no_gap_in_numbers(engine, files):
    do(engine, import_roster, files.csv("a.csv", ROSTER_HEADER, [teacher_row(idn=id_number())]), HORGOS)
    dup = id_number()
    refused(
        engine,
        import_roster,
        files.csv("b.csv", ROSTER_HEADER, [teacher_row(idn=dup), teacher_row(idn=dup)]),
        HORGOS,
    )
    do(engine, import_roster, files.csv("c.csv", ROSTER_HEADER, [teacher_row(idn=id_number())]), HORGOS)
    with read_session(engine) as s:
        assert sorted(s.scalars(select(Registration.seq))) == [1, 2]


def test_duplicate_rows_and_inconsistent_school_names_are_named(engine, files):
    a = id_number()
    path = files.csv(
        "r.csv",
        ROSTER_HEADER,
        [
            teacher_row(idn=a),
            teacher_row(idn=a),
            teacher_row(idn=id_number(), school=("6540040001", "另一个名字")),
        ],
    )
    e = refused(engine, import_roster, path, HORGOS)
    msgs = {(err.row, err.message.split("（")[0]) for err in e.errors}
    assert (3, "与第 2 行重复") in msgs
    assert any(err.row == 4 and "第 2 行的名称" in err.message for err in e.errors)


def test_hire_before_working_age_is_refused(engine, files):
    path = files.csv(
        "r.csv", ROSTER_HEADER, [teacher_row(idn=id_number(born="20000101"), hired="2010-09-01")]
    )
    e = refused(engine, import_roster, path, HORGOS)
    assert e.errors[0].column == "入职日期" and "16 周岁" in e.errors[0].message


def test_xlsx_bom_csv_and_english_headers_all_import(engine, files):
    english = ["name", "id_number", "gender", "school_code", "school_name", "stage", "hired_on", "title"]
    a, b, c = id_number(), id_number(), id_number()
    do(engine, import_roster, files.xlsx("r.xlsx", ROSTER_HEADER, [teacher_row("甲", a)]), HORGOS)
    do(engine, import_roster, files.csv("r.csv", ROSTER_HEADER, [teacher_row("乙", b)], bom=True), HORGOS)
    do(engine, import_roster, files.csv("e.csv", english, [teacher_row("丙", c, stage="primary")]), HORGOS)
    with read_session(engine) as s:
        assert set(s.scalars(select(Teacher.name))) == {"甲", "乙", "丙"}


def test_xlsx_id_number_stored_as_number_is_refused_with_a_hint(engine, files):
    row = teacher_row()
    row[1] = 654004198503120028
    e = refused(engine, import_roster, files.xlsx("r.xlsx", ROSTER_HEADER, [row]), HORGOS)
    assert "设为“文本”" in e.errors[0].message


def test_missing_column_undecodable_text_and_old_xls_are_refused_with_the_reason(engine, files):
    e = refused(engine, import_roster, files.csv("r.csv", ROSTER_HEADER[:-3], [teacher_row()[:-3]]), HORGOS)
    assert {err.message for err in e.errors} >= {"缺少必需的列「入职日期」（或 hired_on）"}
    neither = files.folder / "n.csv"  # 0x80 begins no character in UTF-8 or in GB18030
    neither.write_bytes(",".join(ROSTER_HEADER).encode("gb18030") + b"\n\x80\x80\n")
    [err] = refused(engine, import_roster, neither, HORGOS).errors
    assert "既不是 UTF-8 编码，也不是 GB18030" in err.message and "neither UTF-8" in err.detail
    xls = files.folder / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    assert ".xls" in refused(engine, import_roster, xls, HORGOS).errors[0].message


# Names whose characters GBK holds only in its extension (喆 堃) or GB18030
# alone, in four bytes (𠀀 is not a name: in the school's name it needs no check)
GB_NAMES = ["热依拉·阿不都热合曼", "张喆堃", "阿依古丽·买买提"]


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_gb18030_file_as_chinese_excel_saves_it_is_read_and_says_so(engine, files, encoding):
    ids = [id_number() for _ in GB_NAMES]
    school = ("6540040001", "霍尔果斯市第一小学" if encoding == "gbk" else "霍尔果斯市𠀀实验小学")
    path = files.csv(
        "名册.csv",
        ROSTER_HEADER,
        [teacher_row(n, i, school=school) for n, i in zip(GB_NAMES, ids, strict=True)],
        encoding=encoding,
    )
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # what the test is about: bytes that are not UTF-8
    result = do(engine, import_roster, path, HORGOS)
    assert result.created == 3
    assert any("按 GB18030 编码读取" in n and "read as GB18030" in n for n in result.notes), result.notes
    with read_session(engine) as s:
        assert dict(s.execute(select(Teacher.id_number, Teacher.name)).all()) == dict(
            zip(ids, GB_NAMES, strict=True)
        )
        assert s.scalar(select(School.name)) == school[1]
    # the same text in UTF-8, with or without BOM, is read as UTF-8 and says nothing of it
    for bom in (False, True):
        again = files.csv(
            "u.csv",
            ROSTER_HEADER,
            [teacher_row(n, i, school=school) for n, i in zip(GB_NAMES, ids, strict=True)],
            bom=bom,
        )
        result = do(engine, import_roster, again, HORGOS)
        assert result.unchanged == 3 and not any("GB18030" in n for n in result.notes)


def test_records_and_projects_in_gb18030_are_read_too(engine, files):
    a = id_number()
    do(engine, import_roster, files.csv("r.csv", ROSTER_HEADER, [teacher_row("张喆堃", a)]), HORGOS)
    p = do(
        engine,
        import_projects,
        files.csv("p.csv", PROJECT_HEADER, [project_row("HEGS-2025-01")], encoding="gb18030"),
    )
    r = do(
        engine,
        import_records,
        files.csv(
            "rec.csv", RECORD_HEADER, [record_row(a, "HEGS-2025-01", grade="优秀")], encoding="gb18030"
        ),
    )
    assert (p.created, r.created) == (1, 1)
    assert all(any("GB18030" in n for n in x.notes) for x in (p, r))


def test_a_file_named_xlsx_that_is_not_one_is_refused_as_such(engine, files):
    """Judged by content: a zip is read as XLSX whatever its name; an .xlsx
    name on a CSV (here in GB18030) is not read as text."""
    fake = files.folder / "名册.xlsx"
    fake.write_bytes(
        ",".join(ROSTER_HEADER).encode("gb18030") + b"\n" + ",".join(teacher_row("张喆堃")).encode("gb18030")
    )
    [err] = refused(engine, import_roster, fake, HORGOS).errors
    assert "不是有效的 .xlsx 文件" in err.message and "not a valid XLSX" in err.detail
    assert "UTF-8" not in err.message + err.detail and "GB18030" not in err.message
    cut = files.folder / "cut.xlsx"  # a zip's beginning, its end lost
    cut.write_bytes(files.xlsx("whole.xlsx", ROSTER_HEADER, [teacher_row()]).read_bytes()[:300])
    [err] = refused(engine, import_roster, cut, HORGOS).errors
    assert "不是有效的 .xlsx 文件" in err.message
    named_csv = files.folder / "really-xlsx.csv"  # a workbook under a .csv name is read as one
    named_csv.write_bytes((files.folder / "whole.xlsx").read_bytes())
    assert do(engine, import_roster, named_csv, HORGOS).created == 1
    assert count(engine, Teacher) == 1


def test_a_new_school_code_is_refused_unless_new_schools_are_expected(engine, files):
    first = do(
        engine,
        import_roster,
        files.csv(
            "r1.csv",
            ROSTER_HEADER,
            [teacher_row(idn=id_number()), teacher_row(idn=id_number(), school=("6540040002", "二中"))],
        ),
        HORGOS,
    )
    # the first roster has nothing to compare with: it makes the bureau's schools, and says so
    assert first.new_schools == ["6540040001", "6540040002"]
    assert any("首次导入" in n and "新建学校 2 所" in n for n in first.notes), first.notes
    typo, new = ("6540040010", "霍尔果斯市第一小学"), ("6540040003", "霍尔果斯市第三小学")
    rows = [
        teacher_row(idn=id_number()),
        teacher_row(idn=id_number(), school=typo),
        teacher_row(idn=id_number(), school=new),
        teacher_row(idn=id_number(), school=typo),
        teacher_row("王五", id_number(), stage="大学"),  # a bad row: reported with the new codes
    ]
    path = files.csv("r2.csv", ROSTER_HEADER, rows)
    e = refused(engine, import_roster, path, HORGOS)
    assert [(err.row, err.column, err.value) for err in e.errors] == [
        (3, "学校代码", typo[0]),
        (4, "学校代码", new[0]),
        (6, "学段", "大学"),
    ]
    assert "见第 3、5 行" in e.errors[0].message and "--new-schools" in e.errors[0].message
    assert "rows 3, 5;" in e.errors[0].detail and "--new-schools" in e.errors[0].detail
    assert count(engine, School) == 2 and count(engine, Teacher) == 2  # nothing stored
    rows.pop()
    result = do(engine, import_roster, files.csv("r3.csv", ROSTER_HEADER, rows), HORGOS, new_schools=True)
    assert result.created == 4 and result.new_schools == [typo[0], new[0]]
    assert any(
        "新建学校 2 所" in n and typo[0] in n and new[0] in n and "首次" not in n for n in result.notes
    )
    assert count(engine, School) == 4
    # known codes need no flag, and a file of known codes creates none
    again = do(
        engine,
        import_roster,
        files.csv("r4.csv", ROSTER_HEADER, [teacher_row(idn=id_number(), school=new)]),
        HORGOS,
    )
    assert again.created == 1 and again.new_schools == [] and count(engine, School) == 4


class _Undo(Exception):
    pass


@pytest.mark.parametrize("kind", ["roster", "projects", "records"])
def test_progress_is_reported_by_stage_and_changes_nothing_the_import_does(engine, files, monkeypatch, kind):
    from issuer.ledger.importing import progress

    monkeypatch.setattr(progress, "EVERY", 3)  # a report every 3 rows: several in a small file
    a = _setup_projects_and_teacher(engine, files)
    n = 10
    projects = [project_row(f"P-{i}") for i in range(n)]
    args = (HORGOS,) if kind == "roster" else ()
    if kind == "roster":
        fn, path = (
            import_roster,
            files.csv("r2.csv", ROSTER_HEADER, [teacher_row(idn=id_number()) for _ in range(n)]),
        )
    elif kind == "projects":
        fn, path = import_projects, files.csv("p2.csv", PROJECT_HEADER, projects)
    else:
        do(engine, import_projects, files.csv("p2.csv", PROJECT_HEADER, projects))
        fn, path = (
            import_records,
            files.csv("rec.csv", RECORD_HEADER, [record_row(a, f"P-{i}") for i in range(n)]),
        )
    with pytest.raises(_Undo), write_session(engine) as s:  # the import without progress, rolled back
        plain = fn(s, path, *args)
        raise _Undo
    calls = []
    shown = do(engine, fn, path, *args, progress=lambda *c: calls.append(c))
    assert shown == plain and shown.created == n
    stages = [stage for stage, _, _ in calls]
    assert stages == sorted(stages, key=["read", "check", "write"].index)  # one stage after another
    for stage in ("read", "check", "write"):
        mine = [(done, total) for s_, done, total in calls if s_ == stage]
        assert mine[-1] == (n, n), (stage, mine)  # each ends with every row
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
        assert len(mine) >= 3, (stage, mine)  # reported as it goes, not only at the end
    assert all(total in (None, n) for _, _, total in calls)


def _setup_projects_and_teacher(engine, files):
    a = id_number()
    do(engine, import_roster, files.csv("r.csv", ROSTER_HEADER, [teacher_row(idn=a)]), HORGOS)
    do(
        engine,
        import_projects,
        files.csv(
            "p.csv",
            PROJECT_HEADER,
            [
                project_row("HEGS-2025-01"),
                project_row("XJ-2024-01", level="自治区级", hours="12.5", year="2024"),
            ],
        ),
    )
    return a


def test_records_import_is_idempotent_and_corrections_update(engine, files):
    a = _setup_projects_and_teacher(engine, files)
    rows = [record_row(a, "HEGS-2025-01"), record_row(a, "XJ-2024-01", grade="优秀", done="2024-05-02")]
    r1 = do(engine, import_records, files.csv("rec.csv", RECORD_HEADER, rows))
    r2 = do(engine, import_records, files.csv("rec.csv", RECORD_HEADER, rows))
    assert (r1.created, r2.created, r2.unchanged) == (2, 0, 2)
    rows[0] = record_row(a, "HEGS-2025-01", grade="不合格")
    r3 = do(engine, import_records, files.csv("rec2.csv", RECORD_HEADER, rows))
    assert (r3.updated, r3.unchanged) == (1, 1) and "pass → fail" in r3.changes[0]
    with read_session(engine) as s:
        assert s.scalar(select(Project.hours).where(Project.code == "XJ-2024-01")) == __import__(
            "decimal"
        ).Decimal("12.50")


def test_records_naming_unknown_teacher_or_project_are_refused_whole(engine, files):
    a = _setup_projects_and_teacher(engine, files)
    stranger = id_number(region="654002")
    path = files.csv(
        "rec.csv",
        RECORD_HEADER,
        [
            record_row(a, "HEGS-2025-01"),
            record_row(stranger, "HEGS-2025-01"),
            record_row(a, "NOPE-9"),
            record_row(a, "HEGS-2025-01", role="老师"),
        ],
    )
    e = refused(
        engine,
        import_records,
        path,
    )
    found = {(err.row, err.column) for err in e.errors}
    # row 5 repeats row 2 (same teacher, same project) as well as naming a bad role
    assert found == {(3, "身份证号"), (4, "项目编号"), (5, "角色"), (5, "项目编号")}
    assert stranger not in " ".join(err.value for err in e.errors)  # masked in the report
    assert count(engine, TrainingRecord) == 0


def test_a_completion_date_after_today_is_refused_with_its_row_and_nothing_stored(engine, files):
    from verifier.clock import today_in_china

    a = _setup_projects_and_teacher(engine, files)
    tomorrow = (today_in_china() + __import__("datetime").timedelta(days=1)).isoformat()
    path = files.csv(
        "rec.csv",
        RECORD_HEADER,
        [
            record_row(a, "HEGS-2025-01", done=today_in_china().isoformat()),  # today is allowed
            record_row(a, "XJ-2024-01", done=tomorrow),
        ],
    )
    e = refused(engine, import_records, path)
    assert [(err.row, err.column) for err in e.errors] == [(3, "完成日期")]
    assert "晚于今天" in e.errors[0].message and tomorrow in e.errors[0].message
    assert count(engine, TrainingRecord) == 0


def test_projects_validate_enumerations_hours_and_duplicates(engine, files):
    path = files.csv(
        "p.csv",
        PROJECT_HEADER,
        [
            project_row("A-1", level="省部级"),
            project_row("A-2", hours="0"),
            project_row("A-3", mode="函授"),
            project_row("A-3"),
            project_row("A-4", approved="也许"),
        ],
    )
    e = refused(engine, import_projects, path)
    assert {(err.row, err.column) for err in e.errors} == {
        (2, "项目级别"),
        (3, "学时"),
        (4, "培训形式"),
        (5, "项目编号"),
        (6, "是否备案"),
    }
    assert count(engine, Project) == 0
