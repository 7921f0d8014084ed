"""Approved training projects (培训项目备案)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.ledger.importing import fields as f
from issuer.ledger.importing import limits
from issuer.ledger.numbering import chunks
from issuer.models import Project, utcnow
from verifier.vocab import CATEGORIES, LEVELS, MODES, PROJECT_KINDS

from .progress import WRITE, Counter, Progress
from .reader import Column, Source, Table, find_duplicates, parse_rows, read_table
from .recording import log_batch
from .report import ImportRefused, ImportResult, RowError

_LEVELS = f.options(
    *LEVELS.items(),
    synonyms={
        "国家": "national",
        "省级": "provincial",
        "自治区": "provincial",
        "区级": "provincial",
        "州": "prefecture",
        "地州级": "prefecture",
        "地市级": "prefecture",
        "县级": "county",
        "市级": "county",
        "县市": "county",
        "校": "school",
        "园级": "school",
        "校园级": "school",
    },
)
_CATEGORIES = f.options(
    *CATEGORIES.items(),
    synonyms={
        "必修公共课": "required-public",
        "公共课": "required-public",
        "必修专业课": "required-professional",
        "专业课": "required-professional",
        "数字素养": "required-digital",
        "必修数字": "required-digital",
        "选修课": "elective",
        "校本研修": "school-based",
        "适岗培训": "induction",
        "新教师适岗": "induction",
    },
)
_MODES = f.options(
    *MODES.items(),
    synonyms={
        "集中培训": "centralised",
        "centralized": "centralised",
        "网络培训": "online",
        "线上": "online",
        "校本研修": "school-based",
    },
)
_KINDS = f.options(*PROJECT_KINDS.items(), synonyms={"学历": "degree", "国家通用语言文字": "mandarin"})
_APPROVED = f.options(
    ("yes", "是"),
    ("no", "否"),
    synonyms={
        "y": "yes",
        "n": "no",
        "true": "yes",
        "false": "no",
        "1": "yes",
        "0": "no",
        "已备案": "yes",
        "未备案": "no",
    },
)

COLUMNS = [
    Column("code", "项目编号", "code", lambda v: f.code(v, max_len=64, what="项目编号")),
    Column("name", "项目名称", "name", lambda v: f.text(v, max_len=300, what="项目名称")),
    Column("level", "项目级别", "level", lambda v: f.choice(v, _LEVELS, what="项目级别")),
    Column("category", "课程类别", "category", lambda v: f.choice(v, _CATEGORIES, what="课程类别")),
    Column("mode", "培训形式", "mode", lambda v: f.choice(v, _MODES, what="培训形式")),
    Column("hours", "学时", "hours", f.hours),
    Column("year", "年度", "year", f.year),
    Column("approved", "是否备案", "approved", lambda v: f.choice(v, _APPROVED, what="是否备案") == "yes"),
    # Not in docs/formats.md's list: degree study and national-language training
    # convert under their own rules (docs/rules.md); plain training by default.
    Column(
        "kind",
        "项目类型",
        "kind",
        lambda v: f.choice(v, _KINDS, what="项目类型") if v not in (None, "") else "training",
        required=False,
    ),
]
_FIELDS = ("name", "level", "category", "mode", "hours", "year", "approved", "kind")
_KIND_CATEGORIES = {
    "degree": ("required-public", "required-professional", "required-digital", "elective"),
    "mandarin": ("required-public", "required-professional", "required-digital"),
}


@dataclass(frozen=True)
class ProjectRow:
    row: int
    code: str
    name: str
    level: str
    category: str
    mode: str
    hours: Decimal
    year: int
    approved: bool
    kind: str


def validate(
    source: Path | Source, progress: Progress | None = None
) -> tuple[list[ProjectRow], set[str], Table]:
    table = read_table(source, COLUMNS, limits.PROJECTS, progress)
    parsed, errors = parse_rows(table, COLUMNS, progress)
    errors += [
        RowError(
            p.row,
            table.headers["code"],
            p.values["code"],
            f"与第 {first} 行重复（同一项目编号）",
            f"duplicate of row {first} (same project code)",
        )
        for p, first in find_duplicates(parsed, ("code",))
    ]
    rows = [ProjectRow(row=p.row, **p.values) for p in parsed if p.ok]
    for r in rows:
        if r.kind == "mandarin" and r.level == "school":
            errors.append(
                RowError(
                    r.row,
                    table.headers.get("level", "项目级别"),
                    LEVELS[r.level],
                    "普通话培训须为县市级及以上项目",
                    "a mandarin project must be county level or above",
                )
            )
        allowed = _KIND_CATEGORIES.get(r.kind)
        if allowed and r.category not in allowed:
            errors.append(
                RowError(
                    r.row,
                    table.headers.get("category", "课程类别"),
                    CATEGORIES[r.category],
                    f"{PROJECT_KINDS[r.kind]}项目只能折算为 {'、'.join(CATEGORIES[c] for c in allowed)}",
                    f"a {r.kind} project converts only into {allowed}",
                )
            )
    if errors:
        raise ImportRefused(table.file, errors)
    return rows, set(table.positions), table


def import_projects(
    session: Session, file: Path | Source, *, progress: Progress | None = None
) -> ImportResult:
    """`progress` is told how far it has got (progress.py)."""
    source = Source.of(file)
    rows, present, table = validate(source, progress)
    result = ImportResult("projects", table.file, len(rows))
    result.notes += table.notes
    written = Counter(progress, WRITE, len(rows)).start()
    existing = {
        p.code: p
        for part in chunks([r.code for r in rows])
        for p in session.scalars(select(Project).where(Project.code.in_(part)))
    }
    compared = [k for k in _FIELDS if k in present]
    new = []
    for r in rows:
        p = existing.get(r.code)
        if p is None:
            now = utcnow()
            new.append(
                {"code": r.code, **{k: getattr(r, k) for k in _FIELDS}, "created_at": now, "updated_at": now}
            )
            continue
        result.update(p, r, compared, f"第 {r.row} 行 {r.code}")
    if new:
        session.execute(Project.__table__.insert(), new)
        result.created = len(new)
    session.flush()
    log_batch(session, source, result)
    written.add(len(rows))
    written.finish()
    return result
