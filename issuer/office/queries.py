"""The office's queries (查询): a school's table of teachers with their
buckets and verdicts, filterable by what they are short of; one teacher's
credit sheet and certificate versions; and any table written as XLSX with
Chinese headers.

Every query takes the asker's Scope: a registrar reaches only her school,
and anything outside it is "not found", exactly as if it did not exist.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from typing import IO

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from issuer.certificates.versions import parse_number
from issuer.errors import InputRefused, NotFound
from issuer.ledger.credits.ledger import (
    Holder,
    all_sheets,
    find_holder,
    holders_after,
    holders_page,
    holders_query,
    sheet_for,
    sheets_for,
)
from issuer.ledger.credits.sheet import CreditSheet
from issuer.ledger.importing import fields
from issuer.models import Certificate, Registration, School, Teacher
from verifier.clock import CHINA, as_utc
from verifier.numbers import CertificateNumber, NumberFormatError, half_width, mask_id_number
from verifier.profiles import RulesProfile
from verifier.vocab import BUCKET_LABELS, BUCKETS, VERDICT_LABELS, state_label

from .staff import Scope
from .summaries import RowCache

SHORT_ANY = "any"
YEAR_STATUS_LABELS = {"met": "达标", "short": "未达", "not-required": "不作要求", "not-yet": "进行中"}
CERT_CHUNK = 500
PAGE = 100  # rows of a page of the table
MAX_FOUND = 100  # rows a search shows; more is a note to narrow it


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
    in teacher order: `short` keeps only those short of that bucket ("any":
    every teacher not qualified). Without `short` the rows are streamed
    (memory stays flat); with it they come from the kept rows (every sheet
    is needed to filter). Refusals are raised here, before the first row."""
    school = resolve_school(session, scope, school)
    short = _short(profile, short)
    if short is None:
        rows: Iterable[TeacherRow] = _rows(session, profile, school, as_of)
    else:
        rows = (r for r in _every_row(session, profile, school, as_of) if _is_short(r, short))
    return _with_certificates(session, iter(rows))


def school_page(
    session: Session,
    profile: RulesProfile,
    scope: Scope,
    *,
    school: str | None = None,
    short: str | None = None,
    as_of: date | None = None,
    offset: int = 0,
    limit: int = PAGE,
) -> tuple[list[TeacherRow], bool]:
    """Rows `offset` to `offset + limit` of school_rows, and whether more
    follow, without the sheets of the rows before them: unfiltered, the
    page's teachers are read from the database and only their sheets
    computed; filtered, the page is cut from the kept rows."""
    school = resolve_school(session, scope, school)
    short = _short(profile, short)
    if short is None:
        holders = holders_page(session, profile, school=school, offset=offset, limit=limit + 1)
        rows = [_row(h, sheet) for h, sheet in sheets_for(session, profile, holders[:limit], as_of)]
        more = len(holders) > limit
    else:
        wanted = offset + limit + 1  # the page's rows and one more, to know whether more follow

        def enough(rows: Sequence[TeacherRow]) -> bool:
            return sum(1 for r in rows if _is_short(r, short)) >= wanted

        every = _every_row(session, profile, school, as_of, enough)
        rows = list(islice((r for r in every if _is_short(r, short)), offset, wanted))
        more = len(rows) > limit
    return list(_with_certificates(session, iter(rows[:limit]))), more


def _short(profile: RulesProfile, short: str | None) -> str | None:
    short = (short or "").strip() or None
    if short is not None and short not in short_options(profile):
        raise InputRefused(f"未知的筛选条件：{short}", f"unknown filter short={short!r}")
    return short


def _is_short(row: TeacherRow, short: str) -> bool:
    return not row.qualified if short == SHORT_ANY else short in row.unmet


def _row(holder: Holder, sheet: CreditSheet) -> TeacherRow:
    return TeacherRow(
        holder.number,
        holder.name,
        mask_id_number(holder.id_number),
        holder.school_code,
        holder.school_name,
        sheet.buckets,
        sheet.qualified,
        sheet.unmet,
    )


def _rows(
    session: Session, profile: RulesProfile, school: str | None, as_of: date | None
) -> Iterator[TeacherRow]:
    for holder, sheet in all_sheets(session, profile, school=school, as_of=as_of):
        yield _row(holder, sheet)


# Every teacher's row (without her certificate, which is looked up a page at
# a time) kept between requests while the ledger stays the same: see summaries.py.
_kept: RowCache[TeacherRow] = RowCache()


def _every_row(
    session: Session,
    profile: RulesProfile,
    school: str | None,
    as_of: date | None,
    enough: Callable[[Sequence[TeacherRow]], bool] = lambda rows: False,
) -> Sequence[TeacherRow]:
    """Every row of `school` in teacher order, or a first part that is `enough`."""

    def more(school: str | None, after: int | None, n: int) -> tuple[list[TeacherRow], int | None]:
        holders = holders_after(session, profile, school=school, after=after, limit=n)
        rows = [_row(h, sheet) for h, sheet in sheets_for(session, profile, holders, as_of)]
        return rows, (holders[-1].teacher_id if len(holders) == n else None)

    return _kept.rows(session, (profile.id, as_of), school, more, enough)


def forget_summaries() -> None:
    """Drop the kept rows (a benchmark's cold start; tests)."""
    _kept.clear()


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


# -- search ----------------------------------------------------------------------

# Separators a name may be typed with or without: the roster stores the
# middle dot of Uyghur and Kazakh names as "·" (fields.person_name), but a
# clerk types whichever dot her input method gives, or none, or a space.
_NAME_GAPS = re.compile(rf"[\s{re.escape(fields._DOTS)}·.．]+")  # the import's own list of dots
_NUMBERISH = re.compile(r"[0-9Xx\s\-]+")
MAX_QUERY = 100


@dataclass(frozen=True)
class Found:
    """What a search found: `kind` says how the text was read ("number",
    "id_number", "name"; "" when it was neither, with `note` saying why)."""

    text: str
    kind: str
    rows: list[TeacherRow]
    more: bool = False  # more than MAX_FOUND matched
    note: str = ""

    @property
    def echo(self) -> str:
        """The text to show back, in the box and above the results. Digits
        that may be an ID number, whole or nearly (anything but a
        certificate number's 16), only by their last four, as on every page."""
        compact = re.sub(r"[\s\-]", "", half_width(self.text)).upper()
        if _NUMBERISH.fullmatch(compact) and len(compact) >= 8 and len(compact) != 16:
            return mask_id_number(compact) if len(compact) == 18 else "*" * (len(compact) - 4) + compact[-4:]
        return self.text

    @property
    def exact(self) -> TeacherRow | None:
        """The one teacher a whole number named, if so: her page can open at once."""
        return self.rows[0] if self.kind in ("number", "id_number") and len(self.rows) == 1 else None


def search(
    session: Session,
    profile: RulesProfile,
    scope: Scope,
    text: str,
    *,
    school: str | None = None,
    as_of: date | None = None,
) -> Found:
    """Registered teachers of the scope by a certificate number (printed or
    compact), a national ID number (whole), or part of a name. A teacher
    outside the scope is not found, exactly as one who does not exist."""
    school = resolve_school(session, scope, school)
    text = unicodedata.normalize("NFC", text).strip()[:MAX_QUERY]
    typed = half_width(text)
    q = holders_query(profile)
    if school is not None:
        q = q.where(Teacher.school_code == school)
    if not text:
        return Found(text, "", [], note="请输入姓名、身份证号或证书编号")
    if _NUMBERISH.fullmatch(typed) and any(c.isdigit() for c in typed):
        compact = re.sub(r"[\s\-]", "", typed).upper()
        if len(compact) == 16:
            try:
                number = CertificateNumber.parse(compact).compact
            except NumberFormatError:
                return Found(text, "", [], note="证书编号校验位不符，请核对号码")
            kind, q = "number", q.where(Registration.number == number)
        elif len(compact) == 18:
            try:
                id_number = fields.id_number(compact)
            except fields.FieldError as e:
                return Found(text, "", [], note=e.message)
            kind, q = "id_number", q.where(Teacher.id_number == id_number)
        else:
            return Found(
                text,
                "",
                [],
                note=f"编号应为 16 位证书编号或 18 位身份证号（输入了 {len(compact)} 位）；按姓名查询请输入姓名",
            )
        q = q.order_by(Teacher.id)
    else:
        part = _NAME_GAPS.sub("", typed).lower()
        if not part:
            return Found(text, "", [], note="请输入姓名、身份证号或证书编号")
        # The stored name without its dots and spaces, in lower case (Latin
        # letters only: SQLite's lower() folds ASCII alone, and a name holds no
        # other cased letter), holds the typed part: a substring, wildcards escaped.
        bare = func.lower(func.replace(func.replace(Teacher.name, "·", ""), " ", ""))
        kind = "name"
        q = q.where(bare.contains(part, autoescape=True)).order_by(
            case((bare == part, 0), else_=1), Teacher.id
        )
    holders = [Holder(*r) for r in session.execute(q.limit(MAX_FOUND + 1))]
    rows = [_row(h, sheet) for h, sheet in sheets_for(session, profile, holders[:MAX_FOUND], as_of)]
    return Found(text, kind, list(_with_certificates(session, iter(rows))), more=len(holders) > MAX_FOUND)


# -- XLSX ------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    header: str  # Chinese
    kind: str = "text"  # text | amount | int | date | datetime
    width: float = 14


@dataclass
class Table:
    """One worksheet: a title (≤ 31 characters), the columns, and the rows,
    which may be a stream: they are written one by one and never held. A
    caption is a line above the header (what the table is, and when)."""

    title: str
    columns: Sequence[Column]
    rows: Iterable[Sequence]
    caption: str | None = None


FORMATS = {"amount": "0.00", "int": "0", "date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm:ss"}
BAD_TITLE = str.maketrans({c: "_" for c in "[]:*?/\\"})


def write_xlsx(target: IO[bytes], tables: Iterable[Table]) -> int:
    """Write the tables as one workbook (openpyxl's write-only mode, so
    memory stays flat); returns the number of data rows. Text is always
    text: a name that starts with "=" is never a formula. Each sheet's
    panes are frozen below its header, and its header carries an
    autofilter over every row."""
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
        header_row = 2 if table.caption else 1
        ws.freeze_panes = f"A{header_row + 1}"
        if table.caption:
            caption = _cell(ws, WriteOnlyCell, Column(""), table.caption)
            caption.font = bold
            ws.append([caption])
        header = []
        for col in table.columns:
            cell = _cell(ws, WriteOnlyCell, Column(""), col.header)
            cell.font = bold
            header.append(cell)
        ws.append(header)
        rows = 0
        for row in table.rows:
            ws.append(
                [_cell(ws, WriteOnlyCell, col, value) for col, value in zip(table.columns, row, strict=True)]
            )
            rows += 1
        # Written after the rows (openpyxl puts it after the sheet's data), so
        # it can name the last row of a stream whose length was not known.
        last = get_column_letter(max(len(table.columns), 1))
        ws.auto_filter.ref = f"A{header_row}:{last}{header_row + rows}"
        n += rows
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


def table_caption(
    profile: RulesProfile, school: tuple[str, str] | None, short: str | None, at: datetime
) -> str:
    """The line above the school table's header: whose teachers (a school's
    code and name, or 全区), which of them (the filter), when (Beijing time)
    and under which rules."""
    who = f"{school[0]} {school[1]}" if school else "全区"
    which = "全部教师"
    if short:
        label = short_options(profile).get(short, short)
        which = label if short == SHORT_ANY else f"{label}未达"
    when = as_utc(at).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    return (
        f"教师学分 · {who} · 筛选：{which} · 导出时间：{when}（北京时间）"
        f" · 规则：{profile.title}（{profile.id}）"
    )


def school_table(
    rows: Iterable[TeacherRow],
    title: str = "教师学分",
    labels: Mapping[str, str] = BUCKET_LABELS,
    caption: str | None = None,
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
        caption,
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
