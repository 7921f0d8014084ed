"""The audit log as people read it: each entry of the hash chain
(issuer/certificates/audit.py, which this module only reads) told as a
sentence with names, "2026-12-02 10:31 演示审核员 撤销了 王芳 的证书
654004-07-1-000002-2 第 1 版（原因：重复登记）", rather than the
account names, compact numbers and record ids the chain stores; filtered
by who, what, which certificate and when (Beijing dates); read a page or a
chunk at a time, the names of each looked up together.

Names are today's: a staff member's display name, a teacher's name from
the roster. The entry itself is never changed, and the export carries it
as stored next to the sentence."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from issuer.ledger.numbering import chunks
from issuer.models import AuditEntry, Registration, School, StaffAccount, Teacher, TrainingRecord
from verifier.clock import CHINA, as_utc
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.vocab import Verdict

from .staff import ROLES

# Every kind of entry the service writes (grep `audit.Event(`), with the
# word the filter and the export's 操作 column use.
ACTIONS = {
    "issue": "签发",
    "reissue": "重新签发",
    "revoke": "撤销",
    "key-create": "生成密钥",
    "key-retire": "停用密钥",
    "key-compromise": "标记密钥泄露",
    "key-certificate": "导入 PDF 签章证书",
    "records-recognise": "认定记录",
    "records-reject": "退回记录",
    "staff-create": "新建账号",
    "staff-revoke-tokens": "作废接口令牌",
    "staff-disable": "停用账号",
    "staff-enable": "重新启用账号",
}
CERTIFICATE_VERBS = {"issue": "签发了", "reissue": "重新签发了", "revoke": "撤销了"}
CERTIFICATE_ACTIONS = tuple(CERTIFICATE_VERBS)
RECORD_ACTIONS = ("records-recognise", "records-reject")
STAFF = "staff:"  # Scope.actor: how the audit log names a staff member
CLI = "cli"  # the actor filter's value for what was done on the server's command line
NAMED_RECORDS = 3  # records named in a review decision's sentence; the rest are counted
CHUNK = 500  # entries read and named together by an export


@dataclass(frozen=True)
class AuditFilter:
    """What the page shows: all of it when every field is None."""

    actor: str | None = None  # "staff:<username>", or CLI
    action: str | None = None  # a key of ACTIONS
    number: str | None = None  # a certificate number, compact
    since: date | None = None  # Beijing dates, both included
    until: date | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.actor == CLI:
            out.append(AuditEntry.actor.not_like(f"{STAFF}%"))
        elif self.actor:
            out.append(AuditEntry.actor == self.actor)
        if self.action:
            out.append(AuditEntry.action == self.action)
        if self.number:
            out += [AuditEntry.subject == self.number, AuditEntry.action.in_(CERTIFICATE_ACTIONS)]
        if self.since:
            out.append(AuditEntry.at >= day_start(self.since))
        if self.until:
            out.append(AuditEntry.at < day_start(self.until + timedelta(days=1)))
        return out

    def query(self) -> Select[AuditEntry]:
        return select(AuditEntry).where(*self.conditions())


def day_start(d: date) -> datetime:
    """Midnight in Beijing, in UTC as the log stores its moments."""
    return as_utc(datetime.combine(d, time(0, 0), CHINA))


def parse_number(text: str) -> str:
    """A certificate number, printed or compact, as the log stores it;
    verifier.numbers.NumberFormatError when it is not one."""
    return CertificateNumber.parse(text).compact


@dataclass(frozen=True)
class Line:
    """One entry, as stored and as read."""

    seq: int
    at: datetime
    actor: str  # as stored
    actor_name: str  # the staff member's display name, or the command line's name
    action: str
    label: str
    text: str  # what was done, after the actor
    teacher: str  # the teacher a certificate entry is about
    number: str  # and her certificate's printed number
    subject: str
    detail: str  # canonical JSON, as stored
    hash: str

    @property
    def local_at(self) -> datetime:
        """Beijing time to the second, without a zone (Excel has none)."""
        return as_utc(self.at).astimezone(CHINA).replace(tzinfo=None, microsecond=0)

    @property
    def when(self) -> str:
        return self.local_at.strftime("%Y-%m-%d %H:%M")

    @property
    def sentence(self) -> str:
        return f"{self.when} {self.actor_name} {self.text}"


def count(session: Session, flt: AuditFilter) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry).where(*flt.conditions())) or 0


def page(session: Session, flt: AuditFilter, limit: int, offset: int) -> list[Line]:
    """Newest first, one page."""
    q = flt.query().order_by(AuditEntry.seq.desc()).limit(limit).offset(offset)
    return describe(session, list(session.scalars(q)))


def last_seq(session: Session) -> int:
    return session.scalar(select(func.max(AuditEntry.seq))) or 0


def chunk_after(session: Session, flt: AuditFilter, after: int, upto: int, size: int = CHUNK) -> list[Line]:
    """Oldest first, the next `size` entries after `after` and no later than
    `upto` (an export fixes `upto` when it starts: entries appended while it
    runs are not half in it)."""
    q = flt.query().where(AuditEntry.seq > after, AuditEntry.seq <= upto).order_by(AuditEntry.seq).limit(size)
    return describe(session, list(session.scalars(q)))


def actor_options(session: Session) -> list[tuple[str, str]]:
    """(filter value, label) for each staff account, then the command line."""
    accounts = session.execute(
        select(StaffAccount.username, StaffAccount.display_name, StaffAccount.role).order_by(
            StaffAccount.role, StaffAccount.username
        )
    )
    out = [(f"{STAFF}{u}", f"{name}（{u}，{ROLES.get(role, role)}）") for u, name, role in accounts]
    return [*out, (CLI, "命令行（服务器上运行的 ecert 命令）")]


# -- the sentences ---------------------------------------------------------------


@dataclass
class _Names:
    """The names a batch of entries mentions, each kind looked up in one query."""

    staff: dict[str, str] = field(default_factory=dict)  # username → display name
    holders: dict[str, str] = field(default_factory=dict)  # compact number → teacher's name
    records: dict[int, tuple[str, str]] = field(default_factory=dict)  # id → (teacher, project code)
    schools: dict[str, str] = field(default_factory=dict)  # code → name


def describe(session: Session, entries: Sequence[AuditEntry]) -> list[Line]:
    details = [_detail(e.detail) for e in entries]
    names = _look_up(session, entries, details)
    return [_line(e, d, names) for e, d in zip(entries, details, strict=True)]


def _detail(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _look_up(session: Session, entries: Sequence[AuditEntry], details: Sequence[dict[str, Any]]) -> _Names:
    usernames, numbers, record_ids, schools = set(), set(), set(), set()
    for e, d in zip(entries, details, strict=True):
        if e.actor.startswith(STAFF):
            usernames.add(e.actor[len(STAFF) :])
        if e.action.startswith("staff-"):
            usernames.add(e.subject)
            if d.get("school"):
                schools.add(str(d["school"]))
        elif e.action in CERTIFICATE_ACTIONS:
            numbers.add(e.subject)
        elif e.action in RECORD_ACTIONS:
            record_ids.update(_ids(d)[:NAMED_RECORDS])
            schools.update(c for c in e.subject.split(",") if c)
    names = _Names()
    names.staff = _lookup(
        session, select(StaffAccount.username, StaffAccount.display_name), StaffAccount.username, usernames
    )
    names.holders = _lookup(
        session,
        select(Registration.number, Teacher.name).join(Teacher, Teacher.id == Registration.teacher_id),
        Registration.number,
        numbers,
    )
    for part in chunks(sorted(record_ids)):
        q = (
            select(TrainingRecord.id, Teacher.name, TrainingRecord.project_code)
            .join(Teacher, Teacher.id == TrainingRecord.teacher_id)
            .where(TrainingRecord.id.in_(part))
        )
        names.records.update((rid, (name, code)) for rid, name, code in session.execute(q))
    names.schools = _lookup(session, select(School.code, School.name), School.code, schools)
    return names


def _lookup(
    session: Session, query: Select[str, str], key: QueryableAttribute[str], keys: set[str]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in chunks(sorted(keys)):
        out.update((k, v) for k, v in session.execute(query.where(key.in_(part))))
    return out


def _ids(detail: dict[str, Any]) -> list[int]:
    ids = detail.get("records")
    return [i for i in ids if isinstance(i, int)] if isinstance(ids, list) else []


def _line(e: AuditEntry, d: dict[str, Any], names: _Names) -> Line:
    teacher = number = ""
    if e.action in CERTIFICATE_ACTIONS:
        teacher = names.holders.get(e.subject, "")
        number = _printed(e.subject)
    return Line(
        seq=e.seq,
        at=e.at,
        actor=e.actor,
        actor_name=_actor_name(e.actor, names),
        action=e.action,
        label=ACTIONS.get(e.action, e.action),
        text=_text(e, d, names, teacher, number),
        teacher=teacher,
        number=number,
        subject=e.subject,
        detail=e.detail,
        hash=e.hash,
    )


def _actor_name(actor: str, names: _Names) -> str:
    if actor.startswith(STAFF):
        username = actor[len(STAFF) :]
        return names.staff.get(username, username)
    return f"{actor}（命令行）"


def _printed(compact: str) -> str:
    try:
        return CertificateNumber.parse(compact).printed
    except NumberFormatError:
        return compact


def _text(e: AuditEntry, d: dict[str, Any], names: _Names, teacher: str, number: str) -> str:
    a, subject = e.action, e.subject
    if a in CERTIFICATE_ACTIONS:
        whose = f" {teacher} 的证书" if teacher else "证书"
        said = f"{CERTIFICATE_VERBS[a]}{whose} {number}"
        if "version" in d:
            said += f" 第 {d['version']} 版"
        if a == "revoke":
            return said + (f"（原因：{d['reason']}）" if d.get("reason") else "")
        facts = [_verdict(d.get("verdict"))]
        if d.get("valid_until"):
            facts.append(f"有效期至 {d['valid_until']}")
        facts = [f for f in facts if f]
        return said + (f"（{'，'.join(facts)}）" if facts else "")
    if a in RECORD_ACTIONS:
        return _records_text(a, subject, d, names)
    if a.startswith("staff-"):
        return _staff_text(a, subject, d, names)
    if a == "key-create":
        return f"生成了签名密钥 {subject}" + (f"（机关代码 {d['bureau']}）" if d.get("bureau") else "")
    if a == "key-retire":
        return f"停用了签名密钥 {subject}（由新密钥接替，它已签的证书仍可验证）"
    if a == "key-compromise":
        said = f"将签名密钥 {subject} 标记为泄露：{_moment(d.get('as_of'))} 起由它签名的令牌一律无效"
        return said + (f"（说明：{d['note']}）" if d.get("note") else "")
    if a == "key-certificate":
        return f"为签名密钥 {subject} 导入了 PDF 签章证书" + (
            f"（{d['subject']}）" if d.get("subject") else ""
        )
    return f"执行了 {a}（对象 {subject}）"  # a kind this page does not know yet: as stored


def _verdict(value: object) -> str:
    try:
        return f"结论：{Verdict(int(str(value))).label}"
    except ValueError:
        return ""


def _moment(value: object) -> str:
    try:
        return as_utc(datetime.fromisoformat(str(value))).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(value)


def _records_text(action: str, subject: str, d: dict[str, Any], names: _Names) -> str:
    verb = "认定了" if action == "records-recognise" else "退回了"
    schools = "、".join(names.schools.get(c, c) for c in subject.split(",") if c)
    ids = _ids(d)
    n = d.get("count", len(ids))
    named = [
        f"{names.records[i][0]} {names.records[i][1]}" for i in ids[:NAMED_RECORDS] if i in names.records
    ]
    said = f"{verb} {schools} 申报的 {n} 条培训记录" if schools else f"{verb} {n} 条培训记录"
    if named:
        more = "等" if isinstance(n, int) and n > len(named) else ""
        said += f"：{'、'.join(named)}{more}"
    if d.get("reason"):
        said += f"（原因：{d['reason']}）"
    return said


def _staff_text(action: str, username: str, d: dict[str, Any], names: _Names) -> str:
    who = f"{names.staff[username]}（{username}）" if username in names.staff else username
    if action == "staff-create":
        said = f"新建了账号 {who}，角色 {ROLES.get(str(d.get('role')), str(d.get('role', '')))}"
        if d.get("school"):
            school = str(d["school"])
            said += f"，学校 {names.schools.get(school, school)}"
        return said
    tokens = d.get("tokens")
    if action == "staff-revoke-tokens":
        return f"作废了 {who}的接口令牌 {tokens} 个"
    if action == "staff-disable":
        return f"停用了账号 {who}" + (f"，作废接口令牌 {tokens} 个" if tokens else "")
    if action == "staff-enable":
        return f"重新启用了账号 {who}，并发给新的一次性密码"
    return f"执行了 {action}（账号 {who}）"


# -- the export's rows -------------------------------------------------------------

EXPORT_HEADER = (
    "序号",
    "时间（北京时间）",
    "操作人",
    "操作人账号",
    "操作",
    "记录",
    "教师",
    "证书编号",
    "对象",
    "详情（原始 JSON）",
    "哈希",
)


def export_row(line: Line) -> tuple[Any, ...]:
    """The export's columns: the sentence and its parts, then the entry as stored."""
    return (
        line.seq,
        line.local_at,
        line.actor_name,
        line.actor,
        line.label,
        line.sentence,
        line.teacher,
        line.number,
        line.subject,
        line.detail,
        line.hash,
    )


def lines(
    session_for_chunk: Callable[[], AbstractContextManager[Session]], flt: AuditFilter, upto: int
) -> Iterator[Line]:
    """Every entry the filter takes up to `upto`, oldest first, a chunk at a
    time; `session_for_chunk()` opens a session for each (a context manager),
    so an export to a slow client holds no connection between chunks."""
    after = 0
    while True:
        with session_for_chunk() as s:
            batch = chunk_after(s, flt, after, upto, CHUNK)
        yield from batch
        if len(batch) < CHUNK:
            return
        after = batch[-1].seq
