"""The Putuo profile: 10 h = 1 credit, 36 credits in five years, seniors 54, no rewards."""

import pytest
from credit_builders import PUTUO, D, rec, sheet, teacher


def putuo(records, title=None, hired_on="2015-09-01", as_of=None):
    return sheet(records, teacher(hired_on=hired_on, title=title), profile=PUTUO, as_of=as_of)


def test_profile_loads():
    assert (PUTUO.id, PUTUO.cycle, PUTUO.first_year, PUTUO.last_year) == ("putuo-14", 14, 2021, 2025)


@pytest.mark.parametrize(
    "mode, hours, credits",
    [
        ("centralised", "10", "1.00"),  # 10 / 10
        ("online", "10", "1.00"),
        ("school-based", "10", "1.00"),
        ("centralised", "15", "1.50"),  # 15 / 10 (Horgos would give 3.75)
        ("online", "0.05", "0.01"),  # 0.005 → half-up 0.01
    ],
)
def test_ten_hours_one_credit(mode, hours, credits):
    (r,) = putuo([rec(mode=mode, hours=hours, completed_on="2023-05-01")]).records
    assert r.credits == D(credits)


def test_no_rewards():
    # 40 h / 10 = 4; national excellent lead trainer: Horgos would give 12, Putuo 4
    (r,) = putuo(
        [rec(level="national", hours="40", grade="excellent", role="lead-trainer", completed_on="2023-05-01")]
    ).records
    assert (r.basic, r.reward, r.credits) == (D("4"), D("0"), D("4"))


def test_total_36():
    # 360 h / 10 = 36 → qualified; only a total minimum, no buckets
    s = putuo(
        [
            rec("A", hours="200", completed_on="2021-03-01"),
            rec("B", category="elective", hours="160", completed_on="2025-12-31"),
        ]
    )
    assert s.minimums == {"total": D("36")}
    assert s.to_json_dict()["buckets"]["total"] == "36.00"
    assert s.qualified is True and s.unmet == ()


def test_total_35_99_is_short():
    # 359.9 h / 10 = 35.99 < 36
    s = putuo([rec(hours="359.9", completed_on="2022-03-01")])
    assert s.unmet == ("total",) and s.qualified is False


@pytest.mark.parametrize("title", ["高级教师", "正高级教师", " 高级教师 ", "高级讲师"])
def test_senior_title_needs_54(title):
    # 360 h = 36 < 54 → short; 540 h = 54 → qualified
    assert putuo([rec(hours="360", completed_on="2022-03-01")], title=title).unmet == ("total",)
    s = putuo([rec(hours="540", completed_on="2022-03-01")], title=title)
    assert s.minimums["total"] == D("54")
    assert s.qualified is True


@pytest.mark.parametrize("title", [None, "一级教师", "二级教师"])
def test_other_titles_need_36(title):
    s = putuo([rec(hours="360", completed_on="2022-03-01")], title=title)
    assert s.minimums["total"] == D("36") and s.qualified is True


def test_cycle_is_2021_to_2025():
    # 2020-12-31 and 2026-01-01 fall outside; 2021-01-01 counts (10 h = 1)
    s = putuo(
        [
            rec("A", hours="10", completed_on="2020-12-31"),
            rec("B", hours="10", completed_on="2021-01-01"),
            rec("C", hours="10", completed_on="2026-01-01"),
        ]
    )
    assert s.buckets["total"] == D("1")
    j = s.to_json_dict()
    assert j["profile"] == "putuo-14" and j["cycle"] == 14
    assert list(j["years"]) == ["2021", "2022", "2023", "2024", "2025"]


def test_no_yearly_minimums_no_induction_no_prorating():
    # hired 2023-03-01 in Putuo: nothing prorated (still 36), no induction, no yearly check
    s = putuo([rec(hours="360", completed_on="2024-03-01")], hired_on="2023-03-01")
    assert s.minimums == {"total": D("36")}
    assert s.induction is None
    assert all(y.status == "not-required" for y in s.years)
    assert s.qualified is True
