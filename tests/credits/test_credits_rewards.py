"""Reward credits and the once-per-record rounding."""

import pytest
from credit_builders import D, amounts, one, rec, sheet

# Every case below: 40 centralised hours = 10.00 basic credits.


@pytest.mark.parametrize(
    "level, grade, credits",
    [
        ("national", "good", "11.00"),  # 10 + 10 % = 11
        ("national", "excellent", "11.50"),  # 10 + 15 % = 11.5
        ("provincial", "good", "11.00"),  # 10 + 10 %
        ("provincial", "excellent", "11.50"),  # 10 + 15 %
        ("prefecture", "good", "10.50"),  # 10 + 5 %
        ("prefecture", "excellent", "11.00"),  # 10 + 10 %
        ("county", "good", "10.50"),  # 10 + 5 %
        ("county", "excellent", "11.00"),  # 10 + 10 %
        ("school", "good", "10.00"),  # school level: no reward
        ("school", "excellent", "10.00"),
        ("national", "pass", "10.00"),  # a plain pass earns no reward
        ("county", "pass", "10.00"),
    ],
)
def test_grade_rewards_by_level(level, grade, credits):
    rc = one(rec(level=level, category="elective", hours="40", grade=grade))
    assert rc.basic == D("10")
    assert rc.credits == D(credits)
    assert rc.reward == D(credits) - D("10")


@pytest.mark.parametrize(
    "level, credits",
    [
        ("national", "30.00"),  # reward 2 × 10 = 20 → record 3 × basic = 30
        ("provincial", "30.00"),  # 2 × → 3 × basic
        ("prefecture", "20.00"),  # reward 1 × 10 = 10 → record 2 × basic = 20
        ("county", "20.00"),  # 1 × → 2 × basic
        ("school", "10.00"),  # school level: no lead-trainer reward
    ],
)
def test_lead_trainer_reward(level, credits):
    rc = one(rec(level=level, category="required-professional", hours="40", role="lead-trainer"))
    assert rc.basic == D("10")
    assert rc.credits == D(credits)
    assert rc.reward == D(credits) - D("10")


@pytest.mark.parametrize(
    "level, credits",
    [
        ("provincial", "30.00"),  # max(2 × lead, 0.15 excellent) = 2 → 30, not 10 + 20 + 1.5 = 31.50
        ("national", "30.00"),
        ("prefecture", "20.00"),  # max(1 ×, 0.10) = 1 → 20, not 10 + 10 + 1 = 21.00
        ("county", "20.00"),
    ],
)
def test_rewards_do_not_add_largest_applies(level, credits):
    rc = one(rec(level=level, hours="40", role="lead-trainer", grade="excellent"))
    assert rc.credits == D(credits)
    assert rc.reward == D(credits) - D("10")


def test_school_level_lead_trainer_with_excellent_gets_nothing_extra():
    # school level has neither grade nor lead-trainer rewards: 10.00
    rc = one(
        rec(
            level="school",
            category="school-based",
            mode="centralised",
            hours="40",
            role="lead-trainer",
            grade="excellent",
        )
    )
    assert rc.credits == D("10")


def test_degree_study_converts_hours_without_reward():
    # 40 online hours / 5 = 8 basic; degree_no_reward → 8.00 despite excellent, lead trainer
    rc = one(
        rec(
            kind="degree", mode="online", hours="40", level="national", grade="excellent", role="lead-trainer"
        )
    )
    assert (rc.basic, rc.reward, rc.credits) == (D("8"), D("0"), D("8"))


def test_mandarin_training_converts_to_profile_amount():
    # mandarin.credits = 10, whatever the hours; no reward; routed by category and level
    rc = one(
        rec(
            kind="mandarin",
            category="required-public",
            level="county",
            mode="centralised",
            hours="7",
            grade="excellent",
        )
    )
    assert (rc.basic, rc.reward, rc.credits) == (D("10"), D("0"), D("10"))
    assert rc.bucket == "county_public"
    assert one(rec(kind="mandarin", hours="7", grade="fail")).credits == 0


# -- rounding ----------------------------------------------------------------


def test_round_once_per_record_provincial_excellent_2_3_hours():
    # 2.3 centralised h / 4 = 0.575 basic; provincial excellent +15 %:
    # 0.575 × 1.15 = 0.66125 → credits 0.66 (rounded once).
    # basic shown round(0.575) = 0.58; reward shown 0.66 − 0.58 = 0.08.
    # (rounding twice would give 0.58 + round(0.08625)=0.09 = 0.67.)
    rc = one(rec(level="provincial", hours="2.3", grade="excellent"))
    assert rc.credits == D("0.66")
    assert rc.basic == D("0.58")
    assert rc.reward == D("0.08")
    assert rc.basic + rc.reward == rc.credits
    j = sheet([rec(level="provincial", hours="2.3", grade="excellent")]).to_json_dict()
    assert {k: j["records"][0][k] for k in ("basic", "reward", "credits")} == {
        "basic": "0.58",
        "reward": "0.08",
        "credits": "0.66",
    }


def test_half_up_basic():
    # 1.3 centralised h / 4 = 0.325 → half-up 0.33 (half-even would give 0.32)
    rc = one(rec(hours="1.3"))
    assert rc.credits == D("0.33") and rc.basic == D("0.33") and rc.reward == 0


def test_half_up_total_with_reward():
    # 0.5 online h / 5 = 0.1 basic; county good +5 %: 0.1 × 1.05 = 0.105 → half-up 0.11
    # (half-even: 0.10); basic 0.10, reward 0.11 − 0.10 = 0.01
    rc = one(rec(level="county", mode="online", hours="0.5", grade="good"))
    assert (rc.basic, rc.reward, rc.credits) == (D("0.10"), D("0.01"), D("0.11"))


def test_half_up_both_basic_and_total():
    # 30 centralised h / 4 = 7.5; county good: 7.5 × 1.05 = 7.875 → 7.88; basic 7.50; reward 0.38
    rc = one(rec(level="county", hours="30", grade="good"))
    assert (rc.basic, rc.reward, rc.credits) == (D("7.50"), D("0.38"), D("7.88"))
    # 18.5 centralised h / 4 = 4.625 → basic 4.63; prefecture excellent: 4.625 × 1.1 = 5.0875
    # → 5.09; reward 5.09 − 4.63 = 0.46
    rc = one(rec(level="prefecture", hours="18.5", grade="excellent"))
    assert (rc.basic, rc.reward, rc.credits) == (D("4.63"), D("0.46"), D("5.09"))


def test_sums_are_exact_sums_of_rounded_records():
    # three × 1.3 centralised h: each 0.325 → 0.33; sum 0.99
    # (rounding the exact sum 0.975 would give 0.98)
    s = sheet([rec(f"R{i}", hours="1.3") for i in range(3)])
    assert s.buckets["county_professional"] == D("0.99")
    assert amounts(s)["total"] == "0.99"
