"""Hours → credits → buckets → verdict, by a rules profile.

Pure functions over plain inputs: no database, no clock unless given.
Each interpretation of the seeds is named in the profile's
[interpretations] table and applied in exactly one function here, whose
docstring names it.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from verifier.profiles import RulesProfile
from verifier.requirements import check_minimums, prorate
from verifier.summary import YEAR_PARTS  # the parts a year is judged by, as the register keeps them
from verifier.vocab import AGGREGATES, GRADES, LEAF_BUCKETS, LEVELS, MODES, PASSING_GRADES

from .sheet import (
    ZERO,
    CreditSheet,
    InductionTally,
    RecordCredit,
    RecordInput,
    TeacherInput,
    YearTally,
    amount,
    round_half_up,
)

# -- one record ------------------------------------------------------------


def credit_record(profile: RulesProfile, rec: RecordInput, hired_on: date) -> RecordCredit:
    """The credits of one record, with the reason in Chinese."""
    return Creditor(profile).credit(rec, hired_on)


# What a record earns apart from its dates: a refusal that comes before the
# date checks, or (basic, reward, credits, bucket, induction, why) once they pass.
_Earned = tuple[Decimal, Decimal, Decimal, str | None, bool, str]
_Static = tuple[str | None, _Earned | None]
StaticKey = tuple[object, ...]


class Creditor:
    """`credit_record` for the many records of one profile. What a record
    earns depends on its project, grade, role and status, and its date only
    decides whether it counts (in the cycle, after hire): the first part is
    worked out once per distinct record and the credit once per day it was
    completed, shared by every teacher who did the same (a region's records
    come from a few hundred projects). Results are immutable, so sharing is
    safe; the order of the refusals is that of `credit_record`."""

    def __init__(self, profile: RulesProfile) -> None:
        self.profile = profile
        self._static: dict[StaticKey, _Static] = {}
        self._made: dict[StaticKey, dict[date, RecordCredit]] = {}

    def credit(self, rec: RecordInput, hired_on: date) -> RecordCredit:
        r = rec
        key = (
            r.project_code,
            r.level,
            r.category,
            r.mode,
            r.hours,
            r.approved,
            r.kind,
            r.grade,
            r.role,
            r.recognised,
        )
        return self.credit_keyed(key, rec, rec.completed_on, hired_on)

    def credit_keyed(
        self, key: StaticKey, rec: RecordInput, completed_on: date, hired_on: date
    ) -> RecordCredit:
        """`rec`'s credit on `completed_on` (its own date is not read), where
        `key` stands for every other field of `rec`: equal keys, equal fields
        (within one Creditor: the ledger's key is shorter, since a project's
        code decides its fields within one reading of the database)."""
        by_day = self._made.get(key)
        if by_day is None:
            by_day = self._made[key] = {}
        made = by_day.get(completed_on)
        if made is not None and hired_on <= completed_on:
            return made
        static = self._static.get(key)
        if static is None:
            static = self._static[key] = _static_credit(self.profile, rec)
        refusal, earned = static
        if refusal is None:
            refusal = _date_refusal(self.profile, completed_on, hired_on)
        if refusal is not None or earned is None:
            return RecordCredit(rec.project_code, completed_on, ZERO, ZERO, ZERO, None, False, refusal or "")
        made = by_day[completed_on] = RecordCredit(rec.project_code, completed_on, *earned)
        return made


def _static_credit(profile: RulesProfile, rec: RecordInput) -> _Static:
    refusal = _refusal(profile, rec)
    if refusal:
        return refusal, None
    if rec.kind == "mandarin" and profile.mandarin_credits is not None:
        bucket = _mandarin_bucket(profile, rec)
        if bucket is None:
            return None, (
                ZERO,
                ZERO,
                ZERO,
                None,
                False,
                "国家通用语言文字培训须为县市级及以上项目，方可折算必修学分",
            )
        basic = profile.mandarin_credits
        basis = f"国家通用语言文字培训合格达标，折算 {amount(basic)} 学分"
    else:
        bucket = profile.routing[(rec.category, rec.level)]
        per = profile.hours_per_credit[rec.mode]
        basic = rec.hours / per
        basis = f"{MODES[rec.mode]}培训 {_num(rec.hours)} 学时 ÷ {_num(per)} = {amount(basic)} 基础学分"
    rate, reason = _reward_rate(profile, rec)
    credits = round_half_up(basic + basic * rate)
    basic_shown = round_half_up(basic)
    parts = [basis]
    if reason:
        parts.append(f"{reason}，奖励 {amount(credits - basic_shown)}")
    parts.append(f"计入{profile.bucket_label(bucket)}")
    why = "；".join(parts)
    return None, (basic_shown, credits - basic_shown, credits, bucket, rec.category == "induction", why)


def _mandarin_bucket(profile: RulesProfile, rec: RecordInput) -> str | None:
    """Applies mandarin_credits: required public credits of the project's
    level, whatever its category; None where that is not a required bucket."""
    bucket = profile.routing[("required-public", rec.level)]
    return bucket if bucket in AGGREGATES["required"] else None


def _refusal(profile: RulesProfile, rec: RecordInput) -> str | None:
    """Why a record registers nothing whenever it was completed, or None."""
    if rec.hours <= 0 and rec.kind != "mandarin":
        return "学时无效（须大于 0），不计学分"
    if not rec.recognised:
        return "尚未认定，不计学分"
    if not rec.approved:
        return "培训项目未经审核，不予登记学分"
    if rec.grade not in PASSING_GRADES:
        return f"考核{GRADES.get(rec.grade, rec.grade)}，不予登记学分"
    return None


def _date_refusal(profile: RulesProfile, completed_on: date, hired_on: date) -> str | None:
    """Why a record that would count registers nothing for its date, or
    None. Applies pre_service_not_registered."""
    if not profile.cycle_start <= completed_on <= profile.cycle_end:
        return f"完成于 {completed_on}，不在本周期（{profile.first_year}—{profile.last_year}）内"
    if completed_on < hired_on:
        return f"完成于入职（{hired_on}）之前，属岗前培训，不纳入学分登记"
    return None


def _reward_rate(profile: RulesProfile, rec: RecordInput) -> tuple[Decimal, str | None]:
    """The reward as a fraction of basic credits. Applies rewards_do_not_add
    (the largest applies), lead_trainer_multiple and degree_no_reward."""
    if rec.kind in ("degree", "mandarin"):
        return ZERO, None
    options: list[tuple[Decimal, str]] = []
    grade_rate = profile.grade_rewards.get(rec.level, {}).get(rec.grade)
    if grade_rate:
        options.append((grade_rate, f"{LEVELS[rec.level]}培训{GRADES[rec.grade]} +{_pct(grade_rate)}"))
    lead = profile.lead_trainer_rewards.get(rec.level) if rec.role == "lead-trainer" else None
    if lead:
        options.append((lead, f"{LEVELS[rec.level]}项目主讲教师 奖励{_num(lead)}倍基础学分"))
    if not options:
        return ZERO, None
    return max(options, key=lambda o: o[0])


def _num(d: Decimal) -> str:
    return format(d.normalize(), "f")


def _pct(rate: Decimal) -> str:
    return f"{_num(rate * 100)}%"


# -- sums and requirements -------------------------------------------------


_AGGREGATES = tuple(AGGREGATES.items())


def tally(credits: Iterable[RecordCredit]) -> dict[str, Decimal]:
    """Leaf sums (exact) and their aggregates."""
    leaves = dict.fromkeys(LEAF_BUCKETS, ZERO)
    for c in credits:
        if c.bucket is not None:
            leaves[c.bucket] += c.credits
    out = leaves.copy()
    for name, parts in _AGGREGATES:
        total = ZERO
        for p in parts:
            total += leaves[p]
        out[name] = total
    return out


# -- who owes what ---------------------------------------------------------


def full_years_served(profile: RulesProfile, hired_on: date) -> list[int]:
    """Cycle years the teacher served from their first day."""
    return [y for y in profile.years if hired_on <= date(y, 1, 1)]


def effective_minimums(profile: RulesProfile, teacher: TeacherInput) -> tuple[dict[str, Decimal], list[str]]:
    """The cycle minimums this teacher owes, with notes. Applies the title
    variant and prorate_full_years for teachers hired after the cycle began."""
    minimums, variant = profile.minimums_for(teacher.title)
    notes = []
    if variant:
        notes.append(f"按职称“{teacher.title}”适用 {variant} 要求")
    lj = profile.late_joiners
    if lj and teacher.hired_on > lj.hired_after:
        served = max(len(full_years_served(profile, teacher.hired_on)), lj.min_years)
        n = len(profile.years)
        minimums = prorate(minimums, served, n)
        notes.append(
            f"{teacher.hired_on} 入职，本周期按完整服务 {served} 年计，"
            f"各项学分要求按 {served}/{n} 折算（prorate_full_years）"
        )
    return minimums, notes


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def induction_tally(
    profile: RulesProfile, teacher: TeacherInput, credits: list[RecordCredit]
) -> InductionTally | None:
    """The new teacher's induction requirement (interpretation
    induction_in_principle): 30 credits owed once the year after hire has
    ended within the cycle; the one-year timing itself is only reported."""
    ind = profile.induction
    if ind is None or not ind.new_if_hired_on_or_after <= teacher.hired_on <= profile.cycle_end:
        return None
    deadline = add_months(teacher.hired_on, ind.within_months)
    done = [c for c in credits if c.induction and c.counts]
    total = sum((c.credits for c in done), ZERO)
    within = sum((c.credits for c in done if c.completed_on <= deadline), ZERO)
    due = deadline <= profile.cycle_end
    return InductionTally(total, within, deadline, due, met=total >= ind.credits)


def year_tallies(
    profile: RulesProfile, teacher: TeacherInput, credits: list[RecordCredit], as_of: date | None
) -> list[YearTally]:
    """Each cycle year's credits by completion date, against the yearly
    minimums. A year not fully served owes nothing (prorate_full_years). A
    short year is "not-yet" while it is under way at `as_of`; from the final
    review's opening, the cycle's last year is judged like the others."""
    served = set(full_years_served(profile, teacher.hired_on))
    all_judged = as_of is None or as_of >= profile.review_opens
    by_year: dict[int, list[RecordCredit]] = {}
    for c in credits:
        if c.bucket is not None:
            by_year.setdefault(c.completed_on.year, []).append(c)
    out = []
    for year in profile.years:
        t = tally(by_year.get(year, ()))
        amounts = {p: t[p] for p in YEAR_PARTS}
        short: list[str]
        if profile.yearly is None or year not in served:
            status, short = "not-required", []
        else:
            offset = profile.offset if profile.yearly.offset else None
            _, short = check_minimums(t, profile.yearly.minimums, offset)
            if short and as_of is not None and not all_judged and year >= as_of.year:
                status = "not-yet"
            else:
                status = "short" if short else "met"
        out.append(YearTally(year, amounts, status, tuple(short)))
    return out


# -- the sheet -------------------------------------------------------------


def compute_sheet(
    profile: RulesProfile,
    teacher: TeacherInput,
    records: Iterable[RecordInput],
    as_of: date | None = None,
    creditor: Creditor | None = None,
) -> CreditSheet:
    """The credit sheet of one teacher in one cycle as of a day: only records
    completed on or before `as_of` count (docs/formats.md), and it tells which
    years are still under way; the verdict is always against the cycle.
    `creditor`: one shared by the sheets of a batch (else a new one)."""
    ordered = sorted(
        (r for r in records if as_of is None or r.completed_on <= as_of),
        key=lambda r: (r.completed_on, r.project_code),
    )
    credit = (creditor or Creditor(profile)).credit
    return sheet_of_credits(profile, teacher, [credit(r, teacher.hired_on) for r in ordered], as_of)


def sheet_of_credits(
    profile: RulesProfile, teacher: TeacherInput, credits: list[RecordCredit], as_of: date | None
) -> CreditSheet:
    """The second half of `compute_sheet`: the sheet of a teacher's records as
    credited, in the order the sheet lists them (completion, then project)."""
    buckets = tally(credits)
    minimums, notes = effective_minimums(profile, teacher)
    offset_used, unmet = check_minimums(buckets, minimums, profile.offset)
    induction = induction_tally(profile, teacher, credits)
    if induction and induction.due and not induction.met:
        unmet.append("induction")
    if induction:
        notes.append(_induction_note(profile, induction))
    years = year_tallies(profile, teacher, credits, as_of)
    if profile.yearly and profile.yearly.disqualifying:
        unmet.extend(f"year_{y.year}" for y in years if y.status == "short")
    return CreditSheet(
        certificate_number=teacher.certificate_number,
        cycle=profile.cycle,
        profile_id=profile.id,
        buckets=buckets,
        minimums=minimums,
        offset_used=offset_used,
        years=tuple(years),
        qualified=not unmet,
        unmet=tuple(unmet),
        records=tuple(credits),
        induction=induction,
        notes=tuple(notes),
        as_of=as_of,
    )


def _induction_note(profile: RulesProfile, ind: InductionTally) -> str:
    need = amount(profile.induction.credits)  # type: ignore[union-attr]
    if not ind.due:
        return f"新教师适岗培训 {amount(ind.credits)}/{need}：上岗满一年（{ind.deadline}）晚于周期末，本周期不作要求"
    text = f"新教师适岗培训 {amount(ind.credits)}/{need}，其中上岗一年内（至 {ind.deadline}）{amount(ind.within_deadline)}"
    if ind.met and ind.within_deadline < profile.induction.credits:  # type: ignore[union-attr]
        text += "；未在一年内完成（原则性要求，仅作提示）"
    return text
