"""Training records (培训记录). Records the bureau imports are recognised
at once (docs/formats.md); a later import of the same teacher and project
corrects the record. A school's registrar declares (申报) records of her
own school's teachers instead: they wait, as "declared", for the bureau to
recognise them, and a record the bureau already recognised is not hers to
change."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import QueryableAttribute, Session

from issuer.ledger.importing import fields as f
from issuer.ledger.importing import limits
from issuer.ledger.numbering import chunks
from issuer.models import Project, Teacher, TrainingRecord, utcnow
from verifier.numbers import mask_id_number
from verifier.vocab import GRADES, ROLES

from .progress import WRITE, Counter, Progress
from .reader import Column, Source, Table, find_duplicates, parse_rows, read_table
from .recording import log_batch
from .report import ErrorList, ImportRefused, ImportResult, RowError

_GRADES = f.options(*GRADES.items(), synonyms={"failed": "fail", "passed": "pass", "及格": "pass"})
_ROLES = f.options(
    *ROLES.items(),
    synonyms={
        "主讲教师": "lead-trainer",
        "leadtrainer": "lead-trainer",
        "lead": "lead-trainer",
        "学员教师": "trainee",
        "参训": "trainee",
    },
)

COLUMNS = [
    Column("id_number", "身份证号", "id_number", f.id_number),
    Column("project_code", "项目编号", "project_code", lambda v: f.code(v, max_len=64, what="项目编号")),
    Column("grade", "考核等次", "grade", lambda v: f.choice(v, _GRADES, what="考核等次")),
    Column("role", "角色", "role", lambda v: f.choice(v, _ROLES, what="角色")),
    Column("completed_on", "完成日期", "completed_on", lambda v: f.past_date(v, what="完成日期")),
]
_FIELDS = ("grade", "role", "completed_on", "status")


@dataclass(frozen=True)
class RecordRow:
    row: int
    id_number: str
    project_code: str
    grade: str
    role: str
    completed_on: date
    status: str = "recognised"  # the bureau's own import recognises at once


def validate(
    session: Session, source: Path | Source, school: str | None = None, progress: Progress | None = None
) -> tuple[list[RecordRow], dict[str, int], Table]:
    """Rows, and the teacher id of each ID number; refuses the file if any
    row is bad, names an unknown teacher or project (or, for a school's
    declaration, another school's teacher), or repeats a pair."""
    table = read_table(source, COLUMNS, limits.RECORDS if school is None else limits.DECLARATION, progress)
    parsed, errors = parse_rows(table, COLUMNS, progress)
    rows = [RecordRow(row=p.row, **p.values) for p in parsed if p.ok]
    q = select(Teacher.id_number, Teacher.id)
    if school is not None:
        q = q.where(Teacher.school_code == school)  # another school's teacher is "not in the roster"
    teachers = _lookup(session, q, Teacher.id_number, {r.id_number for r in rows})
    projects = _lookup(
        session, select(Project.code, Project.code), Project.code, {r.project_code for r in rows}
    )
    h = table.headers
    errors += [
        RowError(
            p.row,
            h["project_code"],
            p.values["project_code"],
            f"与第 {first} 行重复（同一教师、同一项目）",
            f"duplicate of row {first} (same teacher and project)",
        )
        for p, first in find_duplicates(parsed, ("id_number", "project_code"))
    ]
    for r in rows:
        if r.id_number not in teachers:
            errors.append(
                RowError(
                    r.row,
                    h["id_number"],
                    mask_id_number(r.id_number),
                    "该身份证号不在本校教师名册中" if school else "该身份证号不在教师名册中：请先导入名册",
                    f"no teacher of school {school} with this ID number"
                    if school
                    else "no teacher with this ID number in the roster; import the roster first",
                )
            )
        if r.project_code not in projects:
            errors.append(
                RowError(
                    r.row,
                    h["project_code"],
                    r.project_code,
                    "未知的项目编号：该项目未导入备案项目清单",
                    "unknown project code; import the approved projects first",
                )
            )
    if errors:
        raise ImportRefused(table.file, errors)
    return rows, teachers, table


V = TypeVar("V")


def _lookup(
    session: Session, query: Select[str, V], key_col: QueryableAttribute[str], keys: set[str]
) -> dict[str, V]:
    out: dict[str, V] = {}
    for part in chunks(sorted(keys)):
        out.update(session.execute(query.where(key_col.in_(part))).all())
    return out


def import_records(
    session: Session, file: Path | Source, *, school: str | None = None, progress: Progress | None = None
) -> ImportResult:
    """The bureau's import (recognised at once), or with `school` a school's
    declaration (declared, waiting for recognition). `file`: a path, or a
    Source (an upload's bytes, or the office API's rows). `progress` is told
    how far it has got (progress.py)."""
    source = Source.of(file)
    rows, teachers, table = validate(session, source, school, progress)
    name = table.file
    if school is not None:
        rows = [replace(r, status="declared") for r in rows]
    result = ImportResult("records", name, len(rows))
    result.notes += table.notes
    # what is stored already is read first: the bar starts before that read
    written = Counter(progress, WRITE, len(rows)).start()
    existing: dict[tuple[int, str], TrainingRecord] = {}
    for part in chunks(sorted(set(teachers.values()))):
        for stored in session.scalars(select(TrainingRecord).where(TrainingRecord.teacher_id.in_(part))):
            existing[(stored.teacher_id, stored.project_code)] = stored
    if school is not None:
        _refuse_recognised(rows, teachers, existing, name)
    now = utcnow()
    new: list[dict[str, Any]] = []
    for r in rows:
        tid = teachers[r.id_number]
        rec = existing.get((tid, r.project_code))
        if rec is None:
            new.append(
                {
                    "teacher_id": tid,
                    "project_code": r.project_code,
                    "grade": r.grade,
                    "role": r.role,
                    "completed_on": r.completed_on,
                    "status": r.status,
                    "recognised_at": now if r.status == "recognised" else None,
                    "declared_by": school,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            continue
        written.add()  # a stored record, compared (and updated in memory)
        label = f"第 {r.row} 行 {mask_id_number(r.id_number)} {r.project_code}"
        if result.update(rec, r, _FIELDS, label):
            if r.status == "recognised":
                rec.recognised_at = now
            else:  # a declaration again: the earlier review no longer applies
                rec.declared_by, rec.recognised_at, rec.reviewed_by, rec.reject_reason = (
                    school,
                    None,
                    None,
                    None,
                )
    for batch in chunks(new, 5000):
        session.execute(TrainingRecord.__table__.insert(), list(batch))
        written.add(len(batch))
    result.created = len(new)
    session.flush()
    log_batch(session, source, result)
    written.finish()
    return result


def _refuse_recognised(
    rows: list[RecordRow],
    teachers: dict[str, int],
    existing: dict[tuple[int, str], TrainingRecord],
    file: str,
) -> None:
    errors = ErrorList()
    errors += (
        RowError(
            r.row,
            "项目编号",
            r.project_code,
            "该记录已由教育局认定，学校不能再修改；如需更正请联系教育局",
            "the bureau has recognised this record; a school cannot change it",
        )
        for r in rows
        if (rec := existing.get((teachers[r.id_number], r.project_code))) is not None
        and rec.status == "recognised"
    )
    if errors:
        raise ImportRefused(file, errors)
