"""`ecert status export` streams the snapshot out in number order instead of
holding it whole (issuer/certificates/snapshot.py): what it writes must be
exactly the canonical JSON it signs, and must say of every number what the
online register says, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from issuer.db import make_engine
from verifier.keyset import KeySet
from verifier.status import DatabaseStatus, SnapshotStatus, canonical

A, B = "6540040710000014", "6540040710000022"


@pytest.fixture
def db(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_the_streamed_snapshot_is_the_canonical_json_it_signs(keyed, bureau, db, tmp_path):
    keyed("issue", "--as-of", "2025-01-01")
    keyed("issue")  # a later day credits more: every number gets a version 2
    keyed("revoke", B, "--reason", "调离本市（“重复”登记）")
    path = tmp_path / "status.json"
    out = keyed("status", "export", "-o", str(path)).stdout
    raw = path.read_bytes()
    doc = json.loads(raw)
    signed = raw[raw.index(b'"snapshot":') + len(b'"snapshot":') : -1]
    assert signed == canonical(doc["snapshot"])  # byte for byte what the signature covers
    certificates = doc["snapshot"]["certificates"]
    assert list(certificates) == sorted(certificates) and f"{len(certificates)} 个证书编号" in out
    assert any(len(versions) > 1 for versions in certificates.values())
    snapshot = SnapshotStatus.from_document(doc, KeySet.from_database(db))  # the signature verifies
    online = DatabaseStatus(db)
    try:
        for number in certificates:
            assert snapshot.lookup(number).versions == online.lookup(number).versions, number
        assert online.lookup(B).versions[-1].reason == "调离本市（“重复”登记）"
    finally:
        online.close()


def test_an_empty_register_exports_an_empty_signed_snapshot(keyed, db, tmp_path):
    path = tmp_path / "status.json"
    assert "0 个证书编号" in keyed("status", "export", "-o", str(path)).stdout
    doc = json.loads(path.read_bytes())
    assert doc["snapshot"]["certificates"] == {}
    assert SnapshotStatus.from_document(doc, KeySet.from_database(db)).lookup(A) is None


def test_numbers_out_of_code_point_order_stop_the_export(monkeypatch):
    """A collation that sorted the numbers otherwise would make a snapshot
    whose bytes are not the canonical JSON signed: refused, with a message."""
    import io

    from issuer.certificates import snapshot
    from issuer.errors import EcertError
    from verifier.profiles import load_profile

    entry = [["current", None, None, "0" * 64, "2026-01-01T00:00:00+00:00", 0, "2028-12-31", 0, None]]
    monkeypatch.setattr(snapshot, "_versions", lambda session, profile: iter([(B, entry), (A, entry)]))
    with pytest.raises(EcertError, match="顺序") as e:
        snapshot._write_canonical(None, load_profile("horgos-7"), io.BytesIO())  # type: ignore[arg-type]
    assert f"{A} after {B}" in e.value.detail


def test_a_verifier_holds_the_snapshot_compactly_and_finds_every_number():
    """verifier/status.py keeps the entries as JSON in one buffer, found by a
    binary search: every number is found with exactly its versions, and
    nothing else is found (before the first, after the last, in between, a
    prefix, a number that is not 16 ASCII characters)."""
    import random

    from verifier.status import _Entries

    rng = random.Random(7)

    def versions(k: int) -> list[list[object]]:
        summary = {"y": ["met", "short:elective"], "u": ["elective"]} if k % 3 else None
        reason = None if k % 2 else f"原因 “{k}” \\ \n"
        return [
            [
                "current",
                None,
                reason,
                f"{k:064x}",
                "2026-01-01T00:00:00+00:00",
                k % 3,
                "2028-12-31",
                k,
                summary,
            ]
        ]

    numbers = sorted({f"{rng.randrange(10**15):015d}{rng.choice('0123456789X')}" for _ in range(500)})
    entries = {n: versions(i) for i, n in enumerate(numbers)}
    entries |= {"short": versions(1), "654004071000001４": versions(2), "": versions(3)}
    expected = {n: json.loads(json.dumps(v)) for n, v in entries.items()}
    held = _Entries(entries)
    assert len(held) == len(expected)
    for n, v in expected.items():
        assert held.lookup(n) == v, n
    for absent in ("0" * 16, "9" * 15 + "X" + "", "Z" * 16, numbers[0][:15], numbers[10] + "0", "long" * 5):
        if absent not in expected:
            assert held.lookup(absent) is None, absent
    between = [f"{int(a[:15]) + 1:015d}{a[15]}" for a in numbers]
    for n in between:
        if n not in expected:
            assert held.lookup(n) is None
    assert _Entries({}).lookup(numbers[0]) is None


def _signed_document(certificates: dict) -> tuple[str, object]:
    """A snapshot of bureau 654004 signed by a throwaway key, and its key set."""
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verifier.keyset import PublicKey
    from verifier.token import b64u, key_id

    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = b64u(key_id(raw))
    snap = {"issuer": "654004", "generated_at": "2026-06-01T00:00:00+00:00", "certificates": certificates}
    doc = {
        "format": "teacher-ecert-status/2",
        "kid": kid,
        "signature": b64u(private.sign(canonical(snap))),
        "snapshot": snap,
    }
    return json.dumps(doc, ensure_ascii=False), KeySet(
        [PublicKey(kid, "654004", raw, datetime(2020, 1, 1, tzinfo=UTC))]
    )


@pytest.mark.parametrize(
    "summary",
    [
        {"y": ["met"], "u": [], "m": {"required": 10**25}},  # an integer beyond 64 bits
        json.loads('{"a":' * 300 + "1" + "}" * 300),  # nesting past orjson's limit
    ],
)
def test_a_signed_snapshot_a_verifier_cannot_hold_is_refused_as_malformed(summary):
    """Values the exporter never writes, in a snapshot signed by a bureau key:
    a SnapshotError naming the problem (a verifier then refuses to start,
    naming its setting), not a traceback."""
    from verifier.status import SnapshotError

    version = ["current", None, None, "0" * 64, "2026-01-01T00:00:00+00:00", 1, "2028-12-31", 100, summary]
    text, keys = _signed_document({A: [version]})
    with pytest.raises(SnapshotError, match="malformed certificate entries"):
        SnapshotStatus.from_document(json.loads(text), keys)


def test_a_snapshot_with_text_unicode_cannot_carry_is_refused():
    from verifier.status import SnapshotError

    version = [
        "revoked",
        "2026-02-01T00:00:00+00:00",
        "x",
        "0" * 64,
        "2026-01-01T00:00:00+00:00",
        1,
        "2028-12-31",
        0,
        None,
    ]
    text, keys = _signed_document({A: [version]})
    tampered = json.loads(text.replace('"x"', '"\\ud800"'))
    with pytest.raises(SnapshotError, match="not valid Unicode"):
        SnapshotStatus.from_document(tampered, keys)
