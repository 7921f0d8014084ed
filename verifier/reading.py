"""What a certificate's credits say against the rules: each bucket with the
minimum that applies and whether it is met, each year with its status,
how many requirements are met and what is short, with amounts. The
verifier's page, its JSON, the CLI and the PDF all take their rows from
`read_credits`, so none says 达标 where another says 未达.

Two sources, the same rows:
- the register's sheet summary (verifier/summary.py), stored at issue with
  the token it is bound to: the minimums that applied to this holder (a
  late joiner's prorated ones) and each year's parts and status;
- without it (offline), the token alone: the cycle's published minimums
  (prorated only where the credits check found a late joiner's share met),
  and each year's total, which can show a year short but not that all of
  its parts were met.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple, TypedDict

from verifier.profiles import RulesProfile
from verifier.requirements import prorate, shortfalls, yearly_rule_text
from verifier.summary import SheetSummary
from verifier.token import Claims
from verifier.vocab import AGGREGATES, BUCKET_LABELS, BUCKETS, LEAF_BUCKETS, Verdict

HUNDRED = Decimal(100)
ZERO = Decimal(0)

BUCKET_STATUS = {"met": "达标", "offset": "折抵后达标", "short": "未达"}
# A year's status. The register's summary has the first four; a token read
# alone gives the last two where it cannot say more.
YEAR_LABELS = {
    "met": "达标",
    "short": "未达",
    "not-required": "不作要求",
    "not-yet": "签发时未结束",
    "total-met": "合计达标",
    "no-credits": "无学分记录",
}
YEAR_PART_LABELS = {"total": "合计", "required": "必修", "elective": "选修", "school_based": "校本"}


class BucketRow(NamedTuple):  # tuples, not dataclasses: each verification makes some twenty
    name: str
    label: str
    credits: Decimal
    minimum: Decimal | None
    status: str | None  # met | offset | short; None: no minimum

    @property
    def status_label(self) -> str:
        return BUCKET_STATUS[self.status] if self.status else "—"

    @property
    def aggregate(self) -> bool:
        return self.name in AGGREGATES


class YearRow(NamedTuple):
    year: int
    credits: Decimal
    status: str  # a key of YEAR_LABELS, or "" when the cycle has no yearly rule
    short: tuple[str, ...] = ()  # the yearly parts that were short
    parts: dict[str, str] | None = None  # total, required, elective, school_based as written (summary only)

    @property
    def label(self) -> str:
        return YEAR_LABELS.get(self.status, "")

    @property
    def detail(self) -> str:
        """The label with what was short, for a page ("未达：选修、校本")."""
        if self.status == "short" and self.short:
            return f"{self.label}：{'、'.join(YEAR_PART_LABELS.get(p, p) for p in self.short)}"
        return self.label


class Shortfall(NamedTuple):
    name: str
    label: str
    amount: Decimal | None  # None: a requirement without an amount (induction, a year)

    @property
    def text(self) -> str:
        return f"{self.label} 差 {self.amount:.2f}" if self.amount is not None else f"{self.label} 未达"


class RequirementsJSON(TypedDict):
    met: int
    of: int


class ShortJSON(TypedDict):
    name: str
    label: str
    short: str | None


class BucketJSON(TypedDict):
    name: str
    minimum: str | None
    status: str | None


class YearJSON(TypedDict):
    year: int
    status: str | None
    short: list[str]


class OtherJSON(TypedDict):
    name: str
    met: bool


class ReadingJSON(TypedDict):
    """A reading in the verification JSON (docs/formats.md, "Verification result")."""

    verdict: str
    label: str
    source: str
    requirements: RequirementsJSON
    short: list[ShortJSON]
    buckets: list[BucketJSON]
    years: list[YearJSON]
    prorated: bool
    notes: list[str]
    others: list[OtherJSON]


@dataclass(frozen=True)
class Reading:
    verdict: int  # the token's status claim
    buckets: tuple[BucketRow, ...]
    years: tuple[YearRow, ...]
    shortfalls: tuple[Shortfall, ...]
    notes: tuple[str, ...]  # about the reading itself: public
    yearly_rule: str
    prorated: bool  # the minimums are a late joiner's share of the cycle's
    source: str  # "register" or "token"
    others: tuple[tuple[str, bool], ...] = ()  # requirements besides the buckets: (name, met)
    sheet_notes: tuple[str, ...] = ()  # the credit sheet's, which may name the holder's dates

    @property
    def verdict_label(self) -> str:
        return Verdict(self.verdict).label

    @property
    def requirements(self) -> tuple[int, int]:
        """(met, of): the requirements this holder's credits meet, of all
        that apply to her (the minimums, and a new teacher's induction)."""
        rows = [b.status != "short" for b in self.buckets if b.status] + [met for _, met in self.others]
        return sum(rows), len(rows)

    @property
    def short_years(self) -> tuple[YearRow, ...]:
        return tuple(y for y in self.years if y.status == "short")

    @property
    def short_text(self) -> str:
        return "；".join(s.text for s in self.shortfalls)

    def to_json(self) -> ReadingJSON:
        met, of = self.requirements
        return {
            "verdict": Verdict(self.verdict).code,
            "label": self.verdict_label,
            "source": self.source,
            "requirements": {"met": met, "of": of},
            "short": [
                {"name": s.name, "label": s.label, "short": _amount(s.amount)} for s in self.shortfalls
            ],
            # codes only: the labels are the vocabulary's (BUCKET_LABELS, YEAR_LABELS), the
            # amounts the certificate's ("credits", "years"); the reading adds what the rules say
            "buckets": [
                {"name": b.name, "minimum": _amount(b.minimum), "status": b.status} for b in self.buckets
            ],
            "years": [
                {"year": y.year, "status": y.status or None, "short": list(y.short)} for y in self.years
            ],
            "prorated": self.prorated,
            "notes": list(self.notes),
            "others": [{"name": n, "met": met} for n, met in self.others],
        }


def _amount(d: Decimal | None) -> str | None:
    return None if d is None else f"{d:.2f}"


def bucket_amounts(credits: tuple[int, ...]) -> dict[str, Decimal]:
    """Every bucket of BUCKETS from the token's credits array (hundredths)."""
    leaves = {
        b: Decimal(v) / HUNDRED for b, v in zip(LEAF_BUCKETS, credits, strict=False)
    }  # credits ends with the total
    out = dict(leaves)
    for name, parts in AGGREGATES.items():
        out[name] = sum((leaves[p] for p in parts), ZERO)
    return out


def read_credits(
    claims: Claims,
    profile: RulesProfile | None,
    summary: SheetSummary | None = None,
    share: tuple[int, int] | None = None,
) -> Reading:
    """The reading of a token's credits: from the register's summary when
    given, else from the token and the published profile. `share` (k, n):
    the credits check accepted a late joiner's totals against the minimums
    prorated for k of n years (token alone)."""
    amounts = bucket_amounts(claims.credits)
    cycle = profile.minimums if profile is not None else {}
    if summary is not None:
        minimums = summary.minimums or cycle  # the compact form leaves out the cycle's own
    else:
        minimums = prorate(cycle, *share) if share and cycle else cycle
    offset = profile.offset if profile is not None else None
    used, short = shortfalls(amounts, minimums, offset)
    label = profile.bucket_label if profile is not None else _vocab_label
    buckets = tuple(_bucket_row(b, label(b), amounts[b], minimums.get(b), short) for b in BUCKETS)
    lacking = [Shortfall(b, label(b), short[b]) for b in short]
    others: list[tuple[str, bool]] = []
    if summary is not None:
        ind = summary.induction
        if ind is not None and ind.due:
            others.append(("induction", ind.credits >= ind.required))
            if ind.credits < ind.required:
                lacking.append(Shortfall("induction", label("induction"), ind.required - ind.credits))
        lacking += [
            Shortfall(u, _extra_label(u, label), None)
            for u in summary.unmet
            if u not in minimums and u != "induction"
        ]
        years = _summary_years(claims, profile, summary)
    else:
        years = _token_years(claims, profile, share)
    prorated = _prorated(cycle, minimums)
    return Reading(
        claims.status,
        buckets,
        years,
        tuple(lacking),
        _notes(claims, profile, summary, share, used, prorated),
        _yearly_rule(profile) if profile else "",
        prorated,
        "register" if summary is not None else "token",
        tuple(others),
        summary.notes if summary is not None else (),
    )


_RULE_TEXT: dict[str, str] = {}


def _yearly_rule(profile: RulesProfile) -> str:
    """yearly_rule_text, once a profile (a published profile does not change)."""
    text = _RULE_TEXT.get(profile.id)
    if text is None:
        text = _RULE_TEXT[profile.id] = yearly_rule_text(profile)
    return text


def _vocab_label(bucket: str) -> str:
    return BUCKET_LABELS.get(bucket, bucket)


def _bucket_row(
    b: str, label: str, credits: Decimal, minimum: Decimal | None, short: dict[str, Decimal]
) -> BucketRow:
    if minimum is None:
        status = None
    elif credits >= minimum:
        status = "met"
    else:
        status = "short" if b in short else "offset"
    return BucketRow(b, label, credits, minimum, status)


def _extra_label(name: str, label: Callable[[str], str]) -> str:
    if name.startswith("year_"):
        return f"{name[5:]} 年度要求"
    return label(name)


def _token_years(
    c: Claims, profile: RulesProfile | None, share: tuple[int, int] | None
) -> tuple[YearRow, ...]:
    """Each year from its total alone (docs/rules.md: a short year is reported on
    the verifier page too): below the yearly total it is short (or still
    under way at issue); at or above it, only the total is known to be met.
    Years before a qualified late joiner's first full year owe nothing, and
    years without credits before the first that has some are said to have
    none: the token does not say when she was hired."""
    first = profile.first_year if profile else 1
    minimum = profile.yearly.minimums.get("total") if profile and profile.yearly else None
    issued = c.issued_at.date()
    first_owed = len(c.years) - share[0] if share else 0
    first_credited = next((i for i, v in enumerate(c.years) if v), len(c.years))
    rows = []
    for i, v in enumerate(c.years):
        year, total = first + i, Decimal(v) / HUNDRED
        if minimum is None or profile is None:
            status = ""
        elif i < first_owed:
            status = "not-required"
        elif i < first_credited:
            status = "no-credits"
        elif total >= minimum:
            status = "total-met"
        elif c.status == 0 and year >= issued.year and issued < profile.review_opens:
            status = "not-yet"
        else:
            status = "short"
        rows.append(YearRow(year, total, status))
    return tuple(rows)


def _summary_years(c: Claims, profile: RulesProfile | None, summary: SheetSummary) -> tuple[YearRow, ...]:
    """Each year's total from the token, its status and parts from the
    summary (the compact form has no parts)."""
    first = profile.first_year if profile else 1
    by_year = {y.year: y for y in summary.years}
    rows = []
    for i, v in enumerate(c.years):
        y = by_year.get(first + i)
        rows.append(
            YearRow(
                first + i,
                Decimal(v) / HUNDRED,
                y.status if y else "",
                y.short if y else (),
                y.amounts or None if y else None,
            )
        )
    return tuple(rows)


def _prorated(cycle: dict[str, Decimal], minimums: dict[str, Decimal]) -> bool:
    return bool(cycle) and minimums.get("total") != cycle.get("total")


def _notes(
    c: Claims,
    profile: RulesProfile | None,
    summary: SheetSummary | None,
    share: tuple[int, int] | None,
    offset_used: Decimal,
    prorated: bool,
) -> tuple[str, ...]:
    """What a reader of the reading needs to know; nothing of the holder's
    own (a hire date is in the sheet's notes, shown only with the 查验码)."""
    notes = []
    if offset_used:
        notes.append(
            f"必修超出要求的 {offset_used:.2f} 学分已折抵选修、校本研修的不足（必修各分项不可互抵）。"
        )
    if share:
        notes.append(f"*周期内入职教师：学分达到按完整服务 {share[0]} 年（共 {share[1]} 年）折算的要求。")
    elif prorated:
        notes.append("*周期内入职教师：最低要求已按入职后完整服务年数折算。")
    if summary is None:
        notes.append("证书数据只含各类别与各年度的合计；各年度分项是否达标见证书 PDF 与学分表。")
        if c.status != 1 and profile is not None and not share:
            notes.append("最低要求按本周期完整要求列出；周期内入职教师按入职后完整年数折算，以学分表为准。")
    return tuple(notes)
