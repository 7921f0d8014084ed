"""The bureau's review of what schools declare (审核 → 认定): the queue of
declared records with the credits the rules would give each, recognising
or rejecting them (one by one, or a whole school at once), and entering
one record by hand. Every decision goes into the audit log; only
recognised records count on credit sheets and certificates.

A whole filter (a school, or one project of it) is decided at once only
for the number of records the person confirmed: if declarations arrived or
were decided in between, nothing changes and she is asked again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from issuer.certificates import audit
from issuer.errors import InputRefused, NotFound
from issuer.ledger.credits.engine import credit_record
from issuer.ledger.credits.sheet import RecordCredit, RecordInput
from issuer.ledger.importing import fields as f
from issuer.ledger.importing.records import COLUMNS
from issuer.models import Project, School, Teacher, TrainingRecord, utcnow
from verifier.numbers import mask_id_number
from verifier.profiles import RulesProfile

from .staff import Scope

STATUS_LABELS = {"declared": "待认定", "recognised": "已认定", "rejected": "已退回"}
MAX_REASON = 500


@dataclass(frozen=True)
class ReviewRow:
    id: int
    teacher: str
    id_masked: str
    school_code: str
    school: str
    project_code: str
    project: str
    completed_on: date
    grade: str
    role: str
    status: str
    reject_reason: str | None
    credit: RecordCredit  # what the rules would give it once recognised


def _rows_query(scope: Scope, school: str | None, status: str | None, project: str | None = None):
    school = scope.school_or_own(school)
    q = (
        select(TrainingRecord, Teacher, School, Project)
        .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
        .join(School, School.code == Teacher.school_code)
        .join(Project, Project.code == TrainingRecord.project_code)
    )
    if school:
        q = q.where(Teacher.school_code == school)
    if status:
        q = q.where(TrainingRecord.status == status)
    if project:
        q = q.where(TrainingRecord.project_code == project)
    return q


def records(
    session: Session,
    profile: RulesProfile,
    scope: Scope,
    *,
    school: str | None = None,
    status: str | None = "declared",
    project: str | None = None,
    limit: int = 500,
    offset: int = 0,
) -> list[ReviewRow]:
    q = _rows_query(scope, school, status, project).order_by(School.code, Teacher.id, TrainingRecord.id)
    return [_review_row(profile, *row) for row in session.execute(q.limit(limit).offset(offset))]


def count(
    session: Session,
    scope: Scope,
    *,
    school: str | None,
    status: str | None = "declared",
    project: str | None = None,
) -> int:
    """How many records `records` would list over all its pages (counted
    without the listing's school and project joins: every record has one
    teacher, one school and one project, so the number is the same)."""
    school = scope.school_or_own(school)
    q = select(func.count(TrainingRecord.id)).join(Teacher, Teacher.id == TrainingRecord.teacher_id)
    if school:
        q = q.where(Teacher.school_code == school)
    if status:
        q = q.where(TrainingRecord.status == status)
    if project:
        q = q.where(TrainingRecord.project_code == project)
    return session.scalar(q) or 0


def projects_of(
    session: Session, scope: Scope, school: str, status: str | None = "declared"
) -> list[tuple[str, str, int]]:
    """(project code, name, records) of one school's records in `status`:
    the queue's project filter offers these."""
    school_code = scope.school_or_own(school)
    q = (
        select(Project.code, Project.name, func.count(TrainingRecord.id))
        .join(TrainingRecord, TrainingRecord.project_code == Project.code)
        .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
        .where(Teacher.school_code == school_code)
        .group_by(Project.code, Project.name)
        .order_by(Project.code)
    )
    if status:
        q = q.where(TrainingRecord.status == status)
    return [(code, name, n) for code, name, n in session.execute(q)]


def pending_by_school(session: Session, scope: Scope) -> list[tuple[str, str, int]]:
    """(school code, name, declared records waiting) for every school with any."""
    q = (
        select(School.code, School.name, func.count(TrainingRecord.id))
        .join(Teacher, Teacher.school_code == School.code)
        .join(TrainingRecord, TrainingRecord.teacher_id == Teacher.id)
        .where(TrainingRecord.status == "declared")
        .group_by(School.code, School.name)
        .order_by(School.code)
    )
    if scope.school_code:
        q = q.where(School.code == scope.school_code)
    return [tuple(r) for r in session.execute(q)]


def _review_row(
    profile: RulesProfile, rec: TrainingRecord, teacher: Teacher, school: School, project: Project
) -> ReviewRow:
    preview = RecordInput(
        project.code,
        project.level,
        project.category,
        project.mode,
        project.hours,
        project.approved,
        project.kind,
        rec.grade,
        rec.role,
        rec.completed_on,
        True,
    )
    return ReviewRow(
        rec.id,
        teacher.name,
        mask_id_number(teacher.id_number),
        school.code,
        school.name,
        project.code,
        project.name,
        rec.completed_on,
        rec.grade,
        rec.role,
        rec.status,
        rec.reject_reason,
        credit_record(profile, preview, teacher.hired_on),
    )


def recognise(session: Session, scope: Scope, ids: list[int]) -> int:
    return _decide(session, scope, ids, "recognised", None)


def reject(session: Session, scope: Scope, ids: list[int], reason: str) -> int:
    return _decide(session, scope, ids, "rejected", _reason(reason))


def _reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())[:MAX_REASON]
    if not reason:
        raise InputRefused("退回须写明原因", "a rejection needs a reason")
    return reason


def recognise_school(session: Session, scope: Scope, school: str) -> int:
    """Every declared record of one school, in one decision."""
    return decide_all(session, scope, school, "recognised")


def decide_all(
    session: Session,
    scope: Scope,
    school: str,
    status: str,
    *,
    expected: int | None = None,
    reason: str | None = None,
    project: str | None = None,
) -> int:
    """Every declared record of one school (of one project of it, if given),
    recognised or rejected in one decision. With `expected`, the number the
    person was shown and confirmed, any other number refuses the whole
    decision: she agreed to that many records, not to ones declared since."""
    _require(scope, "review")
    if status not in ("recognised", "rejected"):
        raise InputRefused(f"未知的审核决定 {status!r}", f"unknown decision {status!r}")
    if session.get(School, school) is None or not scope.sees_school(school):
        raise NotFound(f"没有学校 {school}", f"no school {school!r}")
    checked_reason = _reason(reason) if status == "rejected" else None
    q = (
        select(TrainingRecord.id)
        .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
        .where(Teacher.school_code == school, TrainingRecord.status == "declared")
    )
    if project:
        q = q.where(TrainingRecord.project_code == project)
    ids = list(session.scalars(q))
    if expected is not None and len(ids) != expected:
        raise InputRefused(
            f"待认定记录现为 {len(ids)} 条，与确认时的 {expected} 条不同（其间有新的申报或审核），"
            "未作任何更改：请核对后重新确认",
            f"{len(ids)} records are pending, not the {expected} confirmed; nothing changed",
        )
    return _decide(session, scope, ids, status, checked_reason, school=school)


def _decide(
    session: Session, scope: Scope, ids: list[int], status: str, reason: str | None, school: str | None = None
) -> int:
    _require(scope, "review")
    ids = sorted(set(ids))
    if not ids:
        return 0
    found = dict(
        session.execute(
            select(TrainingRecord.id, Teacher.school_code)
            .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
            .where(TrainingRecord.id.in_(ids), TrainingRecord.status == "declared")
        ).all()
    )
    missing = [i for i in ids if i not in found or not scope.sees_school(found[i])]
    if missing:
        raise NotFound(
            f"{len(missing)} 条记录不存在或已处理（如 {missing[0]}），未作任何更改",
            f"records not found or no longer declared: {missing[:10]}; nothing changed",
        )
    now = utcnow()
    session.execute(
        update(TrainingRecord)
        .where(TrainingRecord.id.in_(ids))
        .values(
            status=status,
            reviewed_by=scope.actor,
            reject_reason=reason,
            recognised_at=now if status == "recognised" else None,
            updated_at=now,
        )
    )
    schools = sorted(set(found.values()))
    audit.append(
        session,
        scope.actor,
        [
            audit.Event(
                "records-recognise" if status == "recognised" else "records-reject",
                school or ",".join(schools),
                {"records": ids, "count": len(ids), **({"reason": reason} if reason else {})},
            )
        ],
    )
    return len(ids)


def declare_one(session: Session, scope: Scope, values: dict[str, str]) -> int:
    """One record entered in a form by a registrar: the same checks as a row
    of the import file. Returns the record's id."""
    _require(scope, "declare")
    parsed = {}
    for col in COLUMNS:
        raw = (values.get(col.key) or "").strip()
        try:
            parsed[col.key] = col.parse(raw)
        except f.FieldError as e:
            raise InputRefused(f"「{col.zh}」{e.message}", f"{col.key}: {e.detail}") from None
    q = select(Teacher).where(Teacher.id_number == parsed["id_number"])
    if scope.school_code:
        q = q.where(Teacher.school_code == scope.school_code)
    teacher = session.scalar(q)
    if teacher is None:
        raise InputRefused("该身份证号不在本校教师名册中", "no teacher of this school with this ID number")
    if session.get(Project, parsed["project_code"]) is None:
        raise InputRefused("未知的项目编号：该项目未导入备案项目清单", "unknown project code")
    rec = session.scalar(
        select(TrainingRecord).where(
            TrainingRecord.teacher_id == teacher.id, TrainingRecord.project_code == parsed["project_code"]
        )
    )
    if rec is not None and rec.status == "recognised":
        raise InputRefused(
            "该记录已由教育局认定，学校不能再修改；如需更正请联系教育局",
            "the bureau has recognised this record",
        )
    rec = rec or TrainingRecord(teacher_id=teacher.id, project_code=parsed["project_code"])
    rec.grade, rec.role, rec.completed_on = parsed["grade"], parsed["role"], parsed["completed_on"]
    rec.status, rec.declared_by, rec.recognised_at = "declared", teacher.school_code, None
    rec.reviewed_by, rec.reject_reason = None, None
    session.add(rec)
    session.flush()
    return rec.id


def _require(scope: Scope, permission: str) -> None:
    if not scope.can(permission):
        raise NotFound("没有此功能", f"role {scope.role} may not {permission}")
