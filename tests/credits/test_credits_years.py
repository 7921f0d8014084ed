"""Yearly tallies: 18 total / 12 required / 2 elective / 4 school-based, in principle."""

from credit_builders import MINIMAL, D, bucket_records, rec, sheet


def _year(s, year):
    (y,) = [t for t in s.years if t.year == year]
    return y


def test_credits_grouped_by_completion_year():
    # 2024-12-31: 40 h / 4 = 10 → 2024; 2025-01-01: 20 h / 4 = 5 → 2025
    s = sheet(
        [rec("A", hours="40", completed_on="2024-12-31"), rec("B", hours="20", completed_on="2025-01-01")]
    )
    assert s.to_json_dict()["years"] == {
        "2024": "10.00",
        "2025": "5.00",
        "2026": "0.00",
        "2027": "0.00",
        "2028": "0.00",
    }
    y24 = _year(s, 2024)
    assert y24.amounts == {"total": D("10"), "required": D("10"), "elective": 0, "school_based": 0}


def test_year_meeting_18_12_2_4_exactly_is_met():
    # required 12 (county_professional), elective 2, school 4 → total 18
    s = sheet(bucket_records("2026-05-01", county_professional=12, elective=2, school_based=4))
    y = _year(s, 2026)
    assert y.amounts["total"] == D("18")
    assert (y.status, y.short) == ("met", ())


def test_short_year_reported_in_status():
    # required 12, elective 1.99 (7.96 h / 4), school 4 → elective 0.01 short, total 17.99
    # no required surplus to offset → short elective and total
    s = sheet(bucket_records("2026-05-01", county_professional=12, elective="1.99", school_based=4))
    y = _year(s, 2026)
    assert (y.status, y.short) == ("short", ("elective", "total"))


def test_yearly_offset_required_surplus_covers_elective():
    # required 16 (surplus 4), elective 0 (short 2), school 4; total 20 → met (yearly_offset)
    s = sheet(bucket_records("2026-05-01", county_professional=16, school_based=4))
    assert (_year(s, 2026).status, _year(s, 2026).short) == ("met", ())


def test_short_years_do_not_make_the_cycle_unqualified():
    # all 90 minimal credits in 2024 → 2025..2028 have 0 credits each: short, but qualified
    s = sheet(bucket_records("2024-06-01", **MINIMAL))
    statuses = {y.year: y.status for y in s.years}
    assert statuses == {2024: "met", 2025: "short", 2026: "short", 2027: "short", 2028: "short"}
    assert _year(s, 2025).short == ("required", "elective", "school_based", "total")
    assert s.qualified is True and s.unmet == ()


def test_as_of_same_year_is_not_yet():
    # as_of 2026-07-01: 2024 and 2025 are over (short); 2026 is under way (not-yet);
    # 2027 and 2028 are in the future (not-yet); a met year stays met
    recs = bucket_records("2025-03-01", county_professional=12, elective=2, school_based=4)
    s = sheet(recs, as_of="2026-07-01")
    statuses = {y.year: y.status for y in s.years}
    assert statuses == {2024: "short", 2025: "met", 2026: "not-yet", 2027: "not-yet", 2028: "not-yet"}
    # without as_of (final review) the same years are short
    s2 = sheet(recs)
    assert {y.year: y.status for y in s2.years}[2026] == "short"


def test_from_the_final_review_the_last_year_is_judged_not_under_way():
    # a final review on 2028-12-15 (docs/rules.md: in December of the last year): 2028 is over for
    # the cycle, so its shortfall is reported; the day before the review opens it is under way
    recs = bucket_records("2028-03-01", county_professional=10)
    assert _year(sheet(recs, as_of="2028-12-15"), 2028).status == "short"
    assert _year(sheet(recs, as_of="2028-12-01"), 2028).status == "short"
    assert _year(sheet(recs, as_of="2028-11-30"), 2028).status == "not-yet"


def test_as_of_does_not_change_the_cycle_verdict():
    recs = bucket_records("2024-06-01", **MINIMAL)
    a, b = sheet(recs, as_of="2024-06-30"), sheet(recs)
    assert a.qualified is b.qualified is True
    assert a.buckets == b.buckets and a.unmet == b.unmet


def test_refused_records_do_not_count_in_any_year():
    s = sheet(
        [
            rec("F", hours="40", completed_on="2025-05-01", grade="fail"),
            rec("U", hours="40", completed_on="2025-05-01", approved=False),
        ]
    )
    assert _year(s, 2025).amounts["total"] == 0
