"""A token of a cycle no bureau has published rules for is a finding of the
credits check; a rules profile that is broken on the server is an error of
the installation, never passed off as "no published rules"."""

from __future__ import annotations

from datetime import date

import pytest

import verifier.profiles as profiles
from tests.certs.tokens import Key, MemoryStatus, b32, claims, verifier
from verifier.numbers import CertificateNumber
from verifier.profiles import NoProfile, ProfileError, profile_for_cycle


def test_an_unpublished_cycle_is_a_finding_of_the_credits_check():
    key = Key()
    number = CertificateNumber("654004", 99, 1, 1236).compact
    raw = key.token(claims(cycle=99, number=number))
    result = verifier(key.public(), status=MemoryStatus.of(raw)).verify_text(b32(raw), at=date(2026, 12, 2))
    credits = result.check("credits")
    assert not credits.ok and "未找到该周期公布的学分规则" in credits.message
    with pytest.raises(NoProfile):
        profile_for_cycle(99, "654004")


def test_a_broken_profile_file_is_an_error_not_no_published_rules(monkeypatch):
    def broken(profile_id: str):
        raise ProfileError(f"{profile_id}.toml: minimums.total: write amounts as strings")

    profile_for_cycle.cache_clear()
    monkeypatch.setattr(profiles, "load_profile", broken)
    key = Key()
    raw = key.token(claims())
    try:
        with pytest.raises(ProfileError, match="write amounts as strings") as caught:
            verifier(key.public(), status=MemoryStatus.of(raw)).verify_text(b32(raw), at=date(2026, 12, 2))
        assert not isinstance(caught.value, NoProfile)
    finally:
        profile_for_cycle.cache_clear()
