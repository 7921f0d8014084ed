"""A verification result cannot change once made: what the page, the JSON,
the CLI and the PDF render is one reading, worked out once."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from tests.certs.tokens import Key, MemoryStatus, b32, claims, verifier
from verifier.vocab import Outcome


def test_a_result_is_frozen_and_reads_once():
    key = Key()
    raw = key.token(claims())
    result = verifier(key.public(), status=MemoryStatus.of(raw)).verify_text(b32(raw), at=date(2026, 12, 2))
    assert result.outcome is Outcome.VALID and result.outcome == "valid"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.standing = "revoked"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.checks[0].ok = False  # type: ignore[misc]
    assert isinstance(result.checks, tuple)
    assert result.reading is result.reading  # worked out once, then kept
    assert result.to_json()["outcome"] == "valid"
