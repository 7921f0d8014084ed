"""What an import found wrong, or what it changed."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from issuer.errors import InputRefused
from issuer.ledger.importing import safe_csv

from .limits import MAX_ERRORS


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


class ErrorList:
    """A file's errors: every one counted, with the rows they name, and the
    first `cap` by row (then in the order found) kept. A file bad on each of
    its 500,000 rows costs no more to report than one bad on 200: the clerk
    fixes the first ones and imports again."""

    def __init__(self, cap: int = MAX_ERRORS) -> None:
        self.cap, self.count = cap, 0
        self.rows: set[int] = set()
        self._kept: list[tuple[int, int, RowError]] = []  # (-row, -order, error): the last kept on top

    def append(self, e: RowError) -> None:
        self.count += 1
        if e.row:
            self.rows.add(e.row)
        item = (-(e.row or 0), -self.count, e)
        if len(self._kept) < self.cap:
            heapq.heappush(self._kept, item)
        elif item > self._kept[0]:
            heapq.heapreplace(self._kept, item)

    def __iadd__(self, errors: Iterable[RowError]) -> ErrorList:
        for e in errors:
            self.append(e)
        return self

    def __bool__(self) -> bool:
        return self.count > 0

    def first(self) -> list[RowError]:
        return [e for *_, e in sorted(self._kept, reverse=True)]


class ImportRefused(InputRefused):
    """The file was refused whole; nothing was stored. `errors` are the
    first MAX_ERRORS by row; `total` counts them all, `omitted` the rest."""

    def __init__(self, file: str, errors: ErrorList | Iterable[RowError]) -> None:
        if not isinstance(errors, ErrorList):
            listed, errors = errors, ErrorList()
            errors += listed
        self.file = file
        self.errors = errors.first()
        self.total = errors.count
        self.omitted = errors.count - len(self.errors)
        self.row_count = rows = len(errors.rows)  # rows named by any error, listed or not
        zh, en = (f"（涉及 {rows} 行）", f" in {rows} row(s)") if rows else ("", "")  # none: the whole file
        super().__init__(
            f"文件 {file} 被整体拒收：{self.total} 处错误{zh}，未写入任何数据"
            + (f"；只列出前 {len(self.errors)} 处" if self.omitted else ""),
            f"{file} refused whole: {self.total} error(s){en}; nothing was stored"
            + (f"; the first {len(self.errors)} are listed" if self.omitted else ""),
        )

    def omitted_line(self) -> tuple[str, str]:
        """What the list leaves out, in Chinese and English ("" if nothing)."""
        if not self.omitted:
            return "", ""
        return (
            f"另有 {self.omitted} 处错误未列出（只列出前 {len(self.errors)} 处）：改正后重新导入即可看到",
            f"{self.omitted} more error(s) not listed (only the first {len(self.errors)} are); "
            "correct these and import again to see them",
        )

    def write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            w = safe_csv.writer(f)  # the values come from the refused file: Excel must not run them
            w.writerow(["行 row", "列 column", "值 value", "问题", "problem"])
            for e in self.errors:
                w.writerow([e.row or "", e.column, e.value, e.message, e.detail])
            if self.omitted:
                w.writerow(["", "", "", *self.omitted_line()])


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
    new_schools: list[str] = field(default_factory=list)  # codes a roster created

    def update(
        self, stored: object, incoming: object, fields: list[str] | tuple[str, ...], label: str
    ) -> bool:
        """Bring a stored row up to date with the file's row for `fields`;
        count it as updated (with a line saying what changed) or unchanged."""
        diffs = [
            (k, getattr(stored, k), getattr(incoming, k))
            for k in fields
            if getattr(stored, k) != getattr(incoming, k)
        ]
        if not diffs:
            self.unchanged += 1
            return False
        for k, _, v in diffs:
            setattr(stored, k, v)
        self.updated += 1
        self.changes.append(
            f"{label}：" + "，".join(f"{k} {_shown(old)} → {_shown(new)}" for k, old, new in diffs)
        )
        return True

    def summary(self) -> str:
        return f"{self.file}：{self.rows} 行，新增 {self.created}，更新 {self.updated}，未变 {self.unchanged}"


def _shown(value: object) -> str:
    return "（空）" if value in (None, "") else str(value)
