"""The sheet summary the register keeps with each version it issues
(`certificates.summary`, JSON): what the credit sheet said at issue beyond
the token's totals. The token carries each bucket's and each year's total;
the summary adds the minimums that applied to this holder (a late joiner's
prorated ones), each year's parts and status against the yearly rule, what
was unmet, and the sheet's notes.

The issuer writes it (issuer/issuance.py); the PDF and the online verifier
read it through `verifier.reading`, so that both say the same of each
bucket and year. A verifier shows it only for a token whose digest the
register issued (the token is bound to the row that holds it).

    {"years": [{"year": 2024, "status": "met|short|not-required|not-yet",
                "short": ["elective", ...], "total": "18.50", "required": "12.00",
                "elective": "2.50", "school_based": "4.00"}, ...],
     "minimums": {"prefecture_public": "5.00", ...}, "offset_used": "0.00",
     "unmet": ["total", ...], "notes": ["...", ...]}
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from verifier.vocab import BUCKETS

YEAR_STATUSES = ("met", "short", "not-required", "not-yet")
YEAR_PARTS = ("total", "required", "elective", "school_based")


class SummaryError(ValueError):
    """A stored summary that does not have the shape above."""


@dataclass(frozen=True)
class YearSummary:
    year: int
    status: str  # one of YEAR_STATUSES
    short: tuple[str, ...]
    parts: dict[str, Decimal]  # YEAR_PARTS

    def to_dict(self) -> dict:
        return {"year": self.year, "status": self.status, "short": list(self.short),
                **{k: f"{v:.2f}" for k, v in self.parts.items()}}


@dataclass(frozen=True)
class SheetSummary:
    years: tuple[YearSummary, ...]
    minimums: dict[str, Decimal]
    offset_used: Decimal
    unmet: tuple[str, ...]
    notes: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps({"years": [y.to_dict() for y in self.years],
                           "minimums": {b: f"{m:.2f}" for b, m in self.minimums.items()},
                           "offset_used": f"{self.offset_used:.2f}", "unmet": list(self.unmet),
                           "notes": list(self.notes)}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SheetSummary:
        try:
            d = json.loads(text)
            years = tuple(YearSummary(int(y["year"]), _status(y["status"]), tuple(map(str, y["short"])),
                                      {k: Decimal(y[k]) for k in YEAR_PARTS}) for y in d["years"])
            minimums = {b: Decimal(m) for b, m in d["minimums"].items() if b in BUCKETS}
            return cls(years, minimums, Decimal(d.get("offset_used", "0")), tuple(map(str, d["unmet"])),
                       tuple(map(str, d.get("notes", ()))))
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as e:
            raise SummaryError(f"the register's sheet summary is malformed ({type(e).__name__}: {e})") from None


def _status(value: object) -> str:
    if value not in YEAR_STATUSES:
        raise ValueError(f"unknown year status {value!r}")
    return str(value)
