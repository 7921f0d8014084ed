"""Rules profiles: the published rules of a management cycle, as data.

A profile is a TOML file beside this module. The issuer computes credit
sheets with it; the verifier checks certified totals against it; the public
API publishes it. Every amount is a Decimal parsed from a string.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from verifier.vocab import BUCKET_LABELS, BUCKETS, CATEGORIES, GRADES, LEAF_BUCKETS, LEVELS, MODES


class ProfileError(ValueError):
    """A rules profile that cannot be used; the message names file and key."""


class NoProfile(ProfileError):
    """No profile is published for the cycle asked for: a fact about a token,
    not a broken installation (a broken file stays a ProfileError)."""


@dataclass(frozen=True)
class Variant:
    name: str
    titles: frozenset[str]
    minimums: dict[str, Decimal]


@dataclass(frozen=True)
class Offset:
    surplus_of: str
    covers: tuple[str, ...]


@dataclass(frozen=True)
class Yearly:
    minimums: dict[str, Decimal]
    disqualifying: bool
    offset: bool


@dataclass(frozen=True)
class Induction:
    credits: Decimal
    within_months: int
    new_if_hired_on_or_after: date


@dataclass(frozen=True)
class LateJoiners:
    rule: str
    hired_after: date
    min_years: int = 1


@dataclass(frozen=True)
class RulesProfile:
    id: str
    title: str
    cycle: int
    first_year: int
    last_year: int
    extended_expiry: date
    issuer_code: str
    issuer_name: str
    hours_per_credit: dict[str, Decimal]
    routing: dict[tuple[str, str], str]
    minimums: dict[str, Decimal]
    variants: tuple[Variant, ...] = ()
    offset: Offset | None = None
    yearly: Yearly | None = None
    grade_rewards: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    lead_trainer_rewards: dict[str, Decimal] = field(default_factory=dict)
    induction: Induction | None = None
    late_joiners: LateJoiners | None = None
    mandarin_credits: Decimal | None = None
    interpretations: dict[str, str] = field(default_factory=dict)
    # The region's own words for a bucket, where they differ from the vocabulary's
    # (Horgos's 州级 is a Shanghai district's 市级): [labels] in the profile.
    labels: dict[str, str] = field(default_factory=dict)

    def bucket_label(self, bucket: str) -> str:
        return self.labels.get(bucket) or BUCKET_LABELS.get(bucket, bucket)

    @property
    def bucket_labels(self) -> dict[str, str]:
        """Every bucket's label in this region's words."""
        return {**BUCKET_LABELS, **self.labels}

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    @property
    def cycle_start(self) -> date:
        return date(self.first_year, 1, 1)

    @property
    def cycle_end(self) -> date:
        return date(self.last_year, 12, 31)

    @property
    def review_opens(self) -> date:
        """The final review is made in the cycle's last December (docs/rules.md):
        from then on no year of the cycle is still under way."""
        return date(self.last_year, 12, 1)

    def public_dict(self) -> dict[str, Any]:
        """The published rules, as the API serves them: amounts as strings."""

        def amounts(d: dict[str, Decimal]) -> dict[str, str]:
            return {k: str(v) for k, v in d.items()}

        return {
            "id": self.id,
            "title": self.title,
            "cycle": self.cycle,
            "years": [self.first_year, self.last_year],
            "extended_expiry": self.extended_expiry.isoformat(),
            "issuer": {"code": self.issuer_code, "name": self.issuer_name},
            "hours_per_credit": amounts(self.hours_per_credit),
            "routing": {f"{cat}/{lvl}": b for (cat, lvl), b in sorted(self.routing.items())},
            "minimums": amounts(self.minimums),
            "variants": [
                {"name": v.name, "titles": sorted(v.titles), "minimums": amounts(v.minimums)}
                for v in self.variants
            ],
            "offset": None
            if self.offset is None
            else {"surplus_of": self.offset.surplus_of, "covers": list(self.offset.covers)},
            "yearly": None
            if self.yearly is None
            else {
                "minimums": amounts(self.yearly.minimums),
                "disqualifying": self.yearly.disqualifying,
                "offset": self.yearly.offset,
            },
            "rewards": {
                "grade": {lvl: amounts(g) for lvl, g in self.grade_rewards.items()},
                "lead_trainer": amounts(self.lead_trainer_rewards),
                "combine": "largest",
            },
            "induction": None
            if self.induction is None
            else {
                "credits": str(self.induction.credits),
                "within_months": self.induction.within_months,
                "new_if_hired_on_or_after": self.induction.new_if_hired_on_or_after.isoformat(),
            },
            "late_joiners": None
            if self.late_joiners is None
            else {
                "rule": self.late_joiners.rule,
                "hired_after": self.late_joiners.hired_after.isoformat(),
                "min_years": self.late_joiners.min_years,
            },
            "mandarin_credits": None if self.mandarin_credits is None else str(self.mandarin_credits),
            "interpretations": dict(self.interpretations),
        }

    def minimums_for(self, title: str | None) -> tuple[dict[str, Decimal], str | None]:
        """The cycle minimums for a teacher of this title, and the variant used."""
        for v in self.variants:
            if title and title.strip() in v.titles:
                return {**self.minimums, **v.minimums}, v.name
        return dict(self.minimums), None


# -- loading ---------------------------------------------------------------
# The TOML as tomllib reads it: tables of str keys and values of any TOML
# type (hence Any), each checked here before it becomes a profile's field.


def _dec(where: str, value: Any) -> Decimal:
    if isinstance(value, (float, bool)):
        raise ProfileError(f'{where}: write amounts as strings ("4"), not {type(value).__name__}')
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ProfileError(f"{where}: not a decimal amount: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ProfileError(f"{where}: amount must be a finite number >= 0, got {value!r}")
    return d


def _date(where: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProfileError(f"{where}: not a date YYYY-MM-DD: {value!r}") from None


def _only(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise ProfileError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")


def _bucket_amounts(where: str, table: dict[str, Any]) -> dict[str, Decimal]:
    _only(where, table, set(BUCKETS))
    return {k: _dec(f"{where}.{k}", v) for k, v in table.items()}


def _per_level(where: str, table: dict[str, Any]) -> dict[str, Any]:
    _only(where, table, set(LEVELS))
    return table


TABLES = {
    "id",
    "title",
    "cycle",
    "first_year",
    "last_year",
    "extended_expiry",
    "issuer",
    "hours_per_credit",
    "routing",
    "minimums",
    "variants",
    "offset",
    "yearly",
    "rewards",
    "induction",
    "late_joiners",
    "mandarin",
    "interpretations",
    "labels",
}


def parse_profile(data: dict[str, Any], source: str) -> RulesProfile:
    """A profile from its TOML tables, each read by its own function below;
    any error names the file and the key."""
    _only(source, data, TABLES)
    try:
        issuer = data["issuer"]
        hours, routing = _hours(source, data["hours_per_credit"]), _routing(source, data["routing"])
    except KeyError as e:
        raise ProfileError(f"{source}: missing table {e.args[0]!r}") from None
    first, last = int(data["first_year"]), int(data["last_year"])
    if last < first:
        raise ProfileError(f"{source}: last_year {last} is before first_year {first}")
    grade_rewards, lead = _rewards(source, data.get("rewards", {}))
    mandarin = data.get("mandarin")
    if mandarin is not None:
        _only(f"{source}: mandarin", mandarin, {"credits"})
    return RulesProfile(
        id=str(data["id"]),
        title=str(data["title"]),
        cycle=int(data["cycle"]),
        first_year=first,
        last_year=last,
        extended_expiry=_date(f"{source}: extended_expiry", data["extended_expiry"]),
        issuer_code=str(issuer["code"]),
        issuer_name=str(issuer["name"]),
        hours_per_credit=hours,
        routing=routing,
        minimums=_bucket_amounts(f"{source}: minimums", data.get("minimums", {})),
        variants=_variants(source, data.get("variants", [])),
        offset=_offset(source, data["offset"]) if "offset" in data else None,
        yearly=_yearly(source, data["yearly"]) if "yearly" in data else None,
        grade_rewards=grade_rewards,
        lead_trainer_rewards=lead,
        induction=_induction(source, data["induction"]) if "induction" in data else None,
        late_joiners=_late_joiners(source, data["late_joiners"]) if "late_joiners" in data else None,
        mandarin_credits=None
        if mandarin is None
        else _dec(f"{source}: mandarin.credits", mandarin["credits"]),
        interpretations={str(k): str(v) for k, v in data.get("interpretations", {}).items()},
        labels=_labels(source, data.get("labels", {})),
    )


def _labels(source: str, table: dict[str, Any]) -> dict[str, str]:
    _only(f"{source}: labels", table, set(BUCKET_LABELS))
    if not all(isinstance(v, str) and v.strip() for v in table.values()):
        raise ProfileError(f"{source}: labels: each label must be a non-empty string")
    return {str(k): v.strip() for k, v in table.items()}


def _hours(source: str, hpc: dict[str, Any]) -> dict[str, Decimal]:
    _only(f"{source}: hours_per_credit", hpc, set(MODES))
    missing = set(MODES) - set(hpc)
    if missing:
        raise ProfileError(f"{source}: hours_per_credit lacks mode(s) {sorted(missing)}")
    hours = {m: _dec(f"{source}: hours_per_credit.{m}", v) for m, v in hpc.items()}
    if any(v == 0 for v in hours.values()):
        raise ProfileError(f"{source}: hours_per_credit must be > 0")
    return hours


def _routing(source: str, table: dict[str, Any]) -> dict[tuple[str, str], str]:
    routing: dict[tuple[str, str], str] = {}
    _only(f"{source}: routing", table, set(CATEGORIES))
    for cat in CATEGORIES:
        levels = _per_level(f"{source}: routing.{cat}", table.get(cat, {}))
        for lvl in LEVELS:
            bucket = levels.get(lvl)
            if bucket not in LEAF_BUCKETS:
                raise ProfileError(
                    f"{source}: routing.{cat}.{lvl} must name a leaf bucket {LEAF_BUCKETS}, got {bucket!r}"
                )
            routing[(cat, lvl)] = bucket
    return routing


def _variants(source: str, items: list[dict[str, Any]]) -> tuple[Variant, ...]:
    return tuple(
        Variant(
            name=str(v["name"]),
            titles=frozenset(v.get("titles", [])),
            minimums=_bucket_amounts(f"{source}: variants.{v['name']}.minimums", v["minimums"]),
        )
        for v in items
    )


def _offset(source: str, o: dict[str, Any]) -> Offset:
    _only(f"{source}: offset", o, {"surplus_of", "covers"})
    for b in [o["surplus_of"], *o["covers"]]:
        if b not in BUCKETS:
            raise ProfileError(f"{source}: offset names unknown bucket {b!r}")
    return Offset(o["surplus_of"], tuple(o["covers"]))


def _yearly(source: str, y: dict[str, Any]) -> Yearly:
    _only(f"{source}: yearly", y, {"minimums", "disqualifying", "offset"})
    return Yearly(
        _bucket_amounts(f"{source}: yearly.minimums", y["minimums"]),
        bool(y.get("disqualifying", False)),
        bool(y.get("offset", False)),
    )


def _rewards(
    source: str, rewards: dict[str, Any]
) -> tuple[dict[str, dict[str, Decimal]], dict[str, Decimal]]:
    """(reward by level and grade, a lead trainer's reward by level)."""
    _only(f"{source}: rewards", rewards, {"combine", "grade", "lead_trainer"})
    if rewards.get("combine", "largest") != "largest":
        raise ProfileError(f'{source}: rewards.combine: only "largest" is supported')
    by_level = {}
    for lvl, by_grade in _per_level(f"{source}: rewards.grade", rewards.get("grade", {})).items():
        _only(f"{source}: rewards.grade.{lvl}", by_grade, set(GRADES))
        by_level[lvl] = {g: _dec(f"{source}: rewards.grade.{lvl}.{g}", r) for g, r in by_grade.items()}
    lead = {
        lvl: _dec(f"{source}: rewards.lead_trainer.{lvl}", r)
        for lvl, r in _per_level(f"{source}: rewards.lead_trainer", rewards.get("lead_trainer", {})).items()
    }
    return by_level, lead


def _induction(source: str, i: dict[str, Any]) -> Induction:
    _only(f"{source}: induction", i, {"credits", "within_months", "new_if_hired_on_or_after"})
    return Induction(
        _dec(f"{source}: induction.credits", i["credits"]),
        int(i["within_months"]),
        _date(f"{source}: induction.new_if_hired_on_or_after", i["new_if_hired_on_or_after"]),
    )


def _late_joiners(source: str, lj: dict[str, Any]) -> LateJoiners:
    _only(f"{source}: late_joiners", lj, {"rule", "hired_after", "min_years"})
    if lj["rule"] != "prorate_full_years":
        raise ProfileError(f'{source}: late_joiners.rule: only "prorate_full_years" is known')
    return LateJoiners(
        lj["rule"],
        _date(f"{source}: late_joiners.hired_after", lj["hired_after"]),
        int(lj.get("min_years", 1)),
    )


_cache: dict[str, RulesProfile] = {}


def available_profiles() -> list[str]:
    files = resources.files(__name__).iterdir()
    return sorted(f.name[:-5] for f in files if f.name.endswith(".toml"))


def load_profile(profile_id: str) -> RulesProfile:
    if profile_id in _cache:
        return _cache[profile_id]
    if profile_id not in available_profiles():
        raise ProfileError(f"no rules profile {profile_id!r}; known: {', '.join(available_profiles())}")
    source = f"{profile_id}.toml"
    text = resources.files(__name__).joinpath(source).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{source}: {e}") from None
    profile = parse_profile(data, source)
    if profile.id != profile_id:
        raise ProfileError(f"{source}: id {profile.id!r} does not match the file name")
    _cache[profile_id] = profile
    return profile


@functools.lru_cache(maxsize=64)
def profile_for_cycle(cycle: int, issuer_code: str | None = None) -> RulesProfile:
    """The profile of a cycle, for the given bureau (default: any). Cached:
    the verifier asks once a token."""
    matches = [
        p
        for p in map(load_profile, available_profiles())
        if p.cycle == cycle and (issuer_code is None or p.issuer_code == issuer_code)
    ]
    if not matches:
        raise NoProfile(
            f"no rules profile for cycle {cycle}" + (f" of bureau {issuer_code}" if issuer_code else "")
        )
    if len(matches) > 1:
        raise ProfileError(f"several profiles for cycle {cycle}: {[p.id for p in matches]}")
    return matches[0]
