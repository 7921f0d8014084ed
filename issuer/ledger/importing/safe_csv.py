"""CSV files a person opens in Excel: the sign-in codes, the refusal reports.
A cell that begins with =, +, -, @, a tab or a carriage return is a formula
to Excel (and LibreOffice), which runs it on opening: a school name or a
cell of an imported file written back as "=HYPERLINK(…)" or "=cmd|…" would
be one. Such a cell is written with a leading apostrophe, which Excel shows
as text and does not display (OWASP, "CSV Injection"). Every CSV the
service writes for people goes through writer() below."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: Any) -> str:
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(FORMULA_START) else s


class SafeWriter:
    """csv.writer's writerow and writerows, each cell made safe first."""

    def __init__(self, f: SupportsWrite[str], **fmt: Any) -> None:  # fmt: csv.writer's format parameters
        self._w = csv.writer(f, **fmt)

    def writerow(self, row: Iterable[Any]) -> None:
        self._w.writerow([excel_safe(c) for c in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(f: SupportsWrite[str], **fmt: Any) -> SafeWriter:
    return SafeWriter(f, **fmt)
