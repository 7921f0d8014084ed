"""Bucket routing, aggregates, strict sub-minimums, the offset and the verdict."""

import pytest
from credit_builders import HORGOS, MINIMAL, D, amounts, bucket_records, rec, sheet

from verifier.vocab import BUCKETS, LEAF_BUCKETS


@pytest.mark.parametrize(
    "category, level, bucket",
    [
        ("required-public", "national", "prefecture_public"),  # national counts as prefecture
        ("required-public", "provincial", "prefecture_public"),  # provincial counts as prefecture
        ("required-public", "prefecture", "prefecture_public"),
        ("required-public", "county", "county_public"),
        ("required-professional", "national", "prefecture_professional"),
        ("required-professional", "provincial", "prefecture_professional"),
        ("required-professional", "prefecture", "prefecture_professional"),
        ("required-professional", "county", "county_professional"),
        ("required-digital", "national", "digital"),
        ("required-digital", "county", "digital"),
        ("elective", "provincial", "elective"),
        ("elective", "school", "elective"),
        ("school-based", "county", "school_based"),
        ("school-based", "school", "school_based"),
        ("required-professional", "school", "school_based"),  # school_level_is_school_based
        ("induction", "national", "prefecture_professional"),  # induction = required professional
        ("induction", "provincial", "prefecture_professional"),
        ("induction", "prefecture", "prefecture_professional"),
        ("induction", "county", "county_professional"),
        ("induction", "school", "school_based"),  # school level: school-based
    ],
)
def test_bucket_routing(category, level, bucket):
    # 8 centralised h = 2.00 credits, all in one leaf bucket
    s = sheet([rec(category=category, level=level, hours="8")])
    for leaf in LEAF_BUCKETS:
        assert s.buckets[leaf] == (D("2") if leaf == bucket else 0), leaf
    assert s.records[0].bucket == bucket
    assert s.buckets["total"] == D("2")


def test_aggregates():
    s = sheet(
        bucket_records(
            prefecture_public=1,
            prefecture_professional=2,
            county_public=3,
            county_professional=4,
            digital=5,
            elective=6,
            school_based=7,
        )
    )
    assert amounts(s) == {
        "prefecture_public": "1.00",
        "prefecture_professional": "2.00",
        "prefecture": "3.00",  # 1 + 2
        "county_public": "3.00",
        "county_professional": "4.00",
        "county": "7.00",  # 3 + 4
        "digital": "5.00",
        "required": "15.00",  # 3 + 7 + 5
        "elective": "6.00",
        "school_based": "7.00",
        "total": "28.00",  # 15 + 6 + 7
    }
    assert list(amounts(s)) == list(BUCKETS)


# -- the verdict -------------------------------------------------------------


def test_exact_minimums_are_qualified():
    # 5 + 15 + 10 + 20 + 10 = 60 required, + 10 + 20 = 90 total
    s = sheet(bucket_records(**MINIMAL))
    assert s.qualified is True
    assert s.unmet == ()
    assert s.offset_used == 0
    j = s.to_json_dict()
    assert j["buckets"]["total"] == "90.00" and j["buckets"]["required"] == "60.00"
    assert j["qualified"] is True and j["unmet"] == [] and j["offset_used"] == "0.00"


def test_one_hundredth_short_is_unqualified():
    # county_public 9.99 (39.96 h / 4): county_public, county, required, total each 0.01 short;
    # nothing to offset from (required 59.99 < 60)
    s = sheet(bucket_records(**{**MINIMAL, "county_public": "9.99"}))
    assert s.unmet == ("county_public", "county", "required", "total")
    assert s.qualified is False


def test_no_records_lists_every_requirement():
    s = sheet([])
    assert list(s.unmet) == list(BUCKETS)
    assert s.qualified is False


# -- strict sub-minimums -------------------------------------------------------


def test_prefecture_public_surplus_does_not_fill_prefecture_professional():
    # public 10 (+5 over), professional 10 (5 short) → prefecture 20 met, professional unmet;
    # required 10+10+10+20+10 = 60, total 90: only the sub-bucket fails
    s = sheet(bucket_records(**{**MINIMAL, "prefecture_public": 10, "prefecture_professional": 10}))
    assert amounts(s)["prefecture"] == "20.00"
    assert amounts(s)["total"] == "90.00"
    assert s.unmet == ("prefecture_professional",)
    assert s.offset_used == 0


def test_county_public_surplus_does_not_fill_county_professional():
    # county_public 30, county_professional 0 → county 30 met, professional 20 short
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 30, "county_professional": 0}))
    assert amounts(s)["county"] == "30.00" and amounts(s)["required"] == "60.00"
    assert s.unmet == ("county_professional",)


def test_county_surplus_does_not_fill_prefecture():
    # prefecture_professional 5 (10 short), county_professional 30 (+10) → prefecture too is short
    # (prefecture 10 < 20); required still 60
    s = sheet(bucket_records(**{**MINIMAL, "prefecture_professional": 5, "county_professional": 30}))
    assert amounts(s)["required"] == "60.00"
    assert s.unmet == ("prefecture_professional", "prefecture")


def test_required_surplus_never_fills_digital():
    # digital 0, county_professional 40 → required 5+15+10+40 = 70 (surplus 10); total 100
    s = sheet(bucket_records(**{**MINIMAL, "digital": 0, "county_professional": 40}))
    assert amounts(s)["required"] == "70.00" and amounts(s)["total"] == "100.00"
    assert s.unmet == ("digital",)
    assert s.offset_used == 0


def test_elective_surplus_never_fills_required():
    # county_public 0 (10 short), elective 20 → required 50, total 90
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 0, "elective": 20}))
    assert amounts(s)["total"] == "90.00"
    assert s.unmet == ("county_public", "county", "required")


# -- the offset ----------------------------------------------------------------


def test_required_surplus_covers_elective_shortfall():
    # county_public 20 → required 70 (surplus 10); elective 0 (short 10) → covered; total 90
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 20, "elective": 0}))
    assert s.offset_used == D("10")
    assert s.unmet == () and s.qualified is True
    assert s.to_json_dict()["offset_used"] == "10.00"


def test_required_surplus_covers_school_based_shortfall():
    # required 70 (surplus 10); school_based 10 (short 10) → covered; total 90
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 20, "school_based": 10}))
    assert s.offset_used == D("10")
    assert s.qualified is True


def test_offset_covers_elective_first_then_school_based():
    # required 65 (surplus 5); elective 5 (short 5), school 15 (short 5)
    # → the 5 goes to elective; school_based stays 5 short; total 65+5+15 = 85 < 90
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 15, "elective": 5, "school_based": 15}))
    assert s.offset_used == D("5")
    assert s.unmet == ("school_based", "total")


def test_offset_spills_from_elective_to_school_based():
    # required 72.5 (surplus 12.5); elective 2 (short 8), school 15 (short 5)
    # → 8 to elective, 4.5 to school → school still 0.50 short; used 12.50; total 89.5
    s = sheet(bucket_records(**{**MINIMAL, "county_professional": "32.5", "elective": 2, "school_based": 15}))
    assert s.to_json_dict()["offset_used"] == "12.50"
    assert s.unmet == ("school_based", "total")


def test_partial_offset_leaves_the_rest_unmet():
    # required 63 (surplus 3); elective 5 (short 5) → 3 covered, 2 still short; total 88
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 13, "elective": 5}))
    assert s.offset_used == D("3")
    assert s.unmet == ("elective", "total")
    assert s.qualified is False


def test_offset_uses_only_what_is_needed():
    # required 80 (surplus 20); elective 0 (short 10) → used 10, not 20; total 100
    s = sheet(bucket_records(**{**MINIMAL, "county_public": 30, "elective": 0}))
    assert s.offset_used == D("10")
    assert s.qualified is True


def test_no_surplus_no_offset():
    # required exactly 60; elective 0 → nothing to offset with
    s = sheet(bucket_records(**{**MINIMAL, "elective": 0}))
    assert s.offset_used == 0
    assert s.unmet == ("elective", "total")


def test_offset_does_not_excuse_a_required_sub_minimum():
    # prefecture_public 0 (5 short), county_public 25 (+15): required 70 (surplus 10);
    # elective 0 covered by offset, but prefecture_public / prefecture remain unmet
    s = sheet(bucket_records(**{**MINIMAL, "prefecture_public": 0, "county_public": 25, "elective": 0}))
    assert s.offset_used == D("10")
    assert s.unmet == ("prefecture_public", "prefecture")


def test_fully_qualified_teacher_total_90():
    # required 60 + elective 10 + school 20 = 90, all sub-minimums met
    s = sheet(bucket_records(**MINIMAL))
    assert amounts(s)["total"] == "90.00"
    assert s.qualified is True and s.to_json_dict()["unmet"] == []
    assert s.minimums == HORGOS.minimums
