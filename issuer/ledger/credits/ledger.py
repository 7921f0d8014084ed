"""Credit sheets from the database: one teacher's, or every teacher's of a
cycle in one streaming pass."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby

from sqlalchemy import ColumnElement, Connection, Row, Select, select
from sqlalchemy.orm import Session

from issuer.errors import InputRefused, NotFound
from issuer.ledger.importing import fields as f
from issuer.models import Project, Registration, School, Teacher, TrainingRecord
from verifier.numbers import CertificateNumber, NumberFormatError, half_width
from verifier.profiles import RulesProfile

from .engine import Creditor, sheet_of_credits
from .sheet import CreditSheet, RecordInput, TeacherInput

STREAM_BATCH = 5000


@dataclass(frozen=True)
class Holder:
    teacher_id: int
    number: str
    name: str
    id_number: str
    school_code: str
    school_name: str
    hired_on: date
    title: str | None

    def engine_input(self) -> TeacherInput:
        return TeacherInput(self.number, self.hired_on, self.title)


def registered(profile: RulesProfile, *, by_teacher: bool = False) -> list[ColumnElement[bool]]:
    """Registered in the profile's cycle by its bureau. `by_teacher`: for a
    query bounded by a range of teacher ids. Written so that no index serves
    it (`+ 0`, `|| ''`), the planner then walks that range of teachers
    instead of every registration of the cycle (SQLite took the
    (bureau_code, cycle) index and sorted the whole cycle for each chunk of
    500: issuing 100,000 teachers was quadratic). Same rows either way."""
    if by_teacher:
        return [
            (Registration.cycle + 0) == profile.cycle,
            Registration.bureau_code.concat("") == profile.issuer_code,
        ]
    return [Registration.cycle == profile.cycle, Registration.bureau_code == profile.issuer_code]


def holders_query(
    profile: RulesProfile, *, by_teacher: bool = False
) -> Select[int, str, str, str, str, str, date, str | None]:
    """Holder's fields, in order."""
    return (
        select(
            Teacher.id,
            Registration.number,
            Teacher.name,
            Teacher.id_number,
            School.code,
            School.name,
            Teacher.hired_on,
            Teacher.title,
        )
        .join(Registration, Registration.teacher_id == Teacher.id)
        .join(School, School.code == Teacher.school_code)
        .where(*registered(profile, by_teacher=by_teacher))
    )


def _records(
    profile: RulesProfile,
) -> Select[int, str, str, str, str, Decimal, bool, str, str, str, date, str]:
    return select(
        TrainingRecord.teacher_id,
        Project.code,
        Project.level,
        Project.category,
        Project.mode,
        Project.hours,
        Project.approved,
        Project.kind,
        TrainingRecord.grade,
        TrainingRecord.role,
        TrainingRecord.completed_on,
        TrainingRecord.status,
    ).join(Project, Project.code == TrainingRecord.project_code)


_Row = Row[int, str, str, str, str, Decimal, bool, str, str, str, date, str]


def _record_input(row: _Row) -> RecordInput:
    """A row of `_records`, read by its columns' names (the labels select gives them)."""
    return RecordInput(
        project_code=row.code,
        level=row.level,
        category=row.category,
        mode=row.mode,
        hours=row.hours,
        approved=row.approved,
        kind=row.kind,
        grade=row.grade,
        role=row.role,
        completed_on=row.completed_on,
        recognised=row.status == "recognised",
    )


def find_holder(session: Session, ref: str, profile: RulesProfile) -> Holder:
    """A registered teacher by certificate number or national ID number.
    A malformed reference is refused before any lookup."""
    ref = ref.strip()
    compact = half_width(ref).replace("-", "").replace(" ", "").upper()
    stmt = holders_query(profile)
    if len(compact) == 16:
        try:
            number = CertificateNumber.parse(compact).compact
        except NumberFormatError as e:
            raise InputRefused(f"证书编号 {ref} 无效：{e}", f"invalid certificate number: {e}") from None
        stmt = stmt.where(Registration.number == number)
    else:
        try:
            id_number = f.id_number(compact)
        except f.FieldError as e:
            raise InputRefused(
                f"“{ref}”既不是有效的证书编号（16 位），也不是有效的身份证号：{e.message}",
                f"neither a certificate number nor a valid ID number: {e.detail}",
            ) from None
        stmt = stmt.where(Teacher.id_number == id_number)
    row = session.execute(stmt).first()
    if row is None:
        raise NotFound(
            f"第 {profile.cycle} 周期没有登记该教师：{ref}",
            f"no teacher registered for cycle {profile.cycle} under {ref}",
        )
    return Holder(*row)


def sheet_for(
    session: Session, holder: Holder, profile: RulesProfile, as_of: date | None = None
) -> CreditSheet:
    rows = _core(session).execute(_records(profile).where(TrainingRecord.teacher_id == holder.teacher_id))
    return _SheetMaker(profile, as_of).sheet(holder, rows)


def sheets_of(
    session: Session, profile: RulesProfile, numbers: list[str], as_of: date | None = None
) -> list[tuple[Holder, CreditSheet]]:
    """The sheets of the teachers registered under `numbers`, in teacher
    order, as sheet_for makes each, with their records read in one query
    rather than one a teacher (a batch job's chunk)."""
    holders = [
        Holder(*r)
        for r in session.execute(
            holders_query(profile).where(Registration.number.in_(numbers)).order_by(Teacher.id)
        )
    ]
    return sheets_for(session, profile, holders, as_of)


def sheets_for(
    session: Session, profile: RulesProfile, holders: list[Holder], as_of: date | None = None
) -> list[tuple[Holder, CreditSheet]]:
    """The given holders' sheets, in the order given, their records read in
    one query (a page of the office's table, a batch job's chunk)."""
    records: dict[int, list[_Row]] = defaultdict(list)
    if holders:
        query = _records(profile).where(TrainingRecord.teacher_id.in_([h.teacher_id for h in holders]))
        for row in _core(session).execute(query):
            records[row[0]].append(row)
    maker = _SheetMaker(profile, as_of)
    return [(h, maker.sheet(h, records[h.teacher_id])) for h in holders]


def holder_ids(session: Session, profile: RulesProfile, *, school: str | None = None) -> list[int]:
    """The teacher ids of all_sheets' teachers, in its order."""
    q = holders_query(profile).with_only_columns(Teacher.id)
    if school:
        q = q.where(Teacher.school_code == school)
    return list(session.scalars(q.order_by(Teacher.id)))


def holders_page(
    session: Session, profile: RulesProfile, *, school: str | None = None, offset: int = 0, limit: int = 100
) -> list[Holder]:
    """Registered teachers `offset` to `offset + limit` in teacher order (all_sheets'
    order), of one school or the region: a page is read from the database
    alone, without a sheet for the teachers before it."""
    q = holders_query(profile).order_by(Teacher.id).offset(offset).limit(limit)
    if school:
        q = q.where(Teacher.school_code == school)
    return [Holder(*r) for r in session.execute(q)]


def holders_after(
    session: Session, profile: RulesProfile, *, school: str | None = None, after: int | None, limit: int
) -> list[Holder]:
    """The next `limit` registered teachers in teacher order (all_sheets'
    order) whose teacher id is above `after` (None: from the first)."""
    # Registration.teacher_id is Teacher.id; in its terms an index serves
    # both the bound and the order, and the walk stops after `limit`.
    q = holders_query(profile, by_teacher=True).order_by(Registration.teacher_id).limit(limit)
    if after is not None:
        q = q.where(Registration.teacher_id > after)
    if school:
        q = q.where(Teacher.school_code == school)
    return [Holder(*r) for r in session.execute(q)]


def all_sheets(
    session: Session,
    profile: RulesProfile,
    *,
    school: str | None = None,
    as_of: date | None = None,
    teachers: tuple[int, int] | None = None,
) -> Iterator[tuple[Holder, CreditSheet]]:
    """Every registered teacher's sheet, in teacher order. Holders and
    records are read as two ordered streams and merged, so memory stays
    flat however many teachers there are. `teachers`: only those whose
    teacher id lies in (first, last), both included."""
    ranged = teachers is not None
    holders_q = holders_query(profile, by_teacher=ranged).order_by(Teacher.id)
    records_q = (
        _records(profile)
        .join(Registration, Registration.teacher_id == TrainingRecord.teacher_id)
        .where(*registered(profile, by_teacher=ranged))
        .order_by(TrainingRecord.teacher_id)
    )
    if teachers:
        holders_q = holders_q.where(Teacher.id.between(*teachers))
        records_q = records_q.where(TrainingRecord.teacher_id.between(*teachers))
    if school:
        holders_q = holders_q.where(Teacher.school_code == school)
        records_q = records_q.join(Teacher, Teacher.id == TrainingRecord.teacher_id).where(
            Teacher.school_code == school
        )
    opts = {"yield_per": STREAM_BATCH}
    conn, maker = _core(session), _SheetMaker(profile, as_of)
    holders = conn.execute(holders_q, execution_options=opts)
    records = groupby(conn.execute(records_q, execution_options=opts), key=lambda r: r[0])
    pending = next(records, None)
    for h in holders:
        holder = Holder(*h)
        while pending is not None and pending[0] < holder.teacher_id:
            pending = next(records, None)
        mine: Iterable[_Row] = ()
        if pending is not None and pending[0] == holder.teacher_id:
            mine = list(pending[1])  # before the next group: advancing ends this one
            pending = next(records, None)
        yield holder, maker.sheet(holder, mine)


def _core(session: Session) -> Connection:
    """The session's connection: rows of plain columns need none of the
    ORM's loading, which took a third of the time of every sheet."""
    return session.connection()


class _SheetMaker:
    """Sheets of many teachers by one profile as of one day: records with
    the same project, grade, role and status share one RecordInput and the
    engine's Creditor works out each distinct record's credit once."""

    def __init__(self, profile: RulesProfile, as_of: date | None) -> None:
        self.profile, self.as_of = profile, as_of
        self.creditor = Creditor(profile)
        self.inputs: dict[tuple[object, ...], RecordInput] = {}

    def sheet(self, holder: Holder, rows: Iterable[_Row]) -> CreditSheet:
        as_of, hired_on = self.as_of, holder.hired_on
        kept = sorted((r for r in rows if as_of is None or r[10] <= as_of), key=_sheet_order)
        credits = []
        for r in kept:
            key = (r[1], r[8], r[9], r[11])  # project, grade, role, status: the rest is the project's
            rec = self.inputs.get(key)
            if rec is None:
                rec = self.inputs[key] = _record_input(r)
            credits.append(self.creditor.credit_keyed(key, rec, r[10], hired_on))
        return sheet_of_credits(self.profile, holder.engine_input(), credits, as_of)


def _sheet_order(row: _Row) -> tuple[date, str]:
    """The order compute_sheet lists records in: completion day, then project."""
    return row[10], row[1]
