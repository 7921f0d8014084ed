"""Batch verification (docs/formats.md, "Batch verification"): a round of
applicants' certificates at once, for a title-review committee.

Each item is a token or verification URL, or a certificate number with
its 查验码 (looked up as the lookup page looks it up: verifier/lookup.py).
Input that is none of these is an item too, whose result has its format
check failed: one bad line never fails the batch. The JSON API, the batch
page and its downloads all verify through `verify_items` and read each
result into a table `Row` the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from sqlalchemy import Engine

from verifier.lookup import Refused, find, needs_register, unlock
from verifier.token import from_base32, to_base32
from verifier.verdict import OUTCOME_LABELS
from verifier.verify import Result, Verifier, format_failed
from verifier.vocab import Outcome

MAX_ITEMS = 500
MAX_TEXT = 5000  # a token or URL (the single API's bound)
MAX_TYPED = 40  # a number or a 查验码 as typed (the lookup page's bound)
MAX_ERROR = 300  # a carried error's message or detail
ITEM_SHAPES = '{"token": …}、{"url": …} 或 {"number": …, "code": …}'


@dataclass(frozen=True)
class Item:
    """One thing to verify: a token or URL (`text`), a number with its
    查验码, or input that is neither (`error`: its message and detail)."""

    text: str | None = None
    number: str | None = None
    code: str | None = None
    error: tuple[str, str] | None = None

    @classmethod
    def failed(cls, message: str, detail: str) -> Item:
        return cls(error=(message[:MAX_ERROR], detail[:MAX_ERROR]))

    def to_json(self) -> dict[str, str]:
        """As an API item, or {"error", "detail"} for input that was none
        (what the batch page carries to its downloads)."""
        if self.error is not None:
            return {"error": self.error[0], "detail": self.error[1]}
        if self.text is not None:
            return {"token": self.text}
        return {"number": self.number or "", "code": self.code or ""}


def item_from_json(obj: object, where: str, carried: bool = False) -> Item:
    """An item of a request's `items`; anything malformed is an Item that
    fails, saying why. `carried`: also {"error", "detail"}, an input the
    batch page already found to be no certificate."""
    if not isinstance(obj, Mapping):
        return Item.failed(
            f"条目格式错误：应为 {ITEM_SHAPES}",
            f"{where}: not an object; expected token, url, or number and code",
        )
    keys = set(obj)
    if keys in ({"token"}, {"url"}):
        (name,) = keys
        value = obj[name]
        if not isinstance(value, str) or not value.strip():
            return Item.failed(f"条目的 {name} 应为非空文本", f"{where}: {name} must be a non-empty string")
        if len(value) > MAX_TEXT:
            return Item.failed(
                f"条目的 {name} 过长（超过 {MAX_TEXT} 个字符）",
                f"{where}: {name} longer than {MAX_TEXT} characters",
            )
        return Item(text=value)
    if keys == {"number", "code"}:
        number, code = obj["number"], obj["code"]
        if not isinstance(number, str) or not isinstance(code, str):
            return Item.failed("条目的 number 和 code 应为文本", f"{where}: number and code must be strings")
        if len(number) > MAX_TYPED or len(code) > MAX_TYPED:
            return Item.failed(
                f"证书编号或查验码过长（超过 {MAX_TYPED} 个字符）",
                f"{where}: number or code longer than {MAX_TYPED} characters",
            )
        if not number.strip() or not code.strip():
            return Item.failed("缺少证书编号或查验码", f"{where}: number and code must not be empty")
        return Item(number=number, code=code)
    if carried and keys == {"error", "detail"}:
        message, detail = obj["error"], obj["detail"]
        if isinstance(message, str) and isinstance(detail, str) and message:
            return Item.failed(message, detail)
    names = ", ".join(sorted(str(k)[:20] for k in keys)[:6]) or "none"
    return Item.failed(
        f"条目格式错误：应为 {ITEM_SHAPES}",
        f"{where}: unexpected members ({names}); expected token, url, or number and code",
    )


class CodeGate(Protocol):
    """Who may try a 查验码 now. A batch must not be a faster way to guess
    codes than the lookup page: once a client's wrong codes reach the
    lookup's limit, no number+code item is even tried (a right code then
    would tell a guesser it was right)."""

    def open(self) -> bool: ...
    def wrong(self, number: str) -> None: ...


class OpenGate:
    """No limit (the CLI, tests of the batch alone)."""

    def open(self) -> bool:
        return True

    def wrong(self, number: str) -> None:
        pass


def _closed() -> Refused:
    return Refused(
        429,
        "查验码尝试次数已达上限，本网络地址暂不能用查验码查验：请稍后再试，或改用证书二维码或查验网址",
        "this client's 查验码 attempts reached the limit: number-and-code items are not tried until it resets",
    )


def verify_item(item: Item, verifier: Verifier, engine: Engine | None, at: date, gate: CodeGate) -> Result:
    """The item's verification as of `at`. A number and 查验码 verify the
    number's newest version, as the lookup page does, while `gate` is open;
    without the register (`engine` None: a verifier on the status snapshot)
    such an item fails, saying it needs the online register."""
    if item.error is not None:
        return format_failed(*item.error)
    if item.text is not None:
        return verifier.verify_text(item.text[: MAX_TEXT + 1], at)
    try:
        if engine is None:
            raise needs_register(item.number or "")
        entry = find(engine, item.number or "")
        if not gate.open():
            raise _closed()
        try:
            unlock(entry, item.code or "")
        except Refused:
            gate.wrong(entry.number)
            raise
    except Refused as e:
        return format_failed(e.message, e.detail)
    return verifier.verify_raw(from_base32(entry.token), at)


def verify_items(
    items: Sequence[Item], verifier: Verifier, engine: Engine | None, at: date, gate: CodeGate | None = None
) -> list[Result]:
    gate = gate or OpenGate()
    return [verify_item(item, verifier, engine, at, gate) for item in items]


def summary(results: Sequence[Result]) -> dict[str, int]:
    """How many results had each outcome, in the vocabulary's order."""
    counts = dict.fromkeys((str(o) for o in Outcome), 0)
    for r in results:
        counts[r.outcome] += 1
    return counts


def token_text(result: Result) -> str | None:
    """The base32 of the token a result read, as the certificate's URL spells it."""
    return to_base32(result.token.raw) if result.token is not None else None


@dataclass(frozen=True)
class Row:
    """A verification read for a committee's table: one applicant a line.
    What the certificate says is given only for a genuine one (the
    register issued it); for anything else only the reason."""

    index: int  # 1, 2, … in the order given
    ref: str  # where it came from: a sheet's row, a file's name
    result: Result

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    @property
    def token(self) -> str | None:
        return token_text(self.result)

    @property
    def genuine(self) -> bool:
        return self.result.reading is not None

    @property
    def holder(self) -> str:
        c = self.result.certificate
        return c["holder"] if c and self.genuine else ""

    @property
    def school(self) -> str:
        c = self.result.certificate
        return c["school"] if c and self.genuine else ""

    @property
    def number(self) -> str:
        c = self.result.certificate
        return c["printed_number"] if c and self.genuine else ""

    @property
    def version(self) -> int | None:
        c = self.result.certificate
        return c["version"] if c and self.genuine else None

    @property
    def valid_until(self) -> str:
        c = self.result.certificate
        return c["valid_until"] if c and self.genuine else ""

    @property
    def verdict(self) -> str:
        reading = self.result.reading
        return reading.verdict_label if reading else ""

    @property
    def total(self) -> Decimal | None:
        reading = self.result.reading
        return reading.buckets[-1].credits if reading else None

    @property
    def short(self) -> str:
        """What is short of the requirements, with amounts; then the years
        short of the yearly rule."""
        reading = self.result.reading
        if reading is None:
            return ""
        parts = [reading.short_text] if reading.shortfalls else []
        if reading.short_years:
            parts.append("年度未达：" + "、".join(str(y.year) for y in reading.short_years))
        return "；".join(parts)

    @property
    def reason(self) -> str:
        """Why it is not valid: the first failed check's message."""
        failure = None if self.result.valid else self.result.first_failure
        return failure.message if failure else ""


def rows(refs: Sequence[str], results: Sequence[Result]) -> list[Row]:
    return [Row(i, ref, r) for i, (ref, r) in enumerate(zip(refs, results, strict=True), 1)]
