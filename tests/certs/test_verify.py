"""The verification engine: each check passing, and each failing on its own
with its name, a Chinese message and an English detail."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.numbers import CertificateNumber
from verifier.status import VersionState
from verifier.token import to_base32
from verifier.verify import CHECKS

from .tokens import ISSUED, NUMBER, Key, MemoryStatus, b32, claims, verifier

TODAY = date(2026, 11, 23)


def failing(result) -> list[str]:
    return [c.name for c in result.checks if not c.ok]


def only_fails(result, name: str) -> None:
    assert not result.valid
    assert [c.name for c in result.checks] == list(CHECKS)
    assert failing(result) == [name], [(c.name, c.detail) for c in result.checks]
    check = result.check(name)
    assert check.message and check.detail and check.message != check.detail


@pytest.fixture
def key():
    return Key()


def test_a_good_token_passes_every_check_and_says_what_it_certifies(key):
    result = verifier(key.public()).verify_raw(key.token(claims()), TODAY)
    assert result.valid, [(c.name, c.detail) for c in result.checks]
    doc = result.to_json()
    assert list(doc) == ["valid", "outcome", "checks", "certificate", "current", "reading"]
    assert doc["outcome"] == "valid" and doc["current"] is None
    assert [c["name"] for c in doc["checks"]] == list(CHECKS)
    assert all(set(c) == {"name", "ok", "message", "detail"} for c in doc["checks"])
    cert = doc["certificate"]
    assert (cert["number"], cert["version"], cert["cycle"], cert["status"]) == (NUMBER, 1, 7, "qualified")
    assert cert["credits"]["total"] == "94.50" and cert["credits"]["required"] == "62.50"
    assert cert["years"] == {
        "2024": "18.50",
        "2025": "20.00",
        "2026": "18.00",
        "2027": "19.00",
        "2028": "19.00",
    }
    assert cert["valid_until"] == "2029-12-31" and cert["issued_at"] == "2026-11-23T10:00:00+08:00"
    assert cert["issuer"] == {"code": "654004", "name": "霍尔果斯市教育局", "kid": key.public().kid}
    assert cert["id_masked"] == "**************123X"


# -- format ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[: len(t) // 2],  # truncated
        lambda t: t[:20] + "1" + t[21:],  # a character outside base32
        lambda t: t + "A" * 5000,  # oversized
        lambda t: "",
        lambda t: "证书" + t,  # non-ASCII
        lambda t: to_base32(cbor2.dumps([1, 2, 3])),  # CBOR, but not COSE
    ],
)
def test_malformed_tokens_fail_the_format_check_and_nothing_else_runs(key, mangle):
    result = verifier(key.public()).verify_input(mangle(b32(key.token(claims()))), TODAY)
    assert failing(result) == list(CHECKS)
    assert result.certificate is None
    assert all(c.detail.startswith("not run") for c in result.checks[1:])


def _signed_payload(key, payload: dict) -> bytes:
    from cwt import COSE

    return COSE.new().encode_and_sign(
        cbor2.dumps(payload), key.cose, protected={1: -8, 4: key.kid}, unprotected={}
    )


@pytest.mark.parametrize(
    "change, why",
    [
        (lambda m: m.update({-9: 1}), "unknown claim"),
        (lambda m: m.pop(-5), "missing claim"),
        (lambda m: m.update({2: NUMBER[:-1] + "7"}), "check character"),
        (lambda m: m.update({-6: [1, 2, 3]}), "credits"),
        (lambda m: m.update({-8: 5}), "status"),
        (lambda m: m.update({-1: "1"}), "wrong type"),
        (lambda m: m.update({-3: "654004198503121234"}), "id_masked"),
    ],
)
def test_well_signed_tokens_with_bad_claims_fail_the_format_check(key, change, why):
    m = claims().to_cbor_map()
    change(m)
    result = verifier(key.public()).verify_raw(_signed_payload(key, m), TODAY)
    assert failing(result) == list(CHECKS)
    assert why.split()[0] in result.check("format").detail


def _signed_bytes(key, payload: bytes) -> bytes:
    from cwt import COSE

    return COSE.new().encode_and_sign(payload, key.cose, protected={1: -8, 4: key.kid}, unprotected={})


def _longer_version(payload: bytes) -> bytes:
    assert payload.count(b"\x20\x01") == 1  # key -1 (version), value 1
    return payload.replace(b"\x20\x01", b"\x20\x1a\x00\x00\x00\x01")


def _version_twice(payload: bytes) -> bytes:
    assert payload[0] == 0xAC  # a map of the 12 claims
    return b"\xad" + payload[1:] + b"\x20\x05"


@pytest.mark.parametrize(
    "recode, why",
    [
        (_longer_version, "shortest"),
        (_version_twice, "shortest"),
        (lambda p: p + b"\x00", "shortest"),
    ],
)
def test_well_signed_claims_in_a_non_canonical_form_fail_the_format_check(key, recode, why):
    payload = cbor2.dumps(claims().to_cbor_map())
    result = verifier(key.public()).verify_raw(_signed_bytes(key, recode(payload)), TODAY)
    assert failing(result) == list(CHECKS) and why in result.check("format").detail


def test_a_protected_header_in_a_longer_form_fails_the_format_check(key):
    # alg -8 written in two bytes (0x38 0x07) instead of one (0x27), signed over as written
    protected = b"\xa2\x01\x38\x07\x04\x48" + key.kid
    payload = cbor2.dumps(claims().to_cbor_map())
    signature = key.private.sign(cbor2.dumps(["Signature1", protected, b"", payload]))
    raw = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    result = verifier(key.public()).verify_raw(raw, TODAY)
    assert failing(result) == list(CHECKS) and "protected header" in result.check("format").detail


def test_one_certificate_has_one_token_text(key):
    # a name whose token is not a multiple of 5 bytes: its last base32 character has unused bits
    raw = next(r for n in range(2, 8) if len(r := key.token(claims(holder="热" * n))) % 5)
    text = b32(raw)
    assert verifier(key.public()).verify_input(text, TODAY).valid
    trailing = verifier(key.public()).verify_input(b32(raw + b"\x00"), TODAY)
    assert failing(trailing) == list(CHECKS) and "follow the COSE_Sign1" in trailing.check("format").detail
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    other = text[:-1] + alphabet[alphabet.index(text[-1]) ^ 1]
    spare = verifier(key.public()).verify_input(other, TODAY)
    assert failing(spare) == list(CHECKS) and "unused bits" in spare.check("format").detail
    # "ı".upper() == "I" and "ſ".upper() == "S": no other spelling through Unicode case mapping
    i = next(n for n, ch in enumerate(text) if ch in "IS")
    dotless = text[:i] + {"I": "\u0131", "S": "\u017f"}[text[i]] + text[i + 1 :]
    assert failing(verifier(key.public()).verify_input(dotless, TODAY)) == list(CHECKS)


def test_extra_header_parameters_fail_the_format_check(key):
    from cwt import COSE

    raw = COSE.new().encode_and_sign(
        cbor2.dumps(claims().to_cbor_map()), key.cose, protected={1: -8, 4: key.kid, 3: 0}, unprotected={}
    )
    assert failing(verifier(key.public()).verify_raw(raw, TODAY))[0] == "format"


# -- signature and key -----------------------------------------------------


def test_a_tampered_payload_fails_the_signature_check(key):
    raw = bytearray(key.token(claims()))
    i = raw.index("热".encode())  # a byte of the holder's name
    raw[i + 2] ^= 0x01
    result = verifier(key.public()).verify_raw(bytes(raw), TODAY)
    assert failing(result) == ["signature", "key", "status", "validity", "credits"]
    assert result.check("key").detail.startswith("not run")


def test_a_token_signed_by_an_unknown_key_fails_the_signature_and_key_checks(key):
    stranger = Key()
    result = verifier(key.public()).verify_raw(stranger.token(claims()), TODAY)
    assert failing(result) == ["signature", "key", "status", "validity", "credits"]
    assert "no published key" in result.check("signature").detail
    # docs/formats.md puts "known" in the key check: it says so rather than "not run"
    assert "not among the published keys" in result.check("key").detail
    assert result.check("status").detail.startswith("not run")


def test_a_key_compromised_before_the_issue_time_fails_the_key_check(key):
    pub = key.public(compromised_at=ISSUED - timedelta(hours=1), not_after=ISSUED + timedelta(days=1))
    only_fails(verifier(pub).verify_raw(key.token(claims()), TODAY), "key")


def test_a_key_compromised_after_the_issue_time_still_verifies(key):
    pub = key.public(compromised_at=ISSUED + timedelta(seconds=1), not_after=ISSUED + timedelta(days=1))
    assert verifier(pub).verify_raw(key.token(claims()), TODAY).valid


def test_a_token_issued_after_its_key_was_retired_fails_the_key_check(key):
    pub = key.public(not_after=ISSUED - timedelta(seconds=1))
    only_fails(verifier(pub).verify_raw(key.token(claims()), TODAY), "key")


def test_a_retired_key_still_verifies_what_it_signed_in_its_window(key):
    pub = key.public(not_after=ISSUED + timedelta(days=1))
    assert verifier(pub).verify_raw(key.token(claims()), TODAY).valid


def test_a_key_of_another_bureau_fails_the_key_check():
    key = Key(issuer="310107")
    only_fails(verifier(key.public()).verify_raw(key.token(claims()), TODAY), "key")


# -- status ----------------------------------------------------------------


def test_a_revoked_certificate_fails_the_status_check_with_date_and_reason(key):
    status = MemoryStatus({NUMBER: [VersionState("revoked", ISSUED + timedelta(days=100), "材料造假")]})
    result = verifier(key.public(), status=status).verify_raw(key.token(claims()), TODAY)
    only_fails(result, "status")
    assert result.check("status").message == "证书已被撤销（2027-03-03：材料造假）"
    assert "revoked on 2027-03-03: 材料造假" in result.check("status").detail
    assert result.outcome == "revoked"


def test_an_older_version_fails_the_status_check_naming_the_current_one(key):
    status = MemoryStatus(
        {
            NUMBER: [
                VersionState("superseded", ISSUED),
                VersionState("superseded", ISSUED),
                VersionState("current"),
            ]
        }
    )
    result = verifier(key.public(), status=status).verify_raw(key.token(claims()), TODAY)
    only_fails(result, "status")
    assert "superseded by version 3" in result.check("status").detail
    assert result.outcome == "superseded"  # genuine, since updated: not a forgery


def test_a_number_missing_from_the_register_fails_the_status_check(key):
    result = verifier(key.public(), status=MemoryStatus({})).verify_raw(key.token(claims()), TODAY)
    only_fails(result, "status")


def test_a_version_newer_than_the_register_knows_fails_the_status_check(key):
    only_fails(verifier(key.public()).verify_raw(key.token(claims(version=2)), TODAY), "status")


def test_a_token_signed_with_a_leaked_key_is_not_one_the_register_issued(key):
    # the attacker holds the key: a real number and its current version, iat
    # backdated into the key's window, a made-up holder, tripled credits
    genuine = key.token(claims())
    forged = key.forge(
        claims(
            holder="冒名者",
            issued=int((ISSUED - timedelta(days=3)).timestamp()),
            credits=(1800, 4650, 3000, 6300, 3000, 3600, 6000, 28350),
            years=(5550, 6000, 5400, 5700, 5700),
        )
    )
    v = verifier(key.public(), status=MemoryStatus.of(genuine))
    assert v.verify_raw(genuine, TODAY).valid
    result = v.verify_raw(forged, TODAY)
    only_fails(result, "status")  # the signature and the key are as good as the bureau's
    assert result.outcome == "not_valid" and not result.genuine
    assert "not issued by the register" in result.check("status").detail
    assert "伪造" in result.check("status").message
    # the key check alone cannot tell: the iat is inside the key's use window
    assert result.check("key").ok and result.check("signature").ok


def test_a_superseded_version_says_what_the_current_one_certifies(key):
    old = key.token(claims(status=0, credits=(100, 0, 0, 0, 0, 0, 0, 100), years=(100, 0, 0, 0, 0)))
    new = key.token(claims(version=2, issued=int((ISSUED + timedelta(days=40)).timestamp())))
    result = verifier(key.public(), status=MemoryStatus.of(old, new)).verify_raw(old, TODAY)
    assert result.outcome == "superseded" and result.genuine and not result.valid
    assert result.current == {
        "version": 2,
        "issued_at": "2027-01-02T10:00:00+08:00",
        "status": "qualified",
        "valid_until": "2029-12-31",
        "total": "94.50",
    }
    assert result.to_json()["current"] == result.current


def test_an_older_version_of_a_since_revoked_number_reads_as_revoked(key):
    status = MemoryStatus(
        {
            NUMBER: [
                VersionState("superseded", ISSUED),
                VersionState("revoked", ISSUED + timedelta(days=9), "重复登记"),
            ]
        }
    )
    result = verifier(key.public(), status=status).verify_raw(key.token(claims()), TODAY)
    assert result.outcome == "revoked" and result.current is None
    assert "第 2 版已于 2026-12-02 撤销：重复登记" in result.check("status").message


def test_each_outcome_in_one_word(key):
    raw = key.token(claims())
    v = verifier(key.public())
    assert v.verify_raw(raw, TODAY).outcome == "valid"
    assert v.verify_raw(raw, date(2030, 1, 1)).outcome == "expired"
    assert v.verify_raw(raw[:-1] + bytes([raw[-1] ^ 1]), TODAY).outcome == "not_valid"
    assert v.verify_raw(b"garbage", TODAY).outcome == "not_valid"
    assert verifier(key.public(), status=MemoryStatus({})).verify_raw(raw, TODAY).outcome == "not_valid"


# -- validity --------------------------------------------------------------


def test_valid_on_the_last_day_and_not_on_the_day_after(key):
    v, raw = verifier(key.public()), key.token(claims())
    assert v.verify_raw(raw, date(2029, 12, 31)).valid
    result = v.verify_raw(raw, date(2030, 1, 1))
    only_fails(result, "validity")
    assert "2029-12-31" in result.check("validity").message


def test_a_date_before_the_issue_is_within_validity_and_names_the_issue_date(key):
    # docs/formats.md: validity asks only that the date be on or before valid_until
    result = verifier(key.public()).verify_raw(key.token(claims()), date(2026, 11, 22))
    assert result.valid
    assert (
        "2026-11-23" in result.check("validity").message
        and "issued on 2026-11-23" in result.check("validity").detail
    )


# -- credits ---------------------------------------------------------------


def test_parts_that_do_not_add_up_fail_the_credits_check(key):
    c = claims(credits=(600, 1550, 1000, 2100, 1000, 1200, 2000, 9999))
    only_fails(verifier(key.public()).verify_raw(key.token(c), TODAY), "credits")


def test_years_that_do_not_add_up_fail_the_credits_check(key):
    c = claims(years=(1850, 2000, 1800, 1900, 1))
    only_fails(verifier(key.public()).verify_raw(key.token(c), TODAY), "credits")


def test_qualified_below_a_strict_sub_minimum_fails_the_credits_check(key):
    # prefecture public 3.00 < 5: required surplus cannot fill a required
    # sub-bucket, and a late joiner's 4/5 (4.00) is not met either
    c = claims(credits=(300, 1850, 1000, 2100, 1000, 1200, 2000, 9450))
    result = verifier(key.public()).verify_raw(key.token(c), TODAY)
    only_fails(result, "credits")
    assert "prefecture_public" in result.check("credits").detail


def test_qualified_with_an_elective_shortfall_covered_by_required_surplus_passes(key):
    # required 67.50 (7.50 over 60) covers elective 5.00 (5 short); total 92.50
    c = claims(credits=(600, 2050, 1000, 2100, 1000, 500, 2000, 9250), years=(1850, 2000, 1800, 1700, 1900))
    assert verifier(key.public()).verify_raw(key.token(c), TODAY).valid


def test_qualified_late_joiner_passes_on_prorated_minimums_and_says_so(key):
    # 3/5 of every minimum: 54 total, 36 required...
    c = claims(credits=(300, 900, 600, 1200, 600, 600, 1200, 5400), years=(0, 0, 1800, 1800, 1800))
    result = verifier(key.public()).verify_raw(key.token(c), TODAY)
    assert result.valid
    assert "prorated for 3 of 5 years" in result.check("credits").detail


def test_prorated_minimums_need_the_years_of_a_late_joiner(key):
    # the same totals, but with credits in 2024: she served more than 3 full
    # years, so 3/5 of the minimums cannot be what she owed
    c = claims(credits=(300, 900, 600, 1200, 600, 600, 1200, 5400), years=(600, 0, 1600, 1600, 1600))
    only_fails(verifier(key.public()).verify_raw(key.token(c), TODAY), "credits")


def test_not_qualified_and_in_progress_do_not_claim_the_minimums(key):
    low = dict(credits=(100, 0, 0, 0, 0, 0, 0, 100), years=(100, 0, 0, 0, 0))
    for status in (0, 2):
        assert verifier(key.public()).verify_raw(key.token(claims(status=status, **low)), TODAY).valid


def test_a_qualified_token_of_a_cycle_without_a_published_profile_fails_the_credits_check(key):
    number = CertificateNumber("654004", 8, 1, 1).compact
    status = MemoryStatus({number: [VersionState("current")]})
    v = verifier(key.public(), status=status)
    only_fails(v.verify_raw(key.token(claims(number=number, cycle=8)), TODAY), "credits")
    # docs/formats.md holds the buckets to the profile only when the status says qualified
    in_progress = v.verify_raw(key.token(claims(number=number, cycle=8, status=0)), TODAY)
    assert in_progress.valid and list(in_progress.certificate["years"]) == ["1", "2", "3", "4", "5"]


def test_years_of_another_count_fail_only_a_qualified_token(key):
    c = claims(years=(9450,))
    only_fails(verifier(key.public()).verify_raw(key.token(c), TODAY), "credits")
    assert verifier(key.public()).verify_raw(key.token(replace(c, status=0)), TODAY).valid


# -- hostile input ---------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_result_never_an_exception(data):
    result = verifier().verify_raw(data, TODAY)
    assert not result.valid and len(result.checks) == len(CHECKS)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_result_never_an_exception(text):
    result = verifier().verify_input(text, TODAY)
    assert not result.valid and result.checks[0].name == "format"
