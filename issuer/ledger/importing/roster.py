"""The teacher roster (教师名册): teachers, their schools, and their
registration, with a certificate number, for a cycle.

A school code the bureau has never seen is more often a typo than a new
school, and a typo would make a school of its own, with teachers, numbers
and certificates under it. So a roster naming a new school code is refused
(with the rest of the file's errors, each new code with the rows that use
it) unless the caller says new schools are expected (`ecert roster import
--new-schools`). The first roster, into a database with no school yet, has
nothing to compare with: it makes the bureau's schools, and says which."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.ledger.importing import fields as f
from issuer.ledger.importing import limits
from issuer.ledger.numbering import chunks, lock_sequence, register
from issuer.models import School, Teacher, utcnow
from verifier.numbers import mask_id_number
from verifier.profiles import RulesProfile
from verifier.vocab import STAGES

from .progress import WRITE, Counter, Progress
from .reader import Column, ParsedRow, Source, Table, find_duplicates, parse_rows, read_table
from .recording import log_batch
from .report import ImportRefused, ImportResult, RowError

_GENDERS = f.options(
    ("男", "男"), ("女", "女"), synonyms={"male": "男", "female": "女", "m": "男", "f": "女"}
)
_STAGES = f.options(
    *STAGES.items(),
    synonyms={
        "幼儿": "kindergarten",
        "初级中学": "junior",
        "高级中学": "senior",
        "中等职业": "vocational",
        "特殊教育": "special",
        "九年一贯制": "other",
    },
)

COLUMNS = [
    Column("name", "姓名", "name", f.person_name),
    Column("id_number", "身份证号", "id_number", f.id_number),
    Column(
        "gender",
        "性别",
        "gender",
        lambda v: f.choice(v, _GENDERS, what="性别") if v not in (None, "") else None,
        required=False,
    ),
    Column("school_code", "学校代码", "school_code", lambda v: f.code(v, max_len=32, what="学校代码")),
    Column("school_name", "学校名称", "school_name", lambda v: f.text(v, max_len=200, what="学校名称")),
    Column("stage", "学段", "stage", lambda v: f.choice(v, _STAGES, what="学段")),
    Column("hired_on", "入职日期", "hired_on", lambda v: f.a_date(v, what="入职日期")),
    Column("title", "职称", "title", lambda v: f.optional_text(v, max_len=50, what="职称"), required=False),
]
_TEACHER_FIELDS = ("name", "gender", "school_code", "stage", "hired_on", "title")
MIN_WORKING_AGE = 16
ROWS_NAMED = 10  # rows listed for each new school code in a refusal
SCHOOLS_NAMED = 50  # new schools listed by name in a result


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    id_number: str
    gender: str | None
    school_code: str
    school_name: str
    stage: str
    hired_on: date
    title: str | None


def validate(
    source: Path | Source,
    progress: Progress | None = None,
    stored_schools: Callable[[Collection[str]], set[str]] | None = None,
) -> tuple[list[RosterRow], set[str], Table]:
    """Rows, the columns present, and the table read. With `stored_schools`
    (which of these codes the bureau has), a school code it lacks is refused
    too, in the same report as every other error."""
    table = read_table(source, COLUMNS, limits.ROSTER, progress)
    parsed, errors = parse_rows(table, COLUMNS, progress)
    errors += _cross_check(parsed, table.headers)
    if stored_schools is not None:
        errors += _new_school_errors(parsed, table.headers, stored_schools)
    rows = [RosterRow(row=p.row, **p.values) for p in parsed if p.ok]
    if errors:
        raise ImportRefused(table.file, errors)
    return rows, set(table.positions), table


def _new_school_errors(
    parsed: list[ParsedRow], headers: dict[str, str], stored_schools: Callable[[Collection[str]], set[str]]
) -> list[RowError]:
    """One error for each school code the bureau has never seen, at the first
    row naming it, with every row that does."""
    uses: dict[str, tuple[str, list[int]]] = {}
    for p in parsed:
        code = p.values.get("school_code")
        if code is not None:
            uses.setdefault(code, (p.values.get("school_name", ""), []))[1].append(p.row)
    stored = stored_schools(list(uses))
    errors = []
    for code, (name, rows) in uses.items():
        if code in stored:
            continue
        shown = [str(r) for r in rows[:ROWS_NAMED]]
        more_zh = f" 等共 {len(rows)} 行" if len(rows) > ROWS_NAMED else ""
        more_en = f" and {len(rows) - ROWS_NAMED} more" if len(rows) > ROWS_NAMED else ""
        errors.append(
            RowError(
                rows[0],
                headers["school_code"],
                code,
                f"新的学校代码 {code}（{name}）：本局尚无此学校，见第 {'、'.join(shown)} 行{more_zh}。"
                "如确是新学校，请加 --new-schools 重新导入；否则请更正学校代码",
                f"school code {code} ({name}) is new to the bureau, on rows {', '.join(shown)}{more_en}; "
                "if it is a new school, import again with --new-schools, else correct the code",
            )
        )
    return errors


def _cross_check(parsed: list[ParsedRow], headers: dict[str, str]) -> list[RowError]:
    errors = [
        RowError(
            p.row,
            headers["id_number"],
            p.values["id_number"],
            f"与第 {first} 行重复（同一身份证号）",
            f"duplicate of row {first} (same ID number)",
        )
        for p, first in find_duplicates(parsed, ("id_number",))
    ]
    schools: dict[str, tuple[str, int]] = {}
    for p in parsed:
        v = p.values
        if "school_code" in v and "school_name" in v:
            name, row = schools.setdefault(v["school_code"], (v["school_name"], p.row))
            if name != v["school_name"]:
                errors.append(
                    RowError(
                        p.row,
                        headers["school_name"],
                        v["school_name"],
                        f"学校代码 {v['school_code']} 在第 {row} 行的名称为“{name}”，两处不一致",
                        f"school {v['school_code']} is named {name!r} on row {row}",
                    )
                )
        if "id_number" in v and "hired_on" in v:
            born = f.birth_date(v["id_number"])
            if v["hired_on"] < date(born.year + MIN_WORKING_AGE, born.month, min(born.day, 28)):
                errors.append(
                    RowError(
                        p.row,
                        headers["hired_on"],
                        v["hired_on"].isoformat(),
                        f"入职日期早于 {MIN_WORKING_AGE} 周岁（出生于 {born}），请核对",
                        f"hired before age {MIN_WORKING_AGE} (born {born})",
                    )
                )
    return errors


def import_roster(
    session: Session,
    file: Path | Source,
    profile: RulesProfile,
    *,
    new_schools: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import a roster; a school code the bureau lacks is refused unless
    `new_schools` (or the database has no school yet: the first roster makes
    them). `progress` is told how far it has got (progress.py)."""
    source = Source.of(file)
    first = session.scalar(select(School.code).limit(1)) is None
    check = None if new_schools or first else (lambda codes: _stored_codes(session, codes))
    rows, present, table = validate(source, progress, check)
    # Take the number lock before reading anything, so concurrent imports
    # see each other's teachers and registrations.
    lock_sequence(session, profile.issuer_code, profile.cycle)
    result = ImportResult("roster", table.file, len(rows))
    result.notes += table.notes
    written = Counter(progress, WRITE, len(rows)).start()
    _upsert_schools(session, rows, result, first)
    ids = _upsert_teachers(session, rows, present, result)
    fresh = register(session, ids, bureau=profile.issuer_code, cycle=profile.cycle)
    if fresh:
        result.notes.append(
            f"第 {profile.cycle} 周期新登记 {len(fresh)} 人，证书编号 {fresh[0][1]} … {fresh[-1][1]}"
        )
    log_batch(session, source, result)
    written.add(len(rows))
    written.finish()
    return result


def _stored_codes(session: Session, codes: Collection[str]) -> set[str]:
    return {
        code
        for part in chunks(sorted(codes))
        for code in session.scalars(select(School.code).where(School.code.in_(part)))
    }


def _upsert_schools(session: Session, rows: list[RosterRow], result: ImportResult, first: bool) -> None:
    names = {r.school_code: r.school_name for r in rows}
    existing = {
        s.code: s
        for part in chunks(list(names))
        for s in session.scalars(select(School).where(School.code.in_(part)))
    }
    for code, name in names.items():
        school = existing.get(code)
        if school is None:
            session.add(School(code=code, name=name))
            result.new_schools.append(code)
        elif school.name != name:
            result.notes.append(f"学校 {code} 更名：{school.name} → {name}")
            school.name = name
    session.flush()
    if result.new_schools:
        listed = "、".join(f"{c} {names[c]}" for c in result.new_schools[:SCHOOLS_NAMED])
        n = len(result.new_schools)
        more = f" 等 {n} 所" if n > SCHOOLS_NAMED else ""
        why = "首次导入名册（库中尚无学校）：" if first else ""
        result.notes.append(f"{why}新建学校 {n} 所 / {n} new school(s)：{listed}{more}")


def _upsert_teachers(
    session: Session, rows: list[RosterRow], present: set[str], result: ImportResult
) -> list[int]:
    existing = {
        t.id_number: t
        for part in chunks([r.id_number for r in rows])
        for t in session.scalars(select(Teacher).where(Teacher.id_number.in_(part)))
    }
    # An optional column left out of the file keeps what is stored.
    compared = [k for k in _TEACHER_FIELDS if k in present]
    new: list[dict[str, Any]] = []
    for r in rows:
        t = existing.get(r.id_number)
        if t is None:
            new.append({k: getattr(r, k) for k in ("id_number", *_TEACHER_FIELDS)})
            continue
        result.update(t, r, compared, f"第 {r.row} 行 {mask_id_number(r.id_number)}")
    if new:
        session.execute(Teacher.__table__.insert(), [_stamped(n) for n in new])
        result.created = len(new)
    session.flush()
    by_number: dict[str, int] = {}
    for part in chunks([r.id_number for r in rows]):
        by_number.update(
            session.execute(select(Teacher.id_number, Teacher.id).where(Teacher.id_number.in_(part))).all()
        )
    return [by_number[r.id_number] for r in rows]


def _stamped(values: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {**values, "created_at": now, "updated_at": now}
