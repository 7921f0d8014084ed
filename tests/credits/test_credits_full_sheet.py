"""A realistic five-year sheet of a teacher hired before the cycle, computed by
hand record by record, and the docs/formats.md JSON shape."""

import json

from credit_builders import CERT, HORGOS, TWO_DECIMALS, rec, sheet, teacher

RECORDS = [
    # code, completed, level, category, mode, hours, grade, role; hand-computed credits
    rec(
        "A01",
        completed_on="2024-03-15",
        level="provincial",
        category="required-public",
        mode="online",
        hours="30",
        grade="good",
    ),  # 30/5 = 6; +10 % → 6.60
    rec(
        "A02",
        completed_on="2024-07-10",
        level="prefecture",
        category="required-professional",
        mode="centralised",
        hours="24",
        grade="excellent",
    ),  # 24/4 = 6; +10 % → 6.60
    rec(
        "A03",
        completed_on="2024-09-20",
        level="county",
        category="required-public",
        mode="centralised",
        hours="22",
    ),  # 22/4 = 5.50
    rec(
        "A04",
        completed_on="2024-11-05",
        level="school",
        category="school-based",
        mode="school-based",
        hours="25",
    ),  # 25/5 = 5.00
    rec(
        "A05", completed_on="2024-12-01", level="county", category="elective", mode="online", hours="12"
    ),  # 12/5 = 2.40
    rec(
        "B01",
        completed_on="2025-04-12",
        level="national",
        category="required-professional",
        mode="online",
        hours="21",
        grade="excellent",
    ),  # 21/5 = 4.2; ×1.15 = 4.83
    rec(
        "B02",
        completed_on="2025-05-20",
        level="county",
        category="required-professional",
        mode="centralised",
        hours="30",
        grade="good",
    ),  # 7.5; ×1.05 = 7.875 → 7.88
    rec(
        "B03",
        completed_on="2025-08-30",
        level="county",
        category="required-digital",
        mode="online",
        hours="26",
    ),  # 26/5 = 5.20
    rec(
        "B04",
        completed_on="2025-10-10",
        level="county",
        category="required-professional",
        mode="centralised",
        hours="13",
        grade="fail",
    ),  # failed → 0
    rec(
        "B05",
        completed_on="2025-12-15",
        level="school",
        category="school-based",
        mode="school-based",
        hours="22",
    ),  # 22/5 = 4.40
    rec(
        "C01",
        completed_on="2026-03-08",
        level="county",
        category="required-professional",
        mode="centralised",
        hours="14",
        role="lead-trainer",
    ),  # 3.5 + 1 × 3.5 = 7.00
    rec(
        "C02",
        completed_on="2026-06-18",
        level="prefecture",
        category="elective",
        mode="centralised",
        hours="18.5",
        grade="excellent",
    ),  # 4.625; ×1.1 = 5.0875 → 5.09
    rec(
        "C03",
        completed_on="2026-09-01",
        level="county",
        category="required-digital",
        mode="centralised",
        hours="23",
    ),  # 23/4 = 5.75
    rec(
        "D01",
        completed_on="2027-05-05",
        level="county",
        category="required-public",
        mode="online",
        hours="27",
        grade="excellent",
    ),  # 5.4; ×1.1 = 5.94
    rec(
        "D02",
        completed_on="2027-10-10",
        level="county",
        category="required-professional",
        mode="online",
        hours="32.5",
        grade="good",
    ),  # 6.5; ×1.05 = 6.825 → 6.83
    rec(
        "D03",
        completed_on="2027-11-11",
        level="school",
        category="school-based",
        mode="school-based",
        hours="30",
    ),  # 30/5 = 6.00
    rec(
        "D04",
        completed_on="2027-11-20",
        level="prefecture",
        category="required-public",
        mode="centralised",
        hours="8",
        approved=False,
    ),  # unapproved → 0
    rec(
        "E01",
        completed_on="2028-04-04",
        level="provincial",
        category="required-professional",
        mode="centralised",
        hours="9",
        grade="excellent",
        role="lead-trainer",
    ),
    # 9/4 = 2.25; max(lead 2×, excellent 15 %) = 2× → 2.25 + 4.50 = 6.75
    rec(
        "E02",
        completed_on="2028-06-06",
        level="school",
        category="school-based",
        mode="school-based",
        hours="24",
    ),  # 24/5 = 4.80
    rec(
        "E03",
        completed_on="2028-09-09",
        level="county",
        category="required-digital",
        mode="online",
        hours="3",
    ),  # 3/5 = 0.60
    rec(
        "E04",
        completed_on="2028-10-10",
        level="county",
        category="required-professional",
        mode="centralised",
        hours="6",
        recognised=False,
    ),  # not yet recognised → 0
]

# Buckets by hand:
#   prefecture_public        A01 6.60                                = 6.60
#   prefecture_professional  A02 6.60 + B01 4.83 + E01 6.75          = 18.18
#   prefecture               6.60 + 18.18                            = 24.78
#   county_public            A03 5.50 + D01 5.94                     = 11.44
#   county_professional      B02 7.88 + C01 7.00 + D02 6.83          = 21.71
#   county                   11.44 + 21.71                           = 33.15
#   digital                  B03 5.20 + C03 5.75 + E03 0.60          = 11.55
#   required                 24.78 + 33.15 + 11.55                   = 69.48 (surplus 9.48)
#   elective                 A05 2.40 + C02 5.09                     = 7.49  (short 2.51)
#   school_based             A04 5.00 + B05 4.40 + D03 6.00 + E02 4.80 = 20.20
#   total                    69.48 + 7.49 + 20.20                    = 97.17
#   offset_used              min(9.48, 2.51)                         = 2.51 → qualified
EXPECTED_BUCKETS = {
    "prefecture_public": "6.60",
    "prefecture_professional": "18.18",
    "prefecture": "24.78",
    "county_public": "11.44",
    "county_professional": "21.71",
    "county": "33.15",
    "digital": "11.55",
    "required": "69.48",
    "elective": "7.49",
    "school_based": "20.20",
    "total": "97.17",
}
# Years by completion date:
#   2024: 6.60 + 6.60 + 5.50 + 5.00 + 2.40 = 26.10 (req 18.70, el 2.40, sb 5.00) → met
#   2025: 4.83 + 7.88 + 5.20 + 4.40        = 22.31 (req 17.91, el 0 → offset 2 of 5.91) → met
#   2026: 7.00 + 5.09 + 5.75               = 17.84 (req 12.75, sb 0: 0.75 offset leaves 3.25) → short sb, total
#   2027: 5.94 + 6.83 + 6.00               = 18.77 (req 12.77, el 0: 0.77 offset leaves 1.23) → short el
#   2028: 6.75 + 4.80 + 0.60               = 12.15 (req 7.35, el 0, sb 4.80) → short req, el, total
#   26.10 + 22.31 + 17.84 + 18.77 + 12.15 = 97.17 = total
EXPECTED_YEARS = {"2024": "26.10", "2025": "22.31", "2026": "17.84", "2027": "18.77", "2028": "12.15"}
EXPECTED_RECORDS = [  # (code, basic, reward, credits)
    ("A01", "6.00", "0.60", "6.60"),
    ("A02", "6.00", "0.60", "6.60"),
    ("A03", "5.50", "0.00", "5.50"),
    ("A04", "5.00", "0.00", "5.00"),
    ("A05", "2.40", "0.00", "2.40"),
    ("B01", "4.20", "0.63", "4.83"),
    ("B02", "7.50", "0.38", "7.88"),
    ("B03", "5.20", "0.00", "5.20"),
    ("B04", "0.00", "0.00", "0.00"),
    ("B05", "4.40", "0.00", "4.40"),
    ("C01", "3.50", "3.50", "7.00"),
    ("C02", "4.63", "0.46", "5.09"),
    ("C03", "5.75", "0.00", "5.75"),
    ("D01", "5.40", "0.54", "5.94"),
    ("D02", "6.50", "0.33", "6.83"),
    ("D03", "6.00", "0.00", "6.00"),
    ("D04", "0.00", "0.00", "0.00"),
    ("E01", "2.25", "4.50", "6.75"),
    ("E02", "4.80", "0.00", "4.80"),
    ("E03", "0.60", "0.00", "0.60"),
    ("E04", "0.00", "0.00", "0.00"),
]


def _json():
    # input order shuffled: the sheet orders records by completion date
    return sheet(list(reversed(RECORDS)), teacher(hired_on="2012-09-01")).to_json_dict()


def test_full_sheet_buckets():
    j = _json()
    assert j["buckets"] == EXPECTED_BUCKETS
    assert list(j["buckets"]) == list(EXPECTED_BUCKETS)  # docs/formats.md order


def test_full_sheet_verdict_and_offset():
    j = _json()
    assert j["offset_used"] == "2.51"
    assert j["qualified"] is True
    assert j["unmet"] == []


def test_full_sheet_years():
    assert _json()["years"] == EXPECTED_YEARS


def test_full_sheet_year_statuses_reported_but_not_disqualifying():
    s = sheet(RECORDS, teacher(hired_on="2012-09-01"))
    assert [(y.year, y.status, y.short) for y in s.years] == [
        (2024, "met", ()),
        (2025, "met", ()),
        (2026, "short", ("school_based", "total")),
        (2027, "short", ("elective",)),
        (2028, "short", ("required", "elective", "total")),
    ]
    assert s.qualified is True


def test_full_sheet_records():
    j = _json()
    got = [(r["project_code"], r["basic"], r["reward"], r["credits"]) for r in j["records"]]
    assert got == EXPECTED_RECORDS
    assert all(isinstance(r["why"], str) and r["why"] for r in j["records"])


def test_full_sheet_json_shape():
    j = _json()
    assert list(j) == [
        "certificate_number",
        "cycle",
        "profile",
        "buckets",
        "offset_used",
        "years",
        "qualified",
        "unmet",
        "records",
        "as_of",
    ]
    assert j["as_of"] is None  # the whole cycle: no day given
    assert j["certificate_number"] == CERT
    assert j["cycle"] == 7 and j["profile"] == "horgos-7" == HORGOS.id
    for r in j["records"]:
        assert set(r) == {"project_code", "basic", "reward", "credits", "why"}
        for k in ("basic", "reward", "credits"):
            assert TWO_DECIMALS.match(r[k]), r
    for v in [*j["buckets"].values(), j["offset_used"], *j["years"].values()]:
        assert TWO_DECIMALS.match(v), v
    # plain JSON, round-trips
    assert json.loads(json.dumps(j, ensure_ascii=False)) == j


def test_as_of_a_day_counts_only_the_records_completed_by_then():
    # docs/formats.md: a sheet as of a date counts only records completed on or before it
    whole = sheet(RECORDS, teacher(hired_on="2012-09-01"))
    on_the_day = sheet(RECORDS, teacher(hired_on="2012-09-01"), as_of="2027-05-05")  # D01's day
    counted = {r.project_code for r in on_the_day.records}
    assert "D01" in counted and not counted & {"D02", "D03", "D04", "E01", "E02", "E03", "E04"}
    assert on_the_day.buckets["total"] < whole.buckets["total"]
    assert on_the_day.to_json_dict()["as_of"] == "2027-05-05"
    years = {y.year: y.amounts["total"] for y in on_the_day.years}
    assert years[2028] == 0 and years[2024] == {y.year: y.amounts["total"] for y in whole.years}[2024]
