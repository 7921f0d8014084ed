"""Each interpretation is named in the profile, and the engine agrees with docs/rules.md
where the profile leaves room."""

import inspect
import re

from credit_builders import HORGOS, D, one, rec

import issuer.ledger.credits.engine as engine
import verifier.requirements as requirements


def _names_in_engine_docstrings():
    """snake_case names cited in the function docstrings of the engine and of
    the minimums check it shares with the verifier (`code` spans excluded)."""
    names = set()
    for module in (engine, requirements):
        names |= _names_in_docstrings(module)
    return names


def _names_in_docstrings(module):
    names = set()
    for f in vars(module).values():
        if inspect.isfunction(f) and f.__module__ == module.__name__ and f.__doc__:
            doc = re.sub(r"`[^`]*`", "", f.__doc__)
            names |= set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", doc))
    return names


def test_engine_cites_the_interpretations_it_applies():
    # guard for the test below: the scan finds what the docstrings say
    assert {
        "rewards_do_not_add",
        "lead_trainer_multiple",
        "degree_no_reward",
        "offset_order",
        "prorate_full_years",
        "induction_in_principle",
    } <= _names_in_engine_docstrings()


def test_profile_names_the_routing_and_rounding_interpretations():
    assert {
        "national_counts_as_prefecture",
        "school_level_is_school_based",
        "induction_counts_as_professional",
        "rounding_per_record",
        "yearly_in_principle",
        "yearly_offset",
        "mandarin_credits",
    } <= set(HORGOS.interpretations)


def test_every_interpretation_the_engine_applies_is_named_in_the_profile():
    missing = _names_in_engine_docstrings() - set(HORGOS.interpretations)
    assert missing == set()


def test_mandarin_credits_are_required_credits_whatever_the_category():
    # docs/rules.md: 普通话 training "converts into required credits": required public of its level
    rc = one(rec(kind="mandarin", category="elective", level="county", hours="7"))
    assert (rc.credits, rc.bucket) == (D("10"), "county_public")
    rc = one(rec(kind="mandarin", category="required-professional", level="provincial", hours="7"))
    assert (rc.credits, rc.bucket) == (D("10"), "prefecture_public")


def test_school_level_mandarin_registers_nothing():
    rc = one(rec(kind="mandarin", category="required-public", level="school", hours="7"))
    assert rc.bucket is None and rc.credits == 0 and "县市级及以上" in rc.why
