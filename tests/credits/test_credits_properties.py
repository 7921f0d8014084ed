"""Property tests over random records and teachers (hypothesis)."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from credit_builders import HORGOS, MINIMAL, PUTUO, TWO_DECIMALS, bucket_records, rec, sheet, teacher
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.vocab import AGGREGATES, BUCKETS, CATEGORIES, GRADES, LEAF_BUCKETS, LEVELS, MODES

SETTINGS = settings(max_examples=200, deadline=None)
CENT = Decimal("0.01")
CYCLE_START, CYCLE_END = date(2024, 1, 1), date(2028, 12, 31)

hours_st = st.integers(min_value=1, max_value=20000).map(lambda n: Decimal(n) / 100)  # 0.01..200.00
hired_st = st.one_of(
    st.just(date(2015, 9, 1)), st.dates(min_value=date(2010, 1, 1), max_value=date(2028, 12, 31))
)


_BOOLS = st.booleans()


def record_st(*, grades=tuple(GRADES), approved=_BOOLS, recognised=_BOOLS):
    # built once at import: creating strategies inside a draw is what makes hypothesis slow
    return st.builds(
        rec,
        st.just("P"),
        level=st.sampled_from(list(LEVELS)),
        category=st.sampled_from(list(CATEGORIES)),
        mode=st.sampled_from(list(MODES)),
        hours=hours_st,
        approved=approved,
        kind=st.sampled_from(["training"] * 4 + ["degree", "mandarin"]),
        grade=st.sampled_from(grades),
        role=st.sampled_from(["trainee", "trainee", "lead-trainer"]),
        completed_on=st.dates(min_value=date(2023, 6, 1), max_value=date(2029, 6, 30)),
        recognised=recognised,
    )


ANY_RECORD = record_st()
PASSED_RECORD = record_st(
    grades=("pass", "good", "excellent"), approved=st.just(True), recognised=st.just(True)
)


def _numbered(rs):
    return [replace(r, project_code=f"P{i:03d}") for i, r in enumerate(rs)]


# Qualifying bases (in 2024): the 90 minimal credits; and 70 required + 0 elective + 20
# school-based, qualified only through the offset.
BASES = (
    [],
    bucket_records("2024-01-01", **MINIMAL),
    bucket_records("2024-01-01", **{**MINIMAL, "county_public": 20, "elective": 0}),
)


def records_st(max_size=20):
    """Random records, often on top of a qualifying base, so that qualified sheets,
    offsets and met years are exercised too."""
    return st.tuples(st.sampled_from(BASES), st.lists(ANY_RECORD, max_size=max_size)).map(
        lambda t: t[0] + _numbered(t[1])
    )


# (passed record, position in [0, 1]) → eligible(...) places it in the cycle on/after hire
eligible_parts_st = st.tuples(PASSED_RECORD, st.integers(min_value=0, max_value=10**6))


def eligible_from(parts, hired_on, code="NEW"):
    """A passed, approved, recognised record completed in the cycle on/after the hire date."""
    r, pos = parts
    start = max(hired_on, CYCLE_START)
    span = (CYCLE_END - start).days
    return replace(r, project_code=code, completed_on=start + timedelta(days=span * pos // 10**6))


# An independent oracle of one record's credits under Horgos cycle 7 (numbers from docs/rules.md).
HOURS_PER_CREDIT = {"centralised": Decimal(4), "online": Decimal(5), "school-based": Decimal(5)}
GRADE_RATE = {
    "national": {"good": "0.10", "excellent": "0.15"},
    "provincial": {"good": "0.10", "excellent": "0.15"},
    "prefecture": {"good": "0.05", "excellent": "0.10"},
    "county": {"good": "0.05", "excellent": "0.10"},
}
LEAD_MULTIPLE = {"national": 2, "provincial": 2, "prefecture": 1, "county": 1}


def eligible(r, hired_on) -> bool:
    return (
        r.recognised
        and r.approved
        and r.grade != "fail"
        and CYCLE_START <= r.completed_on <= CYCLE_END
        and r.completed_on >= hired_on
        and not (r.kind == "mandarin" and r.level == "school")
    )


def oracle(r, hired_on) -> tuple[Decimal, Decimal]:
    """(basic shown, credits) expected for one Horgos record."""
    if not eligible(r, hired_on):
        return Decimal(0), Decimal(0)
    if r.kind == "mandarin":  # 10 required credits (school level: not eligible, above)
        return Decimal(10), Decimal(10)
    basic = r.hours / HOURS_PER_CREDIT[r.mode]
    rate = Decimal(0)
    if r.kind == "training":
        rate = max(
            Decimal(GRADE_RATE.get(r.level, {}).get(r.grade, "0")),
            Decimal(LEAD_MULTIPLE.get(r.level, 0) if r.role == "lead-trainer" else 0),
        )
    q = lambda x: x.quantize(CENT, rounding=ROUND_HALF_UP)  # noqa: E731
    return q(basic), q(basic + basic * rate)


@SETTINGS
@given(hired=hired_st, records=records_st())
def test_each_record_matches_the_oracle_and_basic_plus_reward_is_credits(hired, records):
    s = sheet(records, teacher(hired_on=hired))
    by_code = {r.project_code: r for r in records}
    for rc in s.records:
        basic, credits = oracle(by_code[rc.project_code], hired)
        assert (rc.basic, rc.credits) == (basic, credits), rc
        assert rc.basic + rc.reward == rc.credits
        assert rc.reward >= 0
        assert rc.counts == eligible(by_code[rc.project_code], hired)
    for r in s.to_json_dict()["records"]:
        assert Decimal(r["basic"]) + Decimal(r["reward"]) == Decimal(r["credits"])


@SETTINGS
@given(hired=hired_st, records=records_st())
def test_totals_are_sums(hired, records):
    s = sheet(records, teacher(hired_on=hired))
    assert s.buckets["total"] == sum((r.credits for r in s.records), Decimal(0))
    for agg, parts in AGGREGATES.items():
        assert s.buckets[agg] == sum((s.buckets[p] for p in parts), Decimal(0))
    for leaf in LEAF_BUCKETS:
        assert s.buckets[leaf] == sum((r.credits for r in s.records if r.bucket == leaf), Decimal(0))
    assert sum((y.amounts["total"] for y in s.years), Decimal(0)) == s.buckets["total"]
    j = s.to_json_dict()
    assert sum(Decimal(v) for v in j["years"].values()) == Decimal(j["buckets"]["total"])
    assert sum(Decimal(r["credits"]) for r in j["records"]) == Decimal(j["buckets"]["total"])


@SETTINGS
@given(hired=hired_st, records=records_st(), profile=st.sampled_from([HORGOS, PUTUO]))
def test_every_json_amount_has_exactly_two_decimals(hired, records, profile):
    j = sheet(records, teacher(hired_on=hired), profile=profile).to_json_dict()
    assert list(j["buckets"]) == list(BUCKETS)
    amounts = [*j["buckets"].values(), j["offset_used"], *j["years"].values()]
    amounts += [r[k] for r in j["records"] for k in ("basic", "reward", "credits")]
    for a in amounts:
        assert isinstance(a, str) and TWO_DECIMALS.match(a), a


@SETTINGS
@given(
    hired=hired_st,
    records=records_st(),
    title=st.sampled_from([None, "高级教师"]),
    profile=st.sampled_from([HORGOS, PUTUO]),
)
def test_qualified_iff_unmet_is_empty(hired, records, title, profile):
    s = sheet(records, teacher(hired_on=hired, title=title), profile=profile)
    assert s.qualified == (len(s.unmet) == 0)
    j = s.to_json_dict()
    assert j["qualified"] == (j["unmet"] == [])
    assert set(s.unmet) <= set(BUCKETS) | {"induction"}


@SETTINGS
@given(parts=eligible_parts_st, hired=hired_st, records=records_st())
def test_adding_an_eligible_record_never_lowers_anything(parts, hired, records):
    who = teacher(hired_on=hired)
    new = eligible_from(parts, hired)
    before, after = sheet(records, who), sheet([*records, new], who)
    for b in BUCKETS:
        assert after.buckets[b] >= before.buckets[b], b
    assert after.buckets["total"] == before.buckets["total"] + oracle(new, hired)[1]
    for yb, ya in zip(before.years, after.years, strict=True):
        assert ya.amounts["total"] >= yb.amounts["total"]
        assert set(ya.short) <= set(yb.short)
    assert set(after.unmet) <= set(before.unmet)
    assert after.qualified or not before.qualified


@SETTINGS
@given(parts=eligible_parts_st, hired=hired_st, records=records_st())
def test_removing_a_failed_record_changes_nothing(parts, hired, records):
    who = teacher(hired_on=hired)
    failed = replace(eligible_from(parts, hired, code="FAILED"), grade="fail")
    without, with_ = sheet(records, who).to_json_dict(), sheet([*records, failed], who).to_json_dict()
    failed_rows = [r for r in with_["records"] if r["project_code"] == "FAILED"]
    assert [(r["basic"], r["reward"], r["credits"]) for r in failed_rows] == [("0.00", "0.00", "0.00")]
    with_["records"] = [r for r in with_["records"] if r["project_code"] != "FAILED"]
    assert with_ == without


@SETTINGS
@given(hired=hired_st, records=records_st(), seed=st.randoms(use_true_random=False))
def test_record_order_does_not_matter(hired, records, seed):
    who = teacher(hired_on=hired)
    shuffled = list(records)
    seed.shuffle(shuffled)
    assert sheet(shuffled, who).to_json_dict() == sheet(records, who).to_json_dict()


@SETTINGS
@given(
    hours=st.integers(min_value=1, max_value=60000).map(lambda n: Decimal(n) / 100),
    mode=st.sampled_from(list(MODES)),
    grade=st.sampled_from(["pass", "good", "excellent"]),
    role=st.sampled_from(["trainee", "lead-trainer"]),
    level=st.sampled_from(list(LEVELS)),
)
def test_putuo_is_hours_over_ten_without_reward(hours, mode, grade, role, level):
    s = sheet(
        [rec(hours=hours, mode=mode, grade=grade, role=role, level=level, completed_on="2023-05-01")],
        profile=PUTUO,
    )
    expected = (hours / 10).quantize(CENT, rounding=ROUND_HALF_UP)
    (r,) = s.records
    assert (r.basic, r.reward, r.credits) == (expected, Decimal(0), expected)
    assert s.qualified == (expected >= 36)
