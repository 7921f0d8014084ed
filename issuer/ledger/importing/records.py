"""Training records (培训记录). Records the bureau imports are recognised
at once (docs/formats.md); a later import of the same teacher and project
corrects the record. A school's registrar declares (申报) records of her
own school's teachers instead: they wait, as "declared", for the bureau to
recognise them, and a record the bureau already recognised is not hers to
change.

A file is read, checked and written CHUNK rows at a time, inside one
savepoint of the caller's transaction. Across chunks the import keeps only
what checks across rows need: each teacher-and-project pair's first row (two
integers), and the ID numbers and project codes already looked up; so its
memory does not grow with the rows' contents. Each chunk is written once it
has passed; from the first bad row on nothing more is written, every row is
still checked, so that the report names them all, and the savepoint is
rolled back: a refused file leaves the ledger as it found it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, TextualSelect, bindparam, inspect, select, text, update
from sqlalchemy.orm import Session

from issuer.ledger.importing import fields as f
from issuer.ledger.importing import limits
from issuer.ledger.numbering import chunks
from issuer.ledger.version import one_bump
from issuer.models import Project, Teacher, TrainingRecord, utcnow
from verifier.numbers import mask_id_number
from verifier.vocab import GRADES, ROLES

from .progress import CHECK, WRITE, Counter, Progress
from .reader import Column, ParsedRow, RowParser, RowStream, Source, open_table
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

CHUNK = 5_000  # rows read, checked and written at a time
PAIRS = 450  # (teacher, project) pairs looked up in one query: 900 parameters, as numbering.CHUNK
_CODE_BITS = 20  # a file's distinct project codes number at most its rows (500,000 < 2**20)

_INSERTED = (
    "teacher_id",
    "project_code",
    "grade",
    "role",
    "completed_on",
    "status",
    "recognised_at",
    "declared_by",
    "created_at",
    "updated_at",
)


@dataclass(frozen=True)
class RecordRow:
    row: int
    id_number: str
    project_code: str
    grade: str
    role: str
    completed_on: date
    status: str = "recognised"  # the bureau's own import recognises at once


class _Stored:
    """The stored record of a pair, as far as an import compares it
    (ImportResult.update sets what changed)."""

    __slots__ = ("id", "grade", "role", "completed_on", "status")

    def __init__(self, id_: int, grade: str, role: str, completed_on: date, status: str) -> None:
        self.id = id_
        self.grade, self.role, self.completed_on, self.status = grade, role, completed_on, status


def import_records(
    session: Session, file: Path | Source, *, school: str | None = None, progress: Progress | None = None
) -> ImportResult:
    """The bureau's import (recognised at once), or with `school` a school's
    declaration (declared, waiting for recognition). `file`: a path, or a
    Source (an upload's bytes, or the office API's rows). `progress` is told
    how far it has got (progress.py): the stages go on together, chunk by
    chunk, each ending with every row.

    Refuses the file (ImportRefused, nothing stored) if any row is bad,
    names an unknown teacher or project (or, for a school's declaration,
    another school's teacher), or repeats a pair; then, for a declaration,
    if it would change a record the bureau has recognised."""
    source = Source.of(file)
    stream = open_table(source, COLUMNS, limits.RECORDS if school is None else limits.DECLARATION, progress)
    try:
        # a savepoint: a refusal, or any error, rolls back what the chunks wrote
        with one_bump(session, TrainingRecord.__tablename__):
            result = _Import(session, stream, school, progress).run()
    finally:
        stream.close()
    log_batch(session, source, result)
    return result


class _Import:
    def __init__(
        self, session: Session, stream: RowStream, school: str | None, progress: Progress | None
    ) -> None:
        self.session, self.stream, self.school = session, stream, school
        self.status = "recognised" if school is None else "declared"
        self.parser = RowParser(COLUMNS, stream.headers, stream.positions)
        self.errors = ErrorList()
        # for a declaration, the records the bureau has recognised: refused
        # only if nothing else is wrong, as the file's own errors come first
        self.recognised = ErrorList()
        self.first: dict[int, int] = {}  # a pair (ID number's, code's index) → its first row
        self.ids: dict[str, int] = {}  # ID number → index, for the pairs
        self.codes: dict[str, int] = {}
        self.teachers: dict[str, int | None] = {}  # ID number → teacher id (None: no such teacher)
        self.projects: dict[str, bool] = {}  # code → imported
        self.checked = Counter(progress, CHECK, stream.estimate)
        self.written = Counter(progress, WRITE, stream.estimate)
        self.now = utcnow()
        self.result = ImportResult("records", stream.file, 0)
        self.result.notes += stream.notes
        self.writer: _Writer | None = None
        self.all_checked = False

    def run(self) -> ImportResult:
        for chunk in self.stream.chunks(CHUNK):
            rows = self._check(self.parser.parse(chunk, self.errors))
            if self.stream.ended:  # the last chunk: every row is checked, and the bar says so before writing
                self._checked()
            if not self.errors:  # once a row is bad, nothing more is written or compared
                self._write(rows)
        if not self.all_checked:  # a file of whole chunks: its end came after the last one
            self._checked()
        if self.errors or self.recognised:
            raise ImportRefused(self.stream.file, self.errors or self.recognised)
        self.result.rows = self.written.total = self.stream.count
        self.written.finish()
        return self.result

    def _checked(self) -> None:
        self.checked.total = self.stream.count
        self.checked.finish()
        self.all_checked = True

    def _check(self, parsed: list[ParsedRow]) -> list[ParsedRow]:
        """The chunk's good rows; the errors of every row, in the order the
        whole file's checks found them: cells, then repeats, then unknown
        teachers and projects."""
        errors, h = self.errors, self.stream.headers
        ids, codes, first, checked = self.ids, self.codes, self.first, self.checked
        rows: list[ParsedRow] = []
        for p in parsed:
            v = p.values
            if "id_number" in v and "project_code" in v:
                i = ids.setdefault(v["id_number"], len(ids))
                j = codes.setdefault(v["project_code"], len(codes))
                row = first.setdefault(i << _CODE_BITS | j, p.row)
                if row != p.row:
                    errors.append(
                        RowError(
                            p.row,
                            h["project_code"],
                            v["project_code"],
                            f"与第 {row} 行重复（同一教师、同一项目）",
                            f"duplicate of row {row} (same teacher and project)",
                        )
                    )
            if p.ok:
                rows.append(p)
            checked.add()
        self._look_up({p.values["id_number"] for p in rows}, {p.values["project_code"] for p in rows})
        school = self.school
        for p in rows:
            id_no, code = p.values["id_number"], p.values["project_code"]
            if self.teachers[id_no] is None:
                errors.append(
                    RowError(
                        p.row,
                        h["id_number"],
                        mask_id_number(id_no),
                        "该身份证号不在本校教师名册中"
                        if school
                        else "该身份证号不在教师名册中：请先导入名册",
                        f"no teacher of school {school} with this ID number"
                        if school
                        else "no teacher with this ID number in the roster; import the roster first",
                    )
                )
            if not self.projects[code]:
                errors.append(
                    RowError(
                        p.row,
                        h["project_code"],
                        code,
                        "未知的项目编号：该项目未导入备案项目清单",
                        "unknown project code; import the approved projects first",
                    )
                )
        return rows

    def _look_up(self, id_numbers: set[str], codes: set[str]) -> None:
        """Teachers and projects not looked up before, remembered (the
        bureau's ten thousand teachers and some hundred projects)."""
        new = sorted(n for n in id_numbers if n not in self.teachers)
        q = select(Teacher.id_number, Teacher.id)
        if self.school is not None:
            q = q.where(Teacher.school_code == self.school)  # another school's teacher is "not in the roster"
        for part in chunks(new):
            self.teachers.update(dict.fromkeys(part))
            self.teachers.update(self.session.execute(q.where(Teacher.id_number.in_(part))).all())
        new = sorted(c for c in codes if c not in self.projects)
        for part in chunks(new):
            self.projects.update(dict.fromkeys(part, False))
            found = self.session.scalars(select(Project.code).where(Project.code.in_(part)))
            self.projects.update((c, True) for c in found)

    def _write(self, rows: list[ParsedRow]) -> None:
        """Insert the chunk's new records and correct its stored ones; for a
        declaration, first refuse those the bureau has recognised (from the
        first one on, the chunks are only compared, every such record named,
        and nothing more written)."""
        if not rows:
            return
        if self.writer is None:
            self.writer = _Writer(self.session.connection())
            self.written.start()
        teachers = self.teachers
        pairs = [(teachers[p.values["id_number"]] or 0, p.values["project_code"]) for p in rows]
        stored = self._stored(pairs)
        if self.school is not None and stored:
            self.recognised += (
                RowError(
                    p.row,
                    "项目编号",
                    code,
                    "该记录已由教育局认定，学校不能再修改；如需更正请联系教育局",
                    "the bureau has recognised this record; a school cannot change it",
                )
                for p, (tid, code) in zip(rows, pairs, strict=True)
                if (rec := stored.get((tid, code))) is not None and rec.status == "recognised"
            )
            if self.recognised:
                return
        school, result, status, w = self.school, self.result, self.status, self.writer
        day, recognised_at, now = w.day, w.time(self.now if school is None else None), w.time(self.now)
        new: list[tuple[Any, ...]] = []
        changed: list[dict[str, Any]] = []
        for p, (tid, code) in zip(rows, pairs, strict=True):
            v = p.values
            rec = stored.get((tid, code)) if stored else None
            if rec is None:
                new.append(
                    (
                        tid,
                        code,
                        v["grade"],
                        v["role"],
                        day(v["completed_on"]),
                        status,
                        recognised_at,
                        school,
                        now,
                        now,
                    )
                )
                continue
            label = f"第 {p.row} 行 {mask_id_number(v['id_number'])} {code}"
            if result.update(rec, RecordRow(row=p.row, status=status, **v), _FIELDS, label):
                changed.append(
                    {
                        "rid": rec.id,
                        "grade": rec.grade,
                        "role": rec.role,
                        "completed_on": rec.completed_on,
                        "status": rec.status,
                    }
                )
        if new:
            w.insert(new)
            result.created += len(new)
        if changed:
            self._update(changed)
        self.written.add(len(rows))

    def _stored(self, pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], _Stored]:
        """The stored records of these (teacher, project) pairs, looked up
        only for the teachers who have any (none, in a first import)."""
        t = TrainingRecord
        having: set[int] = set()
        for ids in chunks(sorted({tid for tid, _ in pairs})):
            having.update(self.session.scalars(select(t.teacher_id).distinct().where(t.teacher_id.in_(ids))))
        wanted = [pair for pair in pairs if pair[0] in having]
        out: dict[tuple[int, str], _Stored] = {}
        if not wanted:
            return out
        if self.session.get_bind().dialect.name == "postgresql":  # two arrays, whatever their length
            found = self.session.execute(
                _PG_PAIRS, {"teachers": [tid for tid, _ in wanted], "codes": [code for _, code in wanted]}
            ).all()
        else:
            found = []
            for part in chunks(wanted, PAIRS):
                params: dict[str, Any] = {f"t{i}": tid for i, (tid, _) in enumerate(part)}
                params |= {f"c{i}": code for i, (_, code) in enumerate(part)}
                found += self.session.execute(_pairs_query(len(part)), params).all()
        for rid, tid, code, grade, role, on, status in found:
            out[(tid, code)] = _Stored(rid, grade, role, on, status)
        return out

    def _update(self, changed: list[dict[str, Any]]) -> None:
        """The corrected records: a correction by the bureau is recognised
        anew; a declaration again undoes the record's earlier review."""
        c = TrainingRecord.__table__.c
        values: dict[str, Any] = {k: bindparam(k) for k in ("grade", "role", "completed_on", "status")}
        values["updated_at"] = self.now
        if self.school is None:
            values["recognised_at"] = self.now
        else:
            values |= {
                "declared_by": self.school,
                "recognised_at": None,
                "reviewed_by": None,
                "reject_reason": None,
            }
        stmt = update(TrainingRecord.__table__).where(c.id == bindparam("rid")).values(values)
        self.session.execute(stmt, changed)
        # a record the caller's session holds is read again when next used
        ids = {ch["rid"] for ch in changed}
        for obj in list(self.session.identity_map.values()):
            if isinstance(obj, TrainingRecord) and (inspect(obj).identity or (None,))[0] in ids:
                self.session.expire(obj)


@functools.cache
def _pairs_query(n: int) -> TextualSelect:
    """The stored records of n (teacher, project) pairs, given as :t0, :c0,
    :t1…: a join of the pairs, as a VALUES list, with the records through
    their unique index. (A row-value IN list, (teacher_id, project_code) IN
    (…), makes SQLite scan the whole index for each query: 60 times slower.)"""
    t = TrainingRecord.__table__.c
    pairs = ", ".join(f"(:t{i}, :c{i})" for i in range(n))
    return text(
        f"WITH pairs (teacher_id, project_code) AS (VALUES {pairs}) "
        "SELECT r.id, r.teacher_id, r.project_code, r.grade, r.role, r.completed_on, r.status "
        "FROM pairs JOIN training_records r "
        "ON r.teacher_id = pairs.teacher_id AND r.project_code = pairs.project_code"
    ).columns(t.id, t.teacher_id, t.project_code, t.grade, t.role, t.completed_on, t.status)


_PG_PAIRS = text(
    "SELECT r.id, r.teacher_id, r.project_code, r.grade, r.role, r.completed_on, r.status "
    "FROM unnest(CAST(:teachers AS integer[]), CAST(:codes AS text[])) AS pairs (teacher_id, project_code) "
    "JOIN training_records r ON r.teacher_id = pairs.teacher_id AND r.project_code = pairs.project_code"
).columns(
    *(
        TrainingRecord.__table__.c[k]
        for k in ("id", "teacher_id", "project_code", "grade", "role", "completed_on", "status")
    )
)


class _Writer:
    """Inserts records given as tuples of _INSERTED, the fastest way the
    database has: on PostgreSQL (psycopg 3) COPY, the rows written as its
    text format; on SQLite the driver's executemany, the values made what
    SQLAlchemy would bind (its own types' bind processors); elsewhere
    SQLAlchemy's executemany. `day` and `time` make a date and a time what
    the way taken needs (each distinct value once). Each statement fires the
    table's triggers (migration 0009's ledger_version) as an INSERT does."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        dialect = conn.dialect
        self.kind = "copy" if dialect.name == "postgresql" and dialect.driver == "psycopg" else dialect.name
        table = TrainingRecord.__table__
        self.day: Callable[[Any], Any] = _same
        self.time: Callable[[Any], Any] = _same
        if self.kind == "sqlite":
            self.day = _processor(conn, table.c.completed_on.type)
            self.time = _processor(conn, table.c.created_at.type)
        elif self.kind == "copy":
            self.day = self.time = _memo(lambda v: v.isoformat())
            self.text = _memo(_copy_escaped)

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        name, columns = TrainingRecord.__table__.name, ", ".join(_INSERTED)
        if self.kind == "copy":
            raw = self.conn.connection.driver_connection
            assert raw is not None  # a live connection of the session's transaction
            t = self.text
            data = "".join(
                f"{tid}\t{t(code)}\t{t(grade)}\t{t(role)}\t{on}\t{t(status)}\t{at}\t{t(school)}\t{made}\t{changed}\n"
                for tid, code, grade, role, on, status, at, school, made, changed in rows
            )
            with raw.cursor() as cur, cur.copy(f"COPY {name} ({columns}) FROM STDIN") as out:
                out.write(data)
        elif self.kind == "sqlite":
            marks = ", ".join("?" * len(_INSERTED))
            self.conn.exec_driver_sql(f"INSERT INTO {name} ({columns}) VALUES ({marks})", rows)
        else:
            self.conn.execute(
                TrainingRecord.__table__.insert(), [dict(zip(_INSERTED, row, strict=True)) for row in rows]
            )


def _copy_escaped(v: str) -> str:
    """A text value as COPY's text format writes it."""
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _memo(convert: Callable[[Any], str]) -> Callable[[Any], str]:
    """convert, remembering what it made of each value; None as COPY's null."""
    seen: dict[Any, str] = {None: "\\N"}

    def converted(v: Any) -> str:
        try:
            return seen[v]
        except KeyError:
            out = seen[v] = convert(v)
            return out

    return converted


def _same(v: Any) -> Any:
    return v


def _processor(conn: Connection, type_: Any) -> Callable[[Any], Any]:
    """SQLAlchemy's bind processor of a column type on this connection's
    dialect (None kept None), remembering what it made of each value: a
    file has a few hundred distinct dates, an import one time."""
    proc = type_.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    seen: dict[Any, Any] = {None: None}

    def processed(v: Any) -> Any:
        try:
            return seen[v]
        except KeyError:
            out = seen[v] = v if proc is None else proc(v)
            return out

    return processed
