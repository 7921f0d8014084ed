"""The credit sheet: what a teacher has earned in a cycle, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from verifier.vocab import BUCKETS

CENT = Decimal("0.01")
ZERO = Decimal("0")


def round_half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def amount(value: Decimal) -> str:
    """Amounts are strings with exactly two decimals (docs/formats.md)."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class RecordInput:
    """One training record joined with its project: the engine's input."""

    project_code: str
    level: str
    category: str
    mode: str
    hours: Decimal
    approved: bool
    kind: str
    grade: str
    role: str
    completed_on: date
    recognised: bool = True


@dataclass(frozen=True, slots=True)
class TeacherInput:
    certificate_number: str
    hired_on: date
    title: str | None = None


@dataclass(frozen=True, slots=True)
class RecordCredit:
    project_code: str
    completed_on: date
    basic: Decimal
    reward: Decimal
    credits: Decimal
    bucket: str | None  # None: registers nothing
    induction: bool
    why: str

    @property
    def counts(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True, slots=True)
class YearTally:
    year: int
    amounts: dict[str, Decimal]  # total, required, elective, school_based
    status: str  # met | short | not-required | not-yet
    short: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InductionTally:
    credits: Decimal
    within_deadline: Decimal
    deadline: date
    due: bool
    met: bool


@dataclass(frozen=True)
class CreditSheet:
    certificate_number: str
    cycle: int
    profile_id: str
    buckets: dict[str, Decimal]
    minimums: dict[str, Decimal]
    offset_used: Decimal
    years: tuple[YearTally, ...]
    qualified: bool
    unmet: tuple[str, ...]
    records: tuple[RecordCredit, ...]
    induction: InductionTally | None
    notes: tuple[str, ...]
    as_of: date | None = None  # records completed after it were not counted

    def to_json_dict(self) -> dict[str, Any]:
        """The "Credit sheet" shape of docs/formats.md, and the as-of day last."""
        return {
            "certificate_number": self.certificate_number,
            "cycle": self.cycle,
            "profile": self.profile_id,
            "buckets": {b: amount(self.buckets[b]) for b in BUCKETS},
            "offset_used": amount(self.offset_used),
            "years": {str(y.year): amount(y.amounts["total"]) for y in self.years},
            "qualified": self.qualified,
            "unmet": list(self.unmet),
            "records": [
                {
                    "project_code": r.project_code,
                    "basic": amount(r.basic),
                    "reward": amount(r.reward),
                    "credits": amount(r.credits),
                    "why": r.why,
                }
                for r in self.records
            ],
            "as_of": self.as_of.isoformat() if self.as_of else None,  # added: the day counted to
        }
