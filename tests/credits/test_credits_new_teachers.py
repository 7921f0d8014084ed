"""New teachers (induction) and late joiners (prorate_full_years)."""

import pytest
from credit_builders import HORGOS, MINIMAL, D, bucket_records, rec, sheet, teacher


def induction(code="IND", hours="120", level="county", completed_on="2024-06-01", **kw):
    # 120 centralised h / 4 = 30 induction credits → county_professional
    return rec(code, category="induction", level=level, hours=hours, completed_on=completed_on, **kw)


# -- induction ---------------------------------------------------------------------


def test_teacher_hired_before_cycle_has_no_induction():
    s = sheet(bucket_records(**MINIMAL), teacher(hired_on="2023-12-31"))
    assert s.induction is None and s.qualified is True


def test_new_teacher_without_induction_is_unqualified():
    # hired 2024-01-01: new teacher (on/after 2024-01-01) but not a late joiner (not after);
    # all 90 minimal credits, but 0/30 induction, due 2025-01-01 ≤ 2028-12-31
    s = sheet(bucket_records(**MINIMAL), teacher(hired_on="2024-01-01"))
    assert s.minimums == HORGOS.minimums
    assert not any("prorate_full_years" in n for n in s.notes)
    assert s.induction.due is True and s.induction.met is False
    assert s.unmet == ("induction",)
    assert s.qualified is False
    assert s.to_json_dict()["unmet"] == ["induction"]


def test_new_teacher_with_30_induction_credits_is_qualified():
    # + 30 induction credits (county) → county_professional 20 + 30 = 50, total 120
    s = sheet([*bucket_records(**MINIMAL), induction()], teacher(hired_on="2024-01-01"))
    assert s.induction.credits == D("30") and s.induction.met is True
    assert s.buckets["county_professional"] == D("50")
    assert s.qualified is True and s.unmet == ()


def test_induction_counts_as_required_professional_of_its_level():
    # prefecture induction 60 h / 4 = 15 → prefecture_professional; county 60 h = 15 → county_prof.
    # with the minimal set minus those professional credits → still qualified
    recs = [
        *bucket_records(**{**MINIMAL, "prefecture_professional": 0, "county_professional": 5}),
        induction("I1", hours="60", level="prefecture"),
        induction("I2", hours="60", level="county", completed_on="2024-07-01"),
    ]
    s = sheet(recs, teacher(hired_on="2024-01-01"))
    assert s.buckets["prefecture_professional"] == D("15")
    assert s.buckets["county_professional"] == D("20")  # 5 + 15
    assert s.induction.credits == D("30")
    assert s.qualified is True


def test_induction_29_99_is_short():
    # 119.96 h / 4 = 29.99 < 30
    s = sheet([*bucket_records(**MINIMAL), induction(hours="119.96")], teacher(hired_on="2024-01-01"))
    assert s.induction.credits == D("29.99")
    assert s.unmet == ("induction",)


def test_induction_rewards_count_towards_the_30():
    # 100 h / 4 = 25 basic; county excellent +10 % → 27.5; + 10 h / 4 = 2.5 → 30.00
    s = sheet(
        [
            *bucket_records(**MINIMAL),
            induction("I1", hours="100", grade="excellent"),
            induction("I2", hours="10", completed_on="2024-08-01"),
        ],
        teacher(hired_on="2024-01-01"),
    )
    assert s.induction.credits == D("30")
    assert s.qualified is True


def test_failed_induction_does_not_count():
    s = sheet([*bucket_records(**MINIMAL), induction(grade="fail")], teacher(hired_on="2024-01-01"))
    assert s.induction.credits == 0
    assert "induction" in s.unmet


def test_induction_completed_late_still_meets_the_requirement():
    # hired 2024-01-01, deadline 2025-01-01; induction done 2026-03-01: timing only reported
    s = sheet(
        [*bucket_records(**MINIMAL), induction(completed_on="2026-03-01")], teacher(hired_on="2024-01-01")
    )
    assert s.induction.deadline.isoformat() == "2025-01-01"
    assert s.induction.within_deadline == 0 and s.induction.met is True
    assert s.qualified is True
    assert any("未在一年内完成" in n for n in s.notes)


def test_induction_before_hire_is_pre_service():
    # hired 2024-03-01; induction completed 2024-02-28 is pre-service → 0
    s = sheet([induction(completed_on="2024-02-28")], teacher(hired_on="2024-03-01"))
    assert s.induction.credits == 0 and s.buckets["total"] == 0


def test_induction_due_when_year_after_hire_ends_on_cycle_end():
    # hired 2027-12-31 → +12 months = 2028-12-31 ≤ 2028-12-31 → due
    s = sheet([], teacher(hired_on="2027-12-31"))
    assert s.induction.due is True
    assert "induction" in s.unmet


@pytest.mark.parametrize("hired_on", ["2028-01-01", "2028-06-01"])
def test_induction_not_due_when_year_after_hire_ends_after_cycle(hired_on):
    # hired 2028-01-01 → 2029-01-01 > 2028-12-31; 2028-06-01 → 2029-06-01: not due
    s = sheet([], teacher(hired_on=hired_on))
    assert s.induction is not None and s.induction.due is False
    assert "induction" not in s.unmet


def test_hired_mid_2028_owes_at_least_one_years_share():
    # hired 2028-06-01: 0 full cycle years, but min_years = 1 → every minimum × 1/5
    # (total 18, like the yearly 18); no credits → not qualified; induction not due
    s = sheet([], teacher(hired_on="2028-06-01"))
    assert s.minimums["total"] == D("18") and s.minimums["prefecture_public"] == D("1")
    assert s.qualified is False and "total" in s.unmet and "induction" not in s.unmet
    assert all(y.status == "not-required" for y in s.years)


# -- late joiners ----------------------------------------------------------------

LATE = teacher(hired_on="2025-03-01")
# full years: 2026, 2027, 2028 → 3 of 5 → every minimum × 3/5
PRORATED_3_5 = {
    "prefecture_public": D("3"),  # 5 × 0.6
    "prefecture_professional": D("9"),  # 15 × 0.6
    "prefecture": D("12"),  # 20 × 0.6
    "county_public": D("6"),  # 10 × 0.6
    "county_professional": D("12"),  # 20 × 0.6
    "county": D("18"),  # 30 × 0.6
    "digital": D("6"),  # 10 × 0.6
    "required": D("36"),  # 60 × 0.6
    "elective": D("6"),  # 10 × 0.6
    "school_based": D("12"),  # 20 × 0.6
    "total": D("54"),  # 90 × 0.6
}


def test_late_joiner_minimums_prorated_by_full_years():
    s = sheet([], LATE)
    assert s.minimums == PRORATED_3_5
    assert any("3/5" in n and "prorate_full_years" in n for n in s.notes)


def test_late_joiner_partial_years_not_required():
    s = sheet([], LATE)
    assert {y.year: y.status for y in s.years} == {
        2024: "not-required",
        2025: "not-required",
        2026: "short",
        2027: "short",
        2028: "short",
    }


def _late_records(**over):
    # induction: prefecture 40 h = 10 → prefecture_professional; county 80 h = 20 → county_prof.
    # + prefecture_public 3, county_public 6, digital 6, elective 6, school_based 12
    # → prefecture 13, county 26, required 3+10+6+20+6 = 45, total 45+6+12 = 63
    amounts = {
        "prefecture_public": 3,
        "county_public": 6,
        "digital": 6,
        "elective": 6,
        "school_based": 12,
        **over,
    }
    return [
        induction("I1", hours="40", level="prefecture", completed_on="2025-06-01"),
        induction("I2", hours="80", level="county", completed_on="2025-09-01"),
        *bucket_records("2026-06-01", **amounts),
    ]


def test_late_joiner_meets_prorated_minimums():
    s = sheet(_late_records(), LATE)
    assert s.to_json_dict()["buckets"]["total"] == "63.00"
    assert s.induction.met is True
    assert s.qualified is True and s.unmet == ()


def test_late_joiner_short_of_a_prorated_sub_minimum():
    # prefecture_public 2.99 < 3 → prefecture_public unmet; prefecture 12.99 ≥ 12
    s = sheet(_late_records(prefecture_public="2.99"), LATE)
    assert s.unmet == ("prefecture_public",)


def test_late_joiner_total_is_54_not_90():
    # exactly 54: induction prefecture 36 h / 4 = 9 + county 84 h / 4 = 21 (= 30 induction);
    # prefecture_public 3, county_public 6, digital 6 → required 3+9+6+21+6 = 45 (surplus 9);
    # elective 0 (short 6), school_based 9 (short 3) → offset 6 + 3 = 9; total 45 + 9 = 54
    recs = [
        induction("I1", hours="36", level="prefecture", completed_on="2025-06-01"),  # 9
        induction("I2", hours="84", level="county", completed_on="2025-09-01"),  # 21
        *bucket_records("2026-06-01", prefecture_public=3, county_public=6, digital=6, school_based=9),
    ]
    s = sheet(recs, LATE)
    # required 3+9+6+21+6 = 45, elective 0, school 9 → total 54
    assert s.to_json_dict()["buckets"]["total"] == "54.00"
    assert s.offset_used == D("9")  # 6 to elective, 3 to school_based
    assert s.qualified is True
    # a teacher hired before the cycle with the same records owes 90: short
    s_full = sheet(recs, teacher(hired_on="2010-01-01"))
    assert "total" in s_full.unmet


def test_late_joiner_records_before_hire_do_not_count():
    # completed 2025-02-28, hired 2025-03-01 → pre-service
    s = sheet([rec(hours="40", completed_on="2025-02-28")], LATE)
    assert s.buckets["total"] == 0


@pytest.mark.parametrize(
    "hired_on, served, total",
    [
        ("2024-01-01", 5, "90"),  # not "after" 2024-01-01: no prorating
        ("2024-01-02", 4, "72"),  # 2025..2028: 90 × 4/5
        ("2025-01-01", 4, "72"),  # served 2025 from its first day
        ("2026-12-31", 2, "36"),  # 2027, 2028: 90 × 2/5
        ("2027-12-31", 1, "18"),  # 2028: 90 × 1/5
    ],
)
def test_full_years_served(hired_on, served, total):
    s = sheet([], teacher(hired_on=hired_on))
    assert s.minimums["total"] == D(total)
    assert sum(y.status != "not-required" for y in s.years) == served
