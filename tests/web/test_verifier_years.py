"""What the verifier page says of each year and of a late joiner's minimums,
from a token's totals alone (DOMAIN.md: a short year is reported on the
verifier page too)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from tests.certs.tokens import Key, claims, verifier
from verifier.profiles import load_profile
from verifier.requirements import yearly_rule_text
from verifier.web.pages import _before_issue, _credit_rows, _share, _year_rows

PROFILE = load_profile("horgos-7")
TODAY = date(2026, 11, 23)  # the tokens' issue day


def _result(**changes):
    key = Key()
    result = verifier(key.public()).verify_raw(key.token(claims(**changes)), TODAY)
    assert result.valid, [(c.name, c.detail) for c in result.checks]
    return result


def _notes(result) -> dict[str, str]:
    return {y: note for y, _total, note in _year_rows(result, PROFILE, _share(result, PROFILE))}


def test_a_year_below_the_yearly_total_is_reported_and_the_rest_met():
    result = _result(years=(1500, 2350, 1800, 1900, 1900))
    assert _notes(result) == {"2024": "低于年度 18 学分", "2025": "合计达 18 学分", "2026": "合计达 18 学分",
                              "2027": "合计达 18 学分", "2028": "合计达 18 学分"}
    assert yearly_rule_text(PROFILE).startswith("年度原则要求：总学分 18.00")


def test_years_under_way_at_issue_are_not_called_short():
    # in progress, issued in 2026: 2026 to 2028 were not over, 2025 was
    result = _result(status=0, credits=(0, 0, 0, 2000, 0, 0, 1750, 3750), years=(1850, 1000, 900, 0, 0))
    assert _notes(result) == {"2024": "合计达 18 学分", "2025": "低于年度 18 学分", "2026": "签发时年度未结束",
                              "2027": "签发时年度未结束", "2028": "签发时年度未结束"}


def test_a_late_joiners_minimums_and_first_years_are_shown_prorated():
    # 3/5 of every minimum (54 total); hired in 2025, so 2024 and 2025 owe nothing
    result = _result(credits=(300, 900, 600, 1200, 600, 600, 1200, 5400), years=(0, 0, 1800, 1800, 1800))
    assert _share(result, PROFILE) == (3, 5)
    rows = {label: minimum for label, _v, minimum in _credit_rows(result.certificate, PROFILE, (3, 5))}
    assert rows["总学分"] == "54.00" and rows["州级及以上·公共课"] == "3.00"
    notes = _notes(result)
    assert notes["2024"] == notes["2025"] == "不作要求（入职前或未满一年）" and notes["2026"] == "合计达 18 学分"


def test_a_full_time_teachers_minimums_are_the_cycles():
    result = _result()
    assert _share(result, PROFILE) is None
    rows = {label: minimum for label, _v, minimum in _credit_rows(result.certificate, PROFILE, None)}
    assert rows["总学分"] == "90.00"


def test_years_without_credits_before_the_first_credited_year_are_not_called_short():
    # in progress, the token cannot say when she was hired: 2024 and 2025 have nothing at all
    result = _result(status=0, credits=(0, 0, 0, 1800, 0, 0, 0, 1800), years=(0, 0, 1800, 0, 0))
    notes = _notes(result)
    assert notes["2024"] == notes["2025"] == "无学分记录" and notes["2026"] == "合计达 18 学分"


def test_from_the_final_review_the_last_year_is_judged_on_the_page_too():
    # in progress, issued 2028-12-10 (the review is open): 2028's 5.00 is below 18, not under way
    issued = int(datetime(2028, 12, 10, 2, tzinfo=timezone.utc).timestamp())
    key = Key()
    c = claims(status=0, issued=issued, credits=(0, 0, 0, 9500, 0, 0, 0, 9500), years=(2000, 2500, 2000, 2500, 500))
    result = verifier(key.public()).verify_raw(key.token(c), date(2028, 12, 11))
    assert result.valid, [(x.name, x.detail) for x in result.checks]
    assert _notes(result)["2028"] == "低于年度 18 学分"
    before = verifier(key.public()).verify_raw(key.token(c), date(2028, 11, 30))
    assert _before_issue(before, date(2028, 11, 30)) == "2028-12-10" and _before_issue(result, date(2028, 12, 11)) is None


def test_no_prorated_reading_when_the_credits_check_failed():
    # a qualified late joiner's shape, but the parts do not add up: no 'prorated' reading offered
    key = Key()
    c = claims(credits=(300, 900, 600, 1200, 600, 600, 1200, 5500), years=(0, 0, 1800, 1800, 1900))
    result = verifier(key.public()).verify_raw(key.token(c), TODAY)
    assert not result.check("credits").ok and _share(result, PROFILE) is None
