"""Hours → basic credits, and the records that register nothing."""

from decimal import Decimal

import pytest
from credit_builders import D, amounts, one, rec, sheet, teacher

# -- hours → basic credits by mode ------------------------------------------


@pytest.mark.parametrize(
    "mode, hours, expected",
    [
        ("centralised", "4", "1.00"),  # 4 h / 4 = 1
        ("online", "5", "1.00"),  # 5 h / 5 = 1
        ("school-based", "5", "1.00"),  # 5 h / 5 = 1
        ("centralised", "5", "1.25"),  # 5 / 4 = 1.25
        ("online", "4", "0.80"),  # 4 / 5 = 0.8
        ("school-based", "4", "0.80"),  # 4 / 5 = 0.8
        ("centralised", "40", "10.00"),  # 40 / 4 = 10
        ("online", "40", "8.00"),  # 40 / 5 = 8
    ],
)
def test_hours_to_basic_credits_by_mode(mode, hours, expected):
    rc = one(rec(mode=mode, hours=hours))
    assert rc.basic == D(expected)
    assert rc.credits == D(expected)
    assert rc.reward == 0


@pytest.mark.parametrize(
    "mode, hours, expected",
    [
        ("centralised", "2.5", "0.63"),  # 2.5 / 4 = 0.625 → half-up 0.63
        ("centralised", "1.5", "0.38"),  # 1.5 / 4 = 0.375 → 0.38
        ("online", "7.5", "1.50"),  # 7.5 / 5 = 1.5
        ("online", "0.1", "0.02"),  # 0.1 / 5 = 0.02
        ("school-based", "12.3", "2.46"),  # 12.3 / 5 = 2.46
        ("centralised", "0.02", "0.01"),  # 0.02 / 4 = 0.005 → half-up 0.01
        ("centralised", "0.01", "0.00"),  # 0.01 / 4 = 0.0025 → 0.00
    ],
)
def test_fractional_hours(mode, hours, expected):
    rc = one(rec(mode=mode, hours=hours))
    assert rc.credits == D(expected)
    assert rc.basic == D(expected)


def test_credits_are_exact_decimals_not_floats():
    # ten records of 0.5 online hours: 0.5 / 5 = 0.1 each; 10 × 0.1 = 1.00 exactly
    # (ten float 0.1s would sum to 0.9999999999999999)
    s = sheet([rec(f"R{i}", mode="online", hours="0.5") for i in range(10)])
    assert all(isinstance(r.credits, Decimal) for r in s.records)
    assert isinstance(s.buckets["total"], Decimal)
    assert s.buckets["total"] == Decimal("1.00")
    assert s.buckets["county_professional"] == Decimal("1.00")
    # online 0.5 h + 1 h: 0.1 + 0.2 = 0.30 exactly (as floats: 0.30000000000000004)
    s2 = sheet([rec("A", mode="online", hours="0.5"), rec("B", mode="online", hours="1")])
    assert s2.buckets["total"] == Decimal("0.3")
    assert amounts(s2)["total"] == "0.30"


# -- records that register nothing -----------------------------------------


def _registers_nothing(record, who=None):
    s = sheet([record], who)
    (rc,) = s.records
    assert rc.bucket is None and not rc.counts
    assert (rc.basic, rc.reward, rc.credits) == (0, 0, 0)
    assert all(v == 0 for v in s.buckets.values())
    j = s.to_json_dict()
    assert j["records"][0]["credits"] == "0.00"
    assert j["buckets"]["total"] == "0.00"
    assert all(v == "0.00" for v in j["years"].values())
    return rc


def test_control_the_plain_record_does_count():
    # the baseline record used below: 40 centralised hours = 10 credits
    s = sheet([rec(hours="40")])
    assert s.buckets["total"] == D("10")


def test_failed_grade_registers_nothing():
    rc = _registers_nothing(rec(hours="40", grade="fail"))
    assert "不合格" in rc.why


def test_failed_lead_trainer_registers_nothing_either():
    _registers_nothing(rec(hours="40", grade="fail", role="lead-trainer", level="provincial"))


def test_unapproved_project_registers_nothing():
    rc = _registers_nothing(rec(hours="40", approved=False, grade="excellent"))
    assert "未经审核" in rc.why


def test_unrecognised_record_registers_nothing():
    rc = _registers_nothing(rec(hours="40", recognised=False))
    assert "认定" in rc.why


@pytest.mark.parametrize("completed_on", ["2023-12-31", "2029-01-01", "2019-06-01", "2030-01-01"])
def test_record_outside_cycle_registers_nothing(completed_on):
    _registers_nothing(rec(hours="40", completed_on=completed_on))


@pytest.mark.parametrize("completed_on, year", [("2024-01-01", "2024"), ("2028-12-31", "2028")])
def test_cycle_boundaries_are_inclusive(completed_on, year):
    s = sheet([rec(hours="40", completed_on=completed_on)])
    assert s.buckets["total"] == D("10")  # 40 / 4
    assert s.to_json_dict()["years"][year] == "10.00"


def test_record_before_hire_date_is_pre_service_and_registers_nothing():
    who = teacher(hired_on="2025-09-01")
    rc = _registers_nothing(rec(hours="40", completed_on="2025-08-31"), who)
    assert "岗前" in rc.why


def test_record_on_hire_date_counts():
    who = teacher(hired_on="2025-09-01")
    s = sheet([rec(hours="40", completed_on="2025-09-01")], who)
    assert s.buckets["total"] == D("10")
