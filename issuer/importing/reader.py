"""Reading a CSV (UTF-8, with or without BOM) or XLSX file into rows keyed
by column, matching Chinese headers and their English aliases."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import FieldError
from .report import ImportRefused, RowError


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    parse: Callable[[Any], Any]
    required: bool = True  # the column must be present (its cells may still be optional)


@dataclass
class Table:
    file: str
    headers: dict[str, str]  # column key → header as the file wrote it
    rows: list[tuple[int, list[Any]]]  # (spreadsheet row number, cells)
    positions: dict[str, int]
    ignored: list[str]


def read_table(path: Path, columns: list[Column]) -> Table:
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImportRefused(name, [_file_error("无法读取文件", f"cannot read the file: {e.strerror}")]) from None
    if data[:4] == b"PK\x03\x04":
        grid = _xlsx_rows(name, data)
    elif data[:4] == b"\xd0\xcf\x11\xe0":
        raise ImportRefused(name, [_file_error("不支持旧版 Excel（.xls）文件：请另存为 .xlsx 或 CSV（UTF-8）",
                                               "old .xls files are not supported; save as .xlsx or UTF-8 CSV")])
    else:
        grid = _csv_rows(name, data)
    return _keyed(name, grid, columns)


def _file_error(message: str, detail: str) -> RowError:
    return RowError(None, "", "", message, detail)


def _csv_rows(name: str, data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        hint = "（看起来是 GBK/GB18030 编码）" if _looks_gbk(data) else ""
        raise ImportRefused(name, [_file_error(
            f"文件不是 UTF-8 编码{hint}：请在 Excel 中另存为“CSV UTF-8”",
            f"not UTF-8 (byte {e.start}); save as 'CSV UTF-8'")]) from None
    first = text.split("\n", 1)[0]
    delimiter = max(",\t;", key=first.count)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _looks_gbk(data: bytes) -> bool:
    try:
        data.decode("gb18030")
        return True
    except UnicodeDecodeError:
        return False


def _xlsx_rows(name: str, data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook  # only XLSX needs it
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ImportRefused(name, [_file_error("不是有效的 .xlsx 文件", f"not a valid XLSX file: {e}")]) from None
    try:
        ws = wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def fold_header(h: object) -> str:
    s = unicodedata.normalize("NFKC", "" if h is None else str(h)).strip().lower()
    s = re.sub(r"[\s_\-]", "", s)
    return s


def _header_keys(header: object, columns: list[Column]) -> str | None:
    folded = fold_header(header)
    bare = fold_header(re.sub(r"[(（][^)）]*[)）]", "", str(header or "")))
    for col in columns:
        names = {fold_header(col.zh), fold_header(col.en)}
        if folded in names or bare in names:
            return col.key
    return None


def _keyed(name: str, grid: list[list[Any]], columns: list[Column]) -> Table:
    if not grid or not any(c not in (None, "") for c in grid[0]):
        raise ImportRefused(name, [_file_error("文件为空或首行不是表头", "empty file, or the first row is not a header")])
    headers, positions, ignored, errors = {}, {}, [], []
    for i, h in enumerate(grid[0]):
        if h in (None, ""):
            continue
        key = _header_keys(h, columns)
        if key is None:
            ignored.append(str(h).strip())
        elif key in positions:
            errors.append(RowError(1, str(h), "", f"表头重复：与「{headers[key]}」是同一列",
                                   f"duplicate header: same column as {headers[key]!r}"))
        else:
            headers[key], positions[key] = str(h).strip(), i
    for col in columns:
        if col.required and col.key not in positions:
            errors.append(RowError(1, col.zh, "", f"缺少必需的列「{col.zh}」（或 {col.en}）",
                                   f"missing required column {col.zh} ({col.en})"))
    if errors:
        raise ImportRefused(name, errors)
    rows = [(n, r) for n, r in enumerate(grid[1:], start=2)
            if any(c is not None and str(c).strip() for c in r)]
    if not rows:
        raise ImportRefused(name, [_file_error("文件只有表头，没有数据行", "the file has a header but no rows")])
    return Table(name, headers, rows, positions, ignored)


@dataclass(frozen=True)
class ParsedRow:
    row: int
    values: dict[str, Any]  # the cells that parsed
    ok: bool  # every cell parsed


def parse_rows(table: Table, columns: list[Column]) -> tuple[list[ParsedRow], list[RowError]]:
    """Each row parsed cell by cell; every bad cell becomes a RowError. Rows
    with bad cells are kept with the cells that did parse, so checks across
    rows (duplicates) still see them and the clerk gets every error at once."""
    parsed, errors = [], []
    for row_no, cells in table.rows:
        values: dict[str, Any] = {}
        for col in columns:
            pos = table.positions.get(col.key)
            raw = cells[pos] if pos is not None and pos < len(cells) else None
            if isinstance(raw, str):
                raw = raw.strip()
            try:
                values[col.key] = col.parse(raw)
            except FieldError as e:
                errors.append(RowError(row_no, table.headers.get(col.key, col.zh),
                                       "" if raw is None else str(raw), e.message, e.detail))
        parsed.append(ParsedRow(row_no, values, len(values) == len(columns)))
    return parsed, errors


def find_duplicates(parsed: list[ParsedRow], keys: tuple[str, ...]) -> list[tuple[ParsedRow, int]]:
    """(row, first row) for each row whose key cells repeat an earlier row's."""
    seen: dict[tuple, int] = {}
    out = []
    for p in parsed:
        if not all(k in p.values for k in keys):
            continue
        key = tuple(p.values[k] for k in keys)
        if key in seen:
            out.append((p, seen[key]))
        else:
            seen[key] = p.row
    return out
