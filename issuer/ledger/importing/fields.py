"""Parsers of single cells. Each returns a typed value or raises FieldError
with a Chinese message and an English detail."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from verifier.clock import today_in_china
from verifier.numbers import ascii_digits, half_width, mod11_2


class FieldError(ValueError):
    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail


def text(value: object, *, max_len: int, what: str) -> str:
    s = "" if value is None else str(value).strip()
    if not s:
        raise FieldError(f"{what}不能为空", "empty cell")
    if len(s) > max_len:
        raise FieldError(
            f"{what}过长（{len(s)} 字，最多 {max_len}）", f"too long: {len(s)} characters, at most {max_len}"
        )
    control = sorted(
        {f"U+{ord(ch):04X}" for ch in s if ch not in "\t\n\r" and unicodedata.category(ch) == "Cc"}
    )
    if control:  # invisible, and a PDF shows them as empty boxes
        raise FieldError(
            f"{what}含有不可见的控制字符（{'、'.join(control)}），请删除后重新导入",
            f"control character(s) {', '.join(control)}",
        )
    return s


def optional_text(value: object, *, max_len: int, what: str) -> str | None:
    s = "" if value is None else str(value).strip()
    return text(s, max_len=max_len, what=what) if s else None


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./]*$")


def code(value: object, *, max_len: int, what: str) -> str:
    s = text(_cell_str(value), max_len=max_len, what=what)
    if not _CODE.match(s):
        raise FieldError(
            f"{what}只能由字母、数字和 - _ . / 组成", "a code may hold only letters, digits and - _ . /"
        )
    return s


# Middle dots that rosters use between the parts of Uyghur and Kazakh names.
_DOTS = "·•・‧∙⋅･・"
_NAME_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f·A-Za-z ]")


def person_name(value: object) -> str:
    s = unicodedata.normalize("NFC", text(value, max_len=60, what="姓名"))
    for d in _DOTS:
        s = s.replace(d, "·")
    s = re.sub(r"\s*·\s*", "·", s)
    bad = sorted({ch for ch in s if not _NAME_CHAR.match(ch)})
    if bad:
        raise FieldError(
            f"姓名含有不允许的字符：{' '.join(bad)}", f"name holds characters not allowed in a name: {bad}"
        )
    if s.startswith("·") or s.endswith("·") or "··" in s:
        raise FieldError("姓名中的间隔号“·”位置不对", "the middle dot must sit between name parts")
    return s


def id_number(value: object) -> str:
    """A national ID number (GB 11643): 17 digits, a date, a check character."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise FieldError(
            "身份证号被存为数字，末尾几位已丢失：请将该列设为“文本”格式后重新填写",
            "the ID number was stored as a number and lost its last digits; format the column as text",
        )
    s = half_width(text(value, max_len=30, what="身份证号")).upper().replace(" ", "")
    if len(s) != 18:
        raise FieldError(
            f"身份证号应为 18 位，实为 {len(s)} 位", f"an ID number has 18 characters, got {len(s)}"
        )
    if not ascii_digits(s[:17]) or not (ascii_digits(s[17]) or s[17] == "X"):
        raise FieldError(
            "身份证号前 17 位应为数字，末位为数字或 X",
            "an ID number is 17 digits and a check character 0-9 or X",
        )
    try:
        born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        raise FieldError(
            f"身份证号中的出生日期 {s[6:14]} 不是有效日期",
            f"the birth date {s[6:14]} in the ID number is not a date",
        ) from None
    if born.year < 1900 or born > today_in_china():
        raise FieldError(f"身份证号中的出生日期 {born} 不合理", f"implausible birth date {born}")
    expected = mod11_2(s[:17])
    if s[17] != expected:
        raise FieldError(
            f"身份证号校验位错误：应为 {expected}，实为 {s[17]}（请核对号码）",
            f"check character is {s[17]}, expected {expected}",
        )
    return s


def birth_date(id_no: str) -> date:
    return date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))


_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")


def a_date(value: object, *, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    s = text(_cell_str(value), max_len=30, what=what)
    m = _DATE.match(s)
    if not m:
        raise FieldError(f"{what}格式应为 YYYY-MM-DD", "a date must be YYYY-MM-DD")
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise FieldError(f"{what} {s} 不是有效日期", f"{s} is not a calendar date") from None
    if not 1950 <= d.year <= 2100:
        raise FieldError(f"{what} {d} 超出合理范围", f"date {d} is out of range 1950..2100")
    return d


def past_date(value: object, *, what: str) -> date:
    """A date on or before today in China time: what has happened (docs/formats.md
    refuses a completion date after today, so no credit comes from the future)."""
    d = a_date(value, what=what)
    today = today_in_china()
    if d > today:
        raise FieldError(
            f"{what} {d} 晚于今天（{today}，北京时间）：尚未完成的培训不能登记",
            f"{d} is after today ({today}, China time); a record of training not yet "
            "completed cannot be entered",
        )
    return d


def hours(value: object) -> Decimal:
    s = text(_cell_str(value), max_len=20, what="学时")
    try:
        d = Decimal(s)
    except InvalidOperation:
        d = Decimal("NaN")
    if not d.is_finite():  # Decimal reads "NaN" and "Infinity" as numbers
        raise FieldError("学时应为数字", "hours must be a number")
    if d <= 0:
        raise FieldError("学时必须大于 0", "hours must be > 0")
    if d > 10000:
        raise FieldError("学时过大（超过 10000）", "hours over 10000")
    if d != d.quantize(Decimal("0.01")):
        raise FieldError("学时最多保留两位小数", "hours have at most 2 decimals")
    return d.quantize(Decimal("0.01"))


def year(value: object) -> int:
    s = half_width(text(_cell_str(value), max_len=10, what="年度")).removesuffix("年")
    if not ascii_digits(s) or not 2000 <= int(s) <= 2100:
        raise FieldError("年度应为四位年份，如 2025", "year must be a 4-digit year such as 2025")
    return int(s)


@dataclass(frozen=True)
class Choices:
    table: dict[str, str]  # folded label, code or synonym → code
    labels: tuple[str, ...]  # the canonical Chinese labels, for messages


def choice(value: object, choices: Choices, *, what: str) -> str:
    """Map a Chinese label, an English code or a known synonym to the code."""
    raw = "" if value is None else str(value).strip()
    if not raw:
        raise FieldError(f"{what}不能为空", "empty cell")
    code_ = choices.table.get(_fold(raw))
    if code_ is None:
        raise FieldError(
            f"{what}“{raw}”无法识别，应为：{' '.join(choices.labels)}",
            f"unknown value {raw!r}; expected one of {' '.join(choices.labels)} "
            f"or {' '.join(sorted(set(choices.table.values())))}",
        )
    return code_


def options(*pairs: tuple[str, str], synonyms: dict[str, str] | None = None) -> Choices:
    """Choices from (code, Chinese label) pairs and extra synonyms."""
    table = {}
    for code_, label in pairs:
        table[_fold(label)] = code_
        table[_fold(code_)] = code_
    for syn, code_ in (synonyms or {}).items():
        table[_fold(syn)] = code_
    return Choices(table, tuple(label for _, label in pairs))


def _fold(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).strip().lower()
    return re.sub(r"[\s\-_－—–·()（）]", "", s)


def _cell_str(value: object) -> str:
    """Spreadsheet numbers as their plain text (2025.0 → 2025)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
