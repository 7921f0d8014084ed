"""What a verification reads off a certificate's credits (verifier.reading),
from which the verifier's page, its JSON, the CLI and the PDF all take
their rows: from the register's sheet summary when the token is bound to
it, from the token's totals alone otherwise (docs/rules.md: a short year is
reported on the verifier page too)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from tests.certs.tokens import Key, claims, verifier
from verifier.profiles import load_profile
from verifier.reading import read_credits
from verifier.requirements import yearly_rule_text
from verifier.summary import SheetSummary, YearSummary
from verifier.token import parse

PROFILE = load_profile("horgos-7")
TODAY = date(2026, 11, 23)  # the tokens' issue day


def _result(**changes):
    key = Key()
    result = verifier(key.public()).verify_raw(key.token(claims(**changes)), TODAY)
    assert result.valid, [(c.name, c.detail) for c in result.checks]
    return result


def _years(result) -> dict[int, str]:
    return {y.year: y.status for y in result.reading.years}


def test_from_the_token_alone_a_year_below_the_yearly_total_is_short_and_the_rest_met_in_total():
    result = _result(years=(1500, 2350, 1800, 1900, 1900))
    assert result.reading.source == "token"
    assert _years(result) == {
        2024: "short",
        2025: "total-met",
        2026: "total-met",
        2027: "total-met",
        2028: "total-met",
    }
    assert [y.label for y in result.reading.years][:2] == ["未达", "合计达标"]
    assert yearly_rule_text(PROFILE).startswith("年度原则要求：总学分 18.00")


def test_years_under_way_at_issue_are_not_called_short():
    # in progress, issued in 2026: 2026 to 2028 were not over, 2025 was
    result = _result(status=0, credits=(0, 0, 0, 2000, 0, 0, 1750, 3750), years=(1850, 1000, 900, 0, 0))
    assert _years(result) == {
        2024: "total-met",
        2025: "short",
        2026: "not-yet",
        2027: "not-yet",
        2028: "not-yet",
    }


def test_a_late_joiners_minimums_and_first_years_are_shown_prorated():
    # 3/5 of every minimum (54 total); hired in 2025, so 2024 and 2025 owe nothing
    result = _result(credits=(300, 900, 600, 1200, 600, 600, 1200, 5400), years=(0, 0, 1800, 1800, 1800))
    assert result.share == (3, 5) and result.reading.prorated
    rows = {b.name: b.minimum for b in result.reading.buckets}
    assert rows["total"] == Decimal("54.00") and rows["prefecture_public"] == Decimal("3.00")
    years = _years(result)
    assert years[2024] == years[2025] == "not-required" and years[2026] == "total-met"


def test_a_full_time_teachers_minimums_are_the_cycles():
    result = _result()
    assert result.share is None and not result.reading.prorated
    assert {b.name: b.minimum for b in result.reading.buckets}["total"] == Decimal("90.00")
    assert result.reading.requirements == (11, 11) and result.reading.shortfalls == ()


def test_years_without_credits_before_the_first_credited_year_are_not_called_short():
    # in progress, the token cannot say when she was hired: 2024 and 2025 have nothing at all
    result = _result(status=0, credits=(0, 0, 0, 1800, 0, 0, 0, 1800), years=(0, 0, 1800, 0, 0))
    years = _years(result)
    assert years[2024] == years[2025] == "no-credits" and years[2026] == "total-met"


def test_from_the_final_review_the_last_year_is_judged_on_the_page_too():
    # in progress, issued 2028-12-10 (the review is open): 2028's 5.00 is below 18, not under way
    issued = int(datetime(2028, 12, 10, 2, tzinfo=UTC).timestamp())
    key = Key()
    c = claims(
        status=0, issued=issued, credits=(0, 0, 0, 9500, 0, 0, 0, 9500), years=(2000, 2500, 2000, 2500, 500)
    )
    result = verifier(key.public()).verify_raw(key.token(c), date(2028, 12, 11))
    assert result.valid, [(x.name, x.detail) for x in result.checks]
    assert _years(result)[2028] == "short"


def test_no_prorated_reading_when_the_credits_check_failed():
    # a qualified late joiner's shape, but the parts do not add up: no 'prorated' reading offered
    key = Key()
    c = claims(credits=(300, 900, 600, 1200, 600, 600, 1200, 5500), years=(0, 0, 1800, 1800, 1900))
    result = verifier(key.public()).verify_raw(key.token(c), TODAY)
    assert not result.check("credits").ok and result.share is None


def test_a_cycle_under_way_says_how_many_requirements_are_met_and_what_is_short():
    # prefecture public 3.72 of 5, county professional 18 of 20 (and so prefecture 18.72 of 20,
    # county 28 of 30, required 56.72 of 60 and the total 88.72 of 90); the other five met
    result = _result(
        status=0,
        credits=(372, 1500, 1000, 1800, 1000, 1000, 2200, 8872),
        years=(1800, 1800, 1800, 1800, 1672),
    )
    reading = result.reading
    short = {s.name: s.amount for s in reading.shortfalls}
    assert short == {
        "prefecture_public": Decimal("1.28"),
        "prefecture": Decimal("1.28"),
        "county_professional": Decimal("2.00"),
        "county": Decimal("2.00"),
        "required": Decimal("3.28"),
        "total": Decimal("1.28"),
    }
    assert reading.requirements == (5, 11)
    assert reading.short_text.startswith(
        "州级及以上·公共课 差 1.28；州级及以上合计 差 1.28；县市级·专业课 差 2.00"
    )
    assert {b.name: b.status for b in reading.buckets}["prefecture_public"] == "short"
    assert result.to_json()["reading"]["short"][0] == {
        "name": "prefecture_public",
        "label": "州级及以上·公共课",
        "short": "1.28",
    }


def test_an_elective_shortfall_covered_by_the_required_surplus_reads_as_met_by_the_offset():
    result = _result(
        credits=(600, 2050, 1000, 2100, 1000, 500, 2000, 9250), years=(1850, 2000, 1800, 1700, 1900)
    )
    rows = {b.name: b.status_label for b in result.reading.buckets}
    assert rows["elective"] == "折抵后达标" and rows["required"] == "达标"
    assert result.reading.shortfalls == ()


def test_the_registers_summary_gives_each_years_parts_as_the_pdf_prints_them():
    # the case the page once got wrong: 2024 totals 18 but its school-based part is short
    key = Key()
    raw = key.token(claims(years=(1800, 2000, 2000, 1850, 1800)))
    summary = SheetSummary(
        years=(
            YearSummary.of(
                2024,
                "short",
                ("school_based",),
                {
                    "total": Decimal("18.00"),
                    "required": Decimal("15.00"),
                    "elective": Decimal("2.00"),
                    "school_based": Decimal("1.00"),
                },
            ),
            *(
                YearSummary.of(
                    y,
                    "met",
                    (),
                    {
                        "total": Decimal(t),
                        "required": Decimal(12),
                        "elective": Decimal(2),
                        "school_based": Decimal(t) - 14,
                    },
                )
                for y, t in ((2025, "20.00"), (2026, "20.00"), (2027, "18.50"), (2028, "18.00"))
            ),
        ),
        minimums=dict(PROFILE.minimums),
        offset_used=Decimal(0),
        unmet=(),
        notes=("说明",),
    )
    reading = read_credits(parse(raw).claims, PROFILE, SheetSummary.from_json(summary.to_json()))
    assert reading.source == "register" and reading.sheet_notes == ("说明",) and reading.notes == ()
    first = reading.years[0]
    assert (first.status, first.label, first.detail) == ("short", "未达", "未达：校本")
    assert first.parts["school_based"] == "1.00"  # as written, for the PDF
