"""The office's queries (查询): a school's table of teachers with their
buckets and verdicts, filterable by what they are short of; one teacher's
credit sheet and certificate versions; and any table written as XLSX with
Chinese headers.

Every query takes the asker's Scope: a registrar reaches only her school,
and anything outside it is "not found", exactly as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.certificates.versions import parse_number
from issuer.errors import InputRefused, NotFound
from issuer.ledger.credits.ledger import Holder, all_sheets, find_holder, sheet_for
from issuer.ledger.credits.sheet import CreditSheet
from issuer.models import Certificate, School, Teacher
from verifier.clock import CHINA, as_utc
from verifier.numbers import CertificateNumber, mask_id_number
from verifier.profiles import RulesProfile
from verifier.vocab import BUCKET_LABELS, BUCKETS, VERDICT_LABELS, state_label

from .staff import Scope

SHORT_ANY = "any"
YEAR_STATUS_LABELS = {"met": "达标", "short": "未达", "not-required": "不作要求", "not-yet": "进行中"}
CERT_CHUNK = 500


def unmet_label(key: str, labels: Mapping[str, str] = BUCKET_LABELS) -> str:
    """A name of CreditSheet.unmet in Chinese (in the profile's words, given
    its `bucket_labels`): a bucket, induction, or a year."""
    if key.startswith("year_"):
        return f"{key[5:]} 年度学分"
    return labels.get(key, key)


def short_options(profile: RulesProfile) -> dict[str, str]:
    """The filter "short of X": any requirement, or one bucket with a minimum."""
    options = {SHORT_ANY: "任一项未达（未合格）"}
    options.update({b: profile.bucket_label(b) for b in BUCKETS if b in profile.minimums})
    if profile.induction is not None:
        options["induction"] = profile.bucket_label("induction")
    return options


# -- the school table --------------------------------------------------------


@dataclass(frozen=True)
class TeacherRow:
    number: str
    name: str
    id_masked: str
    school_code: str
    school_name: str
    buckets: dict[str, Decimal]
    qualified: bool
    unmet: tuple[str, ...]
    cert_version: int | None = None  # the newest version that counts, if any
    cert_state: str | None = None

    @property
    def printed_number(self) -> str:
        return CertificateNumber.parse(self.number).printed

    @property
    def verdict(self) -> str:
        return "已达要求" if self.qualified else "未达要求"

    @property
    def short_text(self) -> str:
        return self.short_text_in(BUCKET_LABELS)

    def short_text_in(self, labels: Mapping[str, str]) -> str:
        return "、".join(unmet_label(u, labels) for u in self.unmet)

    @property
    def certificate_text(self) -> str:
        if self.cert_version is None:
            return "未签发"
        return f"第 {self.cert_version} 版 {state_label(self.cert_state)}"


def resolve_school(session: Session, scope: Scope, school: str | None) -> str | None:
    """The school a query is bounded to. A registrar naming another school,
    or anyone naming a school that does not exist, finds nothing."""
    school = scope.school_or_own((school or "").strip() or None)
    if school is not None:
        require_school(session, school)
    return school


def require_school(session: Session, code: str) -> None:
    """NotFound unless the roster has a school under `code`."""
    if session.get(School, code) is None:
        raise NotFound(f"名册中没有学校代码为 {code} 的学校", f"no school with code {code!r} in the roster")


def schools(session: Session, scope: Scope) -> list[tuple[str, str, int]]:
    """(code, name, registered teachers) of every school in the scope."""
    q = (
        select(School.code, School.name, func.count(Teacher.id))
        .join(Teacher, Teacher.school_code == School.code, isouter=True)
        .group_by(School.code, School.name)
        .order_by(School.code)
    )
    if scope.school_code:
        q = q.where(School.code == scope.school_code)
    return [tuple(r) for r in session.execute(q)]


def school_rows(
    session: Session,
    profile: RulesProfile,
    scope: Scope,
    *,
    school: str | None = None,
    short: str | None = None,
    as_of: date | None = None,
) -> Iterator[TeacherRow]:
    """Every registered teacher in the scope (one school, or the region),
    in teacher order, streamed: `short` keeps only those short of that
    bucket ("any": every teacher not qualified). Refusals are raised here,
    before the first row."""
    school = resolve_school(session, scope, school)
    short = (short or "").strip() or None
    if short is not None and short not in short_options(profile):
        raise InputRefused(f"未知的筛选条件：{short}", f"unknown filter short={short!r}")
    return _with_certificates(session, _rows(session, profile, school, short, as_of))


def _rows(
    session: Session, profile: RulesProfile, school: str | None, short: str | None, as_of: date | None
) -> Iterator[TeacherRow]:
    for holder, sheet in all_sheets(session, profile, school=school, as_of=as_of):
        if short == SHORT_ANY and sheet.qualified:
            continue
        if short not in (None, SHORT_ANY) and short not in sheet.unmet:
            continue
        yield TeacherRow(
            holder.number,
            holder.name,
            mask_id_number(holder.id_number),
            holder.school_code,
            holder.school_name,
            sheet.buckets,
            sheet.qualified,
            sheet.unmet,
        )


def _with_certificates(session: Session, rows: Iterator[TeacherRow]) -> Iterator[TeacherRow]:
    """Each row with its certificate's newest version, looked up a chunk at a time."""
    while chunk := list(islice(rows, CERT_CHUNK)):
        states = certificate_states(session, [r.number for r in chunk])
        for r in chunk:
            version, state = states.get(r.number, (None, None))
            yield replace(r, cert_version=version, cert_state=state)


def certificate_states(session: Session, numbers: Sequence[str]) -> dict[str, tuple[int, str]]:
    """number → (version, state) of its current version, or of its newest."""
    out: dict[str, tuple[int, str]] = {}
    if not numbers:
        return out
    q = (
        select(Certificate.number, Certificate.version, Certificate.state)
        .where(Certificate.number.in_(list(numbers)))
        .order_by(Certificate.number, Certificate.version)
    )
    for number, version, state in session.execute(q):
        if out.get(number, (0, ""))[1] != "current":
            out[number] = (version, state)
    return out


# -- one teacher ---------------------------------------------------------------


@dataclass(frozen=True)
class TeacherDetail:
    holder: Holder
    sheet: CreditSheet
    versions: list[Certificate]  # oldest first

    @property
    def current(self) -> Certificate | None:
        return next((v for v in self.versions if v.state == "current"), None)

    @property
    def printed_number(self) -> str:
        return CertificateNumber.parse(self.holder.number).printed

    @property
    def id_masked(self) -> str:
        return mask_id_number(self.holder.id_number)


def find_in_scope(session: Session, profile: RulesProfile, scope: Scope, number: str) -> Holder:
    """A registered teacher by certificate number (never by ID number: an
    URL must not carry one), if the scope reaches her school."""
    try:
        compact = parse_number(number)
    except InputRefused:
        raise NotFound(f"没有证书编号为 {number} 的教师", f"no teacher with number {number!r}") from None
    holder = find_holder(session, compact, profile)
    if not scope.sees_school(holder.school_code):
        raise NotFound(
            f"第 {profile.cycle} 周期没有登记该教师：{number}",
            f"no teacher registered for cycle {profile.cycle} under {number}",
        )
    return holder


def teacher_detail(
    session: Session, profile: RulesProfile, scope: Scope, number: str, as_of: date | None = None
) -> TeacherDetail:
    holder = find_in_scope(session, profile, scope, number)
    versions = list(
        session.scalars(
            select(Certificate).where(Certificate.number == holder.number).order_by(Certificate.version)
        )
    )
    return TeacherDetail(holder, sheet_for(session, holder, profile, as_of), versions)


# -- XLSX ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str  # Chinese
    kind: str = "text"  # text | amount | int | date | datetime
    width: float = 14


@dataclass
class Table:
    """One worksheet: a title (≤ 31 characters), the columns, and the rows,
    which may be a stream: they are written one by one and never held."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence]


FORMATS = {"amount": "0.00", "int": "0", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss"}
BAD_TITLE = str.maketrans({c: "_" for c in "[]:*?/\\"})


def write_xlsx(target: IO[bytes], tables: Iterable[Table]) -> int:
    """Write the tables as one workbook (openpyxl's write-only mode, so
    memory stays flat); returns the number of data rows. Text is always
    text: a name that starts with "=" is never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    n = 0
    for table in tables:
        ws = wb.create_sheet(title=table.title.translate(BAD_TITLE)[:31] or "Sheet")
        for i, col in enumerate(table.columns, 1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        ws.freeze_panes = "A2"
        header = []
        for col in table.columns:
            cell = WriteOnlyCell(ws, col.header)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        for row in table.rows:
            ws.append(
                [_cell(ws, WriteOnlyCell, col, value) for col, value in zip(table.columns, row, strict=True)]
            )
            n += 1
    wb.save(target)
    return n


def _cell(ws, make, col: Column, value):
    if value is None:
        return None
    if col.kind == "text":
        cell = make(ws, str(value))
        cell.data_type = "s"
        return cell
    if col.kind == "datetime" and isinstance(value, datetime):
        value = as_utc(value).astimezone(CHINA).replace(tzinfo=None)  # Excel has no time zones
    cell = make(ws, value)
    cell.number_format = FORMATS[col.kind]
    return cell


def school_table(
    rows: Iterable[TeacherRow], title: str = "教师学分", labels: Mapping[str, str] = BUCKET_LABELS
) -> Table:
    """The school table as an XLSX worksheet: every bucket (in the profile's
    words, given its `bucket_labels`), the verdict and what is short."""
    columns = [
        Column("证书编号", width=22),
        Column("姓名", width=16),
        Column("身份证号（脱敏）", width=22),
        Column("学校代码", width=13),
        Column("学校名称", width=24),
        *(Column(labels[b], "amount", 12) for b in BUCKETS),
        Column("结论", width=10),
        Column("未达项目", width=30),
        Column("证书状态", width=14),
    ]
    return Table(
        title,
        columns,
        (
            [
                r.printed_number,
                r.name,
                r.id_masked,
                r.school_code,
                r.school_name,
                *(r.buckets[b] for b in BUCKETS),
                r.verdict,
                r.short_text_in(labels),
                r.certificate_text,
            ]
            for r in rows
        ),
    )


def teacher_tables(d: TeacherDetail, labels: Mapping[str, str] = BUCKET_LABELS) -> list[Table]:
    """One teacher's sheet and certificate versions as three worksheets."""
    s = d.sheet
    buckets = Table(
        "分类学分",
        [
            Column("类别", width=20),
            Column("学分", "amount", 10),
            Column("最低要求", "amount", 10),
            Column("状态", width=10),
        ],
        [
            [
                labels[b],
                s.buckets[b],
                s.minimums.get(b),
                "" if b not in s.minimums else ("未达" if b in s.unmet else "达标"),
            ]
            for b in BUCKETS
        ],
    )
    records = Table(
        "培训记录",
        [
            Column("完成日期", "date", 12),
            Column("项目编号", width=16),
            Column("基础学分", "amount", 10),
            Column("奖励学分", "amount", 10),
            Column("学分", "amount", 10),
            Column("计入类别", width=18),
            Column("说明", width=60),
        ],
        [
            [
                r.completed_on,
                r.project_code,
                r.basic,
                r.reward,
                r.credits,
                labels.get(r.bucket, "不计入") if r.bucket else "不计入",
                r.why,
            ]
            for r in s.records
        ],
    )
    versions = Table(
        "证书版本",
        [
            Column("版本", "int", 8),
            Column("状态", width=10),
            Column("结论", width=10),
            Column("签发时间", "datetime", 20),
            Column("变更时间", "datetime", 20),
            Column("有效期至", "date", 12),
            Column("撤销原因", width=40),
        ],
        [
            [
                v.version,
                state_label(v.state),
                VERDICT_LABELS.get(v.verdict, v.verdict),
                v.issued_at,
                v.changed_at,
                v.valid_until,
                v.revoke_reason,
            ]
            for v in d.versions
        ],
    )
    return [buckets, records, versions]
