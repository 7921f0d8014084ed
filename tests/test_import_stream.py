"""The records import streams its file chunk by chunk (issue 18) and stays
all or nothing: a bad row in any chunk stores nothing and leaves what was
stored as it was, every bad row is still named, repeats are caught across
chunks, the progress reaches every row, and memory does not grow with the
rows' contents. On SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import tracemalloc
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from issuer.db import read_session, write_session
from issuer.ledger.importing import records
from issuer.ledger.importing.projects import import_projects
from issuer.ledger.importing.reader import Source
from issuer.ledger.importing.records import import_records
from issuer.ledger.importing.report import ImportRefused
from issuer.ledger.importing.roster import import_roster
from issuer.models import ImportBatch, School, TrainingRecord
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
SCHOOL = ("6540040001", "霍尔果斯市第一小学")
CHUNK = 4  # rows a chunk in these tests: a file of 20 rows is 5 chunks


def do(engine, fn, *args, **kw):
    with write_session(engine) as s:
        return fn(s, *args, **kw)


def refused(engine, fn, *args, **kw) -> ImportRefused:
    with pytest.raises(ImportRefused) as e:
        do(engine, fn, *args, **kw)
    return e.value


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(records, "CHUNK", CHUNK)


@pytest.fixture
def ledger(engine, files):
    """Three teachers of one school and eight projects, imported."""
    ids = [id_number() for _ in range(3)]
    do(
        engine,
        import_roster,
        files.csv("r.csv", ROSTER_HEADER, [teacher_row(idn=i, school=SCHOOL) for i in ids]),
        HORGOS,
    )
    do(engine, import_projects, files.csv("p.csv", PROJECT_HEADER, [project_row(f"P-{j}") for j in range(8)]))
    return ids


def _rows(ids, n=20):
    """n distinct (teacher, project) records, teacher by teacher."""
    pairs = [(i, f"P-{j}") for i in ids for j in range(8)][:n]
    return [record_row(i, code) for i, code in pairs]


def _stored(engine):
    """Everything of the records a failed import must not touch, and the ledger's version."""
    t = TrainingRecord
    with read_session(engine) as s:
        rows = s.execute(
            select(
                t.id, t.teacher_id, t.project_code, t.grade, t.role, t.completed_on, t.status, t.updated_at
            ).order_by(t.id)
        ).all()
        version = s.scalar(text("SELECT version FROM ledger_version"))
        batches = s.scalar(select(ImportBatch.id).order_by(ImportBatch.id.desc()).limit(1))
    return rows, version, batches


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_bad_row_in_any_chunk_stores_nothing_and_keeps_what_was_stored(
    engine, files, ledger, small_chunks, where
):
    do(engine, import_records, files.csv("before.csv", RECORD_HEADER, _rows(ledger, 6)))
    before = _stored(engine)
    rows = _rows(ledger, 20)  # six already stored, fourteen new
    rows[2] = record_row(ledger[0], "P-2", grade="优秀")  # a correction of a stored record
    bad = 0 if where == "first" else len(rows) - 1
    rows[bad] = record_row(rows[bad][0], rows[bad][1], done="2025-13-01")
    e = refused(engine, import_records, files.csv("rec.csv", RECORD_HEADER, rows))
    assert [(err.row, err.column) for err in e.errors] == [(bad + 2, "完成日期")]
    assert _stored(engine) == before  # nothing new, nothing corrected, the counter as it was


def test_every_bad_row_is_named_whichever_chunk_it_is_in(engine, files, ledger, small_chunks):
    rows = _rows(ledger, 20)
    rows[0][2] = "很好"  # chunk 1: a grade
    rows[9][0] = id_number(region="654002")  # chunk 3: a teacher not in the roster
    rows[19][1] = "NOPE-1"  # chunk 5: an unknown project
    e = refused(engine, import_records, files.csv("rec.csv", RECORD_HEADER, rows))
    assert [(err.row, err.column) for err in e.errors] == [
        (2, "考核等次"),
        (11, "身份证号"),
        (21, "项目编号"),
    ]
    assert _stored(engine)[0] == []


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_repeat_in_a_later_chunk_is_caught_and_names_the_first_row(
    engine, files, ledger, small_chunks, kind
):
    rows = _rows(ledger, 20)
    rows.insert(13, list(rows[1]))  # row 15 repeats row 3, three chunks later
    rows.append(record_row(ledger[2], "P-3", grade="良好"))  # row 23 repeats row 22 (other cells differ)
    path = getattr(files, kind)(f"rec.{kind}", RECORD_HEADER, rows)
    e = refused(engine, import_records, path)
    assert [(err.row, err.column, err.detail) for err in e.errors] == [
        (15, "项目编号", "duplicate of row 3 (same teacher and project)"),
        (23, "项目编号", "duplicate of row 22 (same teacher and project)"),
    ]
    assert _stored(engine)[0] == []


def test_a_file_of_many_chunks_imports_and_imports_again_unchanged(engine, files, ledger, small_chunks):
    rows = _rows(ledger, 22)
    path = files.csv("rec.csv", RECORD_HEADER, rows)
    first = do(engine, import_records, path)
    assert (first.rows, first.created) == (22, 22)
    again = do(engine, import_records, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 22)
    rows[21] = record_row(rows[21][0], rows[21][1], grade="不合格")  # the last chunk's last row
    rows[0] = record_row(rows[0][0], rows[0][1], role="主讲")
    corrected = do(engine, import_records, files.csv("rec2.csv", RECORD_HEADER, rows))
    assert (corrected.created, corrected.updated, corrected.unchanged) == (0, 2, 20)
    assert corrected.changes[0].startswith("第 2 行") and "trainee → lead-trainer" in corrected.changes[0]
    assert corrected.changes[1].startswith("第 23 行") and "pass → fail" in corrected.changes[1]
    with read_session(engine) as s:
        t = TrainingRecord
        assert s.execute(select(t.role, t.grade).where(t.role == "lead-trainer").order_by(t.id)).all() == [
            ("lead-trainer", "pass")
        ]
        assert s.scalar(select(t.project_code).where(t.grade == "fail")) == "P-5"


def test_a_refusal_rolls_back_only_the_import_not_the_callers_other_work(engine, files, ledger, small_chunks):
    rows = _rows(ledger, 20)
    rows[-1][3] = "老师"
    with write_session(engine) as s:
        s.add(School(code="6540049999", name="别的工作"))
        with pytest.raises(ImportRefused):
            import_records(s, files.csv("rec.csv", RECORD_HEADER, rows))
    with read_session(engine) as s:
        assert s.get(School, "6540049999") is not None
    assert _stored(engine)[0] == []


def test_a_declaration_touching_recognised_records_in_later_chunks_names_each_and_stores_nothing(
    engine, files, ledger, small_chunks
):
    bureau = [record_row(ledger[0], "P-6"), record_row(ledger[2], "P-7")]  # rows 8 and 25 of the declaration
    do(engine, import_records, files.csv("bureau.csv", RECORD_HEADER, bureau))
    before = _stored(engine)
    rows = _rows(ledger, 24)
    e = refused(engine, import_records, Source("decl.csv", _csv_bytes(rows)), school=SCHOOL[0])
    assert [(err.row, err.detail) for err in e.errors] == [
        (8, "the bureau has recognised this record; a school cannot change it"),
        (25, "the bureau has recognised this record; a school cannot change it"),
    ]
    assert _stored(engine) == before
    rows[20][2] = "很好"  # a bad row comes first: the file's own errors alone, as before
    e = refused(engine, import_records, Source("decl.csv", _csv_bytes(rows)), school=SCHOOL[0])
    assert [(err.row, err.column) for err in e.errors] == [(22, "考核等次")]
    assert _stored(engine) == before


def test_progress_reaches_every_row_in_each_stage(engine, files, ledger, small_chunks, monkeypatch):
    from issuer.ledger.importing import progress

    monkeypatch.setattr(progress, "EVERY", 3)
    n = 22
    calls: list[tuple[str, int, int | None]] = []
    do(
        engine,
        import_records,
        files.csv("rec.csv", RECORD_HEADER, _rows(ledger, n)),
        progress=lambda *c: calls.append(c),
    )
    for stage in ("read", "check", "write"):
        mine = [(done, total) for s_, done, total in calls if s_ == stage]
        assert mine[-1] == (n, n), (stage, mine)
        assert [d for d, _ in mine] == sorted(d for d, _ in mine)
        assert all(total in (None, n) for _, total in mine)  # a CSV's rows are known from its lines
        assert len(mine) >= 4, (stage, mine)  # chunk by chunk, not only at the end
    # the stages go on together: some rows are written before the last is read
    first_write = next(i for i, c in enumerate(calls) if c[0] == "write")
    last_read = max(i for i, c in enumerate(calls) if c[0] == "read")
    assert first_write < last_read


def test_progress_of_an_xlsx_counts_rows_without_knowing_them_first(engine, files, ledger, small_chunks):
    n = 10
    calls: list[tuple[str, int, int | None]] = []
    do(
        engine,
        import_records,
        files.xlsx("rec.xlsx", RECORD_HEADER, _rows(ledger, n)),
        progress=lambda *c: calls.append(c),
    )
    for stage in ("read", "check", "write"):
        assert [c for c in calls if c[0] == stage][-1] == (stage, n, n)


def _csv_bytes(rows) -> bytes:
    return "\n".join(",".join(r) for r in [RECORD_HEADER, *rows]).encode() + b"\n"


def test_memory_stays_bounded_by_the_file_not_its_rows(engine, files):
    """A 30,000-row file: the import holds the file's bytes and its text,
    two integers a pair for the repeats check, and a chunk. The import
    that held the whole file as cells, then parsed, then as rows to insert
    peaked at 36 MB here (tracemalloc), about 1.2 KB a row: over the bound."""
    n_teachers, n_projects = 1_000, 30
    teachers = [id_number(seq=k) for k in range(n_teachers)]
    roster = [teacher_row(idn=i, school=SCHOOL) for i in teachers]
    do(engine, import_roster, files.csv("r.csv", ROSTER_HEADER, roster), HORGOS)
    projects = [project_row(f"P-{j}") for j in range(n_projects)]
    do(engine, import_projects, files.csv("p.csv", PROJECT_HEADER, projects))
    rows = [record_row(i, f"P-{j}") for i in teachers for j in range(n_projects)]
    path = files.csv("rec.csv", RECORD_HEADER, rows)
    n, size = len(rows), path.stat().st_size
    del rows, roster
    gc.collect()
    tracemalloc.start()
    try:
        with write_session(engine) as s:
            result = import_records(s, path)
            peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.created == n
    # the file (its bytes and text: three times its size at most), 200 bytes a row for the repeats check
    bound = 3 * size + 200 * n + 8 * 2**20
    assert peak < bound, (peak / 2**20, bound / 2**20)


def test_what_is_written_reads_back_as_the_file_said(engine, files, ledger):
    """The bulk writes (SQLite's executemany, PostgreSQL's COPY) store what
    SQLAlchemy would: dates, times with their zone, nulls."""
    rows = [
        record_row(ledger[0], "P-1", grade="优秀", role="主讲", done="2024-02-29"),
        record_row(ledger[1], "P-2"),
    ]
    do(engine, import_records, files.csv("bureau.csv", RECORD_HEADER, rows))
    do(
        engine,
        import_records,
        Source("decl.csv", _csv_bytes([record_row(ledger[2], "P-3")])),
        school=SCHOOL[0],
    )
    t = TrainingRecord
    with read_session(engine) as s:
        got = s.scalars(select(t).order_by(t.id)).all()
    assert [(r.project_code, r.grade, r.role, r.completed_on.isoformat(), r.status) for r in got] == [
        ("P-1", "excellent", "lead-trainer", "2024-02-29", "recognised"),
        ("P-2", "pass", "trainee", "2025-06-01", "recognised"),
        ("P-3", "pass", "trainee", "2025-06-01", "declared"),
    ]
    bureau, _, declared = got
    assert bureau.declared_by is None and declared.declared_by == SCHOOL[0]
    assert bureau.recognised_at is not None and declared.recognised_at is None
    assert bureau.created_at == bureau.updated_at == bureau.recognised_at
    assert (
        abs(
            (
                datetime.now(UTC) - bureau.created_at.replace(tzinfo=bureau.created_at.tzinfo or UTC)
            ).total_seconds()
        )
        < 300
    )


def test_a_record_the_callers_session_holds_reads_the_correction(engine, files, ledger):
    do(engine, import_records, files.csv("a.csv", RECORD_HEADER, [record_row(ledger[0], "P-1")]))
    with write_session(engine) as s:
        held = s.scalars(select(TrainingRecord)).one()
        assert held.grade == "pass"
        import_records(s, files.csv("b.csv", RECORD_HEADER, [record_row(ledger[0], "P-1", grade="不合格")]))
        assert held.grade == "fail"


def test_an_import_moves_the_ledger_version_once_and_leaves_the_triggers_on(
    engine, files, ledger, small_chunks
):
    """On SQLite the table's row triggers are dropped inside the import's
    savepoint and made again before it ends (issuer/ledger/version.py), and
    the version goes up once; afterwards they are as they were and an
    ordinary write bumps it again. PostgreSQL bumps once a transaction."""
    _, before, _ = _stored(engine)
    triggers = _triggers(engine)
    do(engine, import_records, files.csv("rec.csv", RECORD_HEADER, _rows(ledger, 20)))
    rows, after, _ = _stored(engine)
    assert len(rows) == 20 and after == before + 1
    assert _triggers(engine) == triggers
    do(engine, import_records, files.csv("again.csv", RECORD_HEADER, _rows(ledger, 20)))
    assert (
        _stored(engine)[1] == after
    )  # all unchanged: nothing written, no bump (the office keeps its sheets)
    with write_session(engine) as s:
        s.execute(text("UPDATE training_records SET grade = grade WHERE id = :id"), {"id": rows[0].id})
    assert _stored(engine)[1] == after + 1


def test_a_refused_import_leaves_the_triggers_as_they_were(engine, files, ledger, small_chunks):
    triggers = _triggers(engine)
    rows = _rows(ledger, 20)
    rows[15] = record_row(rows[15][0], rows[15][1], done="2025-13-01")  # after some chunks were written
    refused(engine, import_records, files.csv("rec.csv", RECORD_HEADER, rows))
    assert _triggers(engine) == triggers


def _triggers(engine) -> list[tuple[str, str]]:
    """The ledger's triggers as the database holds them (SQLite: their text)."""
    with read_session(engine) as s:
        if engine.dialect.name == "sqlite":
            return [
                tuple(r)
                for r in s.execute(
                    text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
                )
            ]
        return [
            tuple(r)
            for r in s.execute(
                text(
                    "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"
                )
            )
        ]
