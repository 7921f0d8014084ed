"""What an import found wrong, or what it changed."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from issuer.errors import InputRefused


@dataclass(frozen=True)
class RowError:
    row: int | None  # spreadsheet row number (header = 1); None: the whole file
    column: str  # the header as the file wrote it
    value: str
    message: str  # Chinese, for the clerk
    detail: str  # English

    def line(self) -> str:
        where = f"第 {self.row} 行" if self.row else "文件"
        col = f"「{self.column}」" if self.column else ""
        val = f"（值：{self.value}）" if self.value else ""
        return f"{where}{col}{val}：{self.message} / {self.detail}"


class ImportRefused(InputRefused):
    """The file was refused whole; nothing was stored."""

    def __init__(self, file: str, errors: list[RowError]) -> None:
        rows = {e.row for e in errors if e.row}
        super().__init__(
            f"文件 {file} 被整体拒收：{len(errors)} 处错误（涉及 {len(rows)} 行），未写入任何数据",
            f"{file} refused whole: {len(errors)} error(s) in {len(rows)} row(s); nothing was stored")
        self.file = file
        self.errors = errors

    def write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = csv.writer(f)
            w.writerow(["行 row", "列 column", "值 value", "问题", "problem"])
            for e in self.errors:
                w.writerow([e.row or "", e.column, e.value, e.message, e.detail])


@dataclass
class ImportResult:
    kind: str
    file: str
    rows: int
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    changes: list[str] = field(default_factory=list)  # one line per updated row
    notes: list[str] = field(default_factory=list)

    def update(self, stored: object, incoming: object, fields: list[str] | tuple[str, ...], label: str) -> bool:
        """Bring a stored row up to date with the file's row for `fields`;
        count it as updated (with a line saying what changed) or unchanged."""
        diffs = [(k, getattr(stored, k), getattr(incoming, k)) for k in fields
                 if getattr(stored, k) != getattr(incoming, k)]
        if not diffs:
            self.unchanged += 1
            return False
        for k, _, v in diffs:
            setattr(stored, k, v)
        self.updated += 1
        self.changes.append(f"{label}：" + "，".join(
            f"{k} {_shown(old)} → {_shown(new)}" for k, old, new in diffs))
        return True

    def summary(self) -> str:
        return (f"{self.file}：{self.rows} 行，新增 {self.created}，更新 {self.updated}，"
                f"未变 {self.unchanged}")


def _shown(value: object) -> str:
    return "（空）" if value in (None, "") else str(value)

