"""Training records (培训记录). Records the bureau imports are recognised
at once (FORMATS.md); a later import of the same teacher and project
corrects the record."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from verifier.numbers import mask_id_number
from verifier.vocab import GRADES, ROLES

from ..models import Project, Teacher, TrainingRecord, utcnow
from ..registration import chunks
from . import fields as f
from .reader import Column, find_duplicates, parse_rows, read_table
from .recording import log_batch
from .report import ImportRefused, ImportResult, RowError

_GRADES = f.options(*GRADES.items(), synonyms={"failed": "fail", "passed": "pass", "及格": "pass"})
_ROLES = f.options(*ROLES.items(), synonyms={"主讲教师": "lead-trainer", "leadtrainer": "lead-trainer",
                                               "lead": "lead-trainer", "学员教师": "trainee", "参训": "trainee"})

COLUMNS = [
    Column("id_number", "身份证号", "id_number", f.id_number),
    Column("project_code", "项目编号", "project_code", lambda v: f.code(v, max_len=64, what="项目编号")),
    Column("grade", "考核等次", "grade", lambda v: f.choice(v, _GRADES, what="考核等次")),
    Column("role", "角色", "role", lambda v: f.choice(v, _ROLES, what="角色")),
    Column("completed_on", "完成日期", "completed_on", lambda v: f.a_date(v, what="完成日期")),
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


def validate(session: Session, path: Path) -> tuple[list[RecordRow], dict[str, int], str]:
    """Rows, and the teacher id of each ID number; refuses the file if any
    row is bad, names an unknown teacher or project, or repeats a pair."""
    table = read_table(path, COLUMNS)
    parsed, errors = parse_rows(table, COLUMNS)
    rows = [RecordRow(row=p.row, **p.values) for p in parsed if p.ok]
    teachers = _lookup(session, Teacher.id_number, Teacher.id, {r.id_number for r in rows})
    projects = _lookup(session, Project.code, Project.code, {r.project_code for r in rows})
    h = table.headers
    errors += [RowError(p.row, h["project_code"], p.values["project_code"],
                        f"与第 {first} 行重复（同一教师、同一项目）",
                        f"duplicate of row {first} (same teacher and project)")
               for p, first in find_duplicates(parsed, ("id_number", "project_code"))]
    for r in rows:
        if r.id_number not in teachers:
            errors.append(RowError(r.row, h["id_number"], mask_id_number(r.id_number),
                                   "该身份证号不在教师名册中：请先导入名册",
                                   "no teacher with this ID number in the roster; import the roster first"))
        if r.project_code not in projects:
            errors.append(RowError(r.row, h["project_code"], r.project_code,
                                   "未知的项目编号：该项目未导入备案项目清单",
                                   "unknown project code; import the approved projects first"))
    if errors:
        raise ImportRefused(table.file, sorted(errors, key=lambda e: e.row or 0))
    return rows, teachers, table.file


def _lookup(session: Session, key_col, value_col, keys: set[str]) -> dict:
    out = {}
    for part in chunks(sorted(keys)):
        out.update(session.execute(select(key_col, value_col).where(key_col.in_(part))).all())
    return out


def import_records(session: Session, path: Path) -> ImportResult:
    rows, teachers, file = validate(session, path)
    result = ImportResult("records", file, len(rows))
    existing: dict[tuple[int, str], TrainingRecord] = {}
    for part in chunks(sorted(set(teachers.values()))):
        for rec in session.scalars(select(TrainingRecord).where(TrainingRecord.teacher_id.in_(part))):
            existing[(rec.teacher_id, rec.project_code)] = rec
    now = utcnow()
    new = []
    for r in rows:
        tid = teachers[r.id_number]
        rec = existing.get((tid, r.project_code))
        if rec is None:
            new.append({"teacher_id": tid, "project_code": r.project_code, "grade": r.grade,
                        "role": r.role, "completed_on": r.completed_on, "status": "recognised",
                        "recognised_at": now, "created_at": now, "updated_at": now})
            continue
        label = f"第 {r.row} 行 {mask_id_number(r.id_number)} {r.project_code}"
        if result.update(rec, r, _FIELDS, label):
            rec.recognised_at = now
    for part in chunks(new, 5000):
        session.execute(TrainingRecord.__table__.insert(), list(part))
    result.created = len(new)
    session.flush()
    log_batch(session, path, result)
    return result
