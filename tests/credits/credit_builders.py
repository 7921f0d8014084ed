"""Small builders for the credit-engine tests (imported by the test modules;
not a test module itself). Amounts are written as strings and turned into
Decimal here so that no float ever reaches the engine."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from issuer.ledger.credits.engine import compute_sheet
from issuer.ledger.credits.sheet import RecordInput, TeacherInput
from verifier.profiles import load_profile

HORGOS = load_profile("horgos-7")
PUTUO = load_profile("putuo-14")

CERT = "6540040710001236"
TWO_DECIMALS = re.compile(r"^\d+\.\d{2}$")


def D(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(str(x))


def day(x) -> date:
    return x if isinstance(x, date) else date.fromisoformat(x)


def teacher(hired_on="2015-09-01", title=None, number=CERT) -> TeacherInput:
    """Default: hired long before the cycle, so no prorating and no induction."""
    return TeacherInput(certificate_number=number, hired_on=day(hired_on), title=title)


def rec(
    code="P001",
    *,
    level="county",
    category="required-professional",
    mode="centralised",
    hours="4",
    approved=True,
    kind="training",
    grade="pass",
    role="trainee",
    completed_on="2025-06-01",
    recognised=True,
) -> RecordInput:
    return RecordInput(
        project_code=code,
        level=level,
        category=category,
        mode=mode,
        hours=D(hours),
        approved=approved,
        kind=kind,
        grade=grade,
        role=role,
        completed_on=day(completed_on),
        recognised=recognised,
    )


def sheet(records, who=None, profile=HORGOS, as_of=None):
    return compute_sheet(
        profile, who or teacher(), list(records), as_of=None if as_of is None else day(as_of)
    )


def one(record, who=None, profile=HORGOS):
    """The RecordCredit of a single record."""
    (rc,) = sheet([record], who, profile).records
    return rc


# Where a plain pass record of 4 centralised hours (= 1 credit) lands, per leaf bucket.
LEAF_SOURCE = {
    "prefecture_public": ("required-public", "prefecture"),
    "prefecture_professional": ("required-professional", "prefecture"),
    "county_public": ("required-public", "county"),
    "county_professional": ("required-professional", "county"),
    "digital": ("required-digital", "county"),
    "elective": ("elective", "county"),
    "school_based": ("school-based", "school"),
}


def bucket_records(completed_on="2026-06-01", **credits):
    """One pass record per named leaf bucket worth exactly `credits[bucket]`
    credits (centralised hours = 4 × credits, no reward)."""
    out = []
    for bucket, amount in credits.items():
        if D(amount) == 0:
            continue
        category, level = LEAF_SOURCE[bucket]
        out.append(
            rec(
                f"B-{bucket}",
                level=level,
                category=category,
                mode="centralised",
                hours=D(amount) * 4,
                completed_on=completed_on,
            )
        )
    return out


# Exactly the Horgos cycle minimums of the leaf buckets: 5+15+10+20+10 = 60 required,
# + 10 elective + 20 school-based = 90.
MINIMAL = dict(
    prefecture_public=5,
    prefecture_professional=15,
    county_public=10,
    county_professional=20,
    digital=10,
    elective=10,
    school_based=20,
)


def amounts(s) -> dict[str, str]:
    return s.to_json_dict()["buckets"]
