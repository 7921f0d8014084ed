"""The sheet summary the register keeps with each version it issues
(`certificates.summary`, JSON): what the credit sheet said at issue beyond
the token's totals. The token carries each bucket's and each year's total;
the summary adds the minimums that applied to this holder (a late joiner's
prorated ones), each year's parts and status against the yearly rule, what
was unmet, the new teacher's induction, and the sheet's notes.

The issuer writes it (issuer/certificates/issuance.py); the PDF and the online verifier
read it through `verifier.reading`, so that both say the same of each
bucket and year. A verifier shows it only for a token whose digest the
register issued (the token is bound to the row that holds it).

    {"years": [{"year": 2024, "status": "met|short|not-required|not-yet",
                "short": ["elective", ...], "total": "18.50", "required": "12.00",
                "elective": "2.50", "school_based": "4.00"}, ...],
     "minimums": {"prefecture_public": "5.00", ...}, "offset_used": "0.00",
     "unmet": ["total", ...], "notes": ["...", ...],
     "induction": {"credits": "24.50", "required": "30.00", "due": true}}   (new teachers only)

The status snapshot carries a compact form of the same (`to_compact`):
each year's status and short parts, the minimums only where they are not
the cycle's, the unmet and the induction; no parts, no notes (they name
dates of the holder's). Offline verification reads it as online does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, NotRequired, TypedDict

import orjson

from verifier.vocab import BUCKETS

YEAR_STATUSES = ("met", "short", "not-required", "not-yet")
YEAR_PARTS = ("total", "required", "elective", "school_based")


class SummaryError(ValueError):
    """A stored summary that does not have the shape above."""


class InductionJSON(TypedDict):
    credits: str
    required: str
    due: bool


class CompactSummary(TypedDict):
    """The snapshot's form of a summary (`to_compact`)."""

    y: list[str]  # each year's status, then ":" and its short parts, if any
    u: list[str]  # the unmet
    m: NotRequired[dict[str, str]]  # the minimums, when not the cycle's
    i: NotRequired[InductionJSON]


class YearSummary(NamedTuple):
    """One year (a tuple, not a dataclass: every verification reads five)."""

    year: int
    status: str  # one of YEAR_STATUSES
    short: tuple[str, ...]
    amounts: dict[str, str]  # YEAR_PARTS as written ("18.50"); empty in the compact form

    @property
    def parts(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.amounts.items()}

    def to_dict(self) -> dict[str, object]:
        return {"year": self.year, "status": self.status, "short": list(self.short), **self.amounts}

    @classmethod
    def of(cls, year: int, status: str, short: tuple[str, ...], parts: dict[str, Decimal]) -> YearSummary:
        return cls(year, status, short, {k: f"{v:.2f}" for k, v in parts.items()})


@dataclass(frozen=True)
class Induction:
    """A new teacher's induction credits against what she owes (the
    profile's induction rule), and whether they are due within the cycle."""

    credits: Decimal
    required: Decimal
    due: bool


@dataclass(frozen=True)
class SheetSummary:
    years: tuple[YearSummary, ...]
    minimums: dict[str, Decimal]  # empty: the cycle's own (the compact form's way of saying so)
    offset_used: Decimal
    unmet: tuple[str, ...]
    notes: tuple[str, ...]
    induction: Induction | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "years": [y.to_dict() for y in self.years],
                "minimums": {b: f"{m:.2f}" for b, m in self.minimums.items()},
                "offset_used": f"{self.offset_used:.2f}",
                "unmet": list(self.unmet),
                "notes": list(self.notes),
                **_induction_dict(self.induction),
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> SheetSummary:
        try:
            d = orjson.loads(text)  # the stored JSON: a wrong shape raises below, and is malformed
            years: list[YearSummary] = []
            for y in d["years"]:  # a plain loop: every verification of the API reads this
                if y["status"] not in YEAR_STATUSES:
                    raise ValueError(f"unknown year status {y['status']!r}")
                years.append(
                    YearSummary(
                        int(y["year"]),
                        y["status"],
                        tuple(y["short"]),
                        {
                            "total": str(y["total"]),
                            "required": str(y["required"]),
                            "elective": str(y["elective"]),
                            "school_based": str(y["school_based"]),
                        },
                    )
                )
            return cls(
                tuple(years),
                _minimums(d["minimums"]),
                Decimal(d.get("offset_used", "0")),
                tuple(map(str, d["unmet"])),
                tuple(map(str, d.get("notes", ()))),
                _induction(d.get("induction")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as e:
            raise SummaryError(
                f"the register's sheet summary is malformed ({type(e).__name__}: {e})"
            ) from None

    def to_compact(self, cycle_minimums: dict[str, Decimal]) -> CompactSummary:
        """The snapshot's form (see the module's docstring)."""
        out: CompactSummary = {
            "y": [y.status + (":" + ",".join(y.short) if y.short else "") for y in self.years],
            "u": list(self.unmet),
        }
        if self.minimums and self.minimums != cycle_minimums:
            out["m"] = {b: f"{m:.2f}" for b, m in self.minimums.items()}
        if self.induction is not None:
            out["i"] = _induction_dict(self.induction)["induction"]
        return out

    @classmethod
    def from_compact(cls, d: Mapping[str, Any], first_year: int) -> SheetSummary:
        """`first_year`: the cycle's, whose years the list gives in order.
        `d` as the snapshot's JSON has it (a CompactSummary unless malformed)."""
        try:
            years: list[YearSummary] = []
            for i, text in enumerate(d["y"]):
                status, _, short = str(text).partition(":")
                years.append(
                    YearSummary(first_year + i, _status(status), tuple(filter(None, short.split(","))), {})
                )
            return cls(
                tuple(years),
                _minimums(d.get("m", {})),
                Decimal(0),
                tuple(map(str, d["u"])),
                (),
                _induction(d.get("i")),
            )
        except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as e:
            raise SummaryError(f"a snapshot entry's summary is malformed ({type(e).__name__}: {e})") from None


def _status(value: object) -> str:
    if value not in YEAR_STATUSES:
        raise ValueError(f"unknown year status {value!r}")
    return str(value)


# _minimums and _induction read decoded JSON, whatever its shape (hence Any):
# a wrong one raises an error that the callers report as SummaryError.


def _minimums(d: Any) -> dict[str, Decimal]:
    return {b: Decimal(m) for b, m in d.items() if b in BUCKETS}


def _induction(d: Any) -> Induction | None:
    if d is None:
        return None
    return Induction(Decimal(d["credits"]), Decimal(d["required"]), bool(d["due"]))


def _induction_dict(ind: Induction | None) -> dict[str, InductionJSON]:
    if ind is None:
        return {}
    return {"induction": {"credits": f"{ind.credits:.2f}", "required": f"{ind.required:.2f}", "due": ind.due}}
