"""Tokens made in the test itself: a fresh key, claims, a key set and an
in-memory register, so the verification engine is tested without a database.

`Key.token` is the bureau issuing: it signs and enters the token's digest in
the register (ISSUED), as issuance does. `Key.forge` signs with the same key
and enters nothing: what someone holding a leaked copy of the key can do."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifier.keyset import KeySet, PublicKey
from verifier.status import NumberStatus, VersionState
from verifier.token import (
    Claims,
    b64u,
    cose_private_key,
    end_of_day,
    key_id,
    parse,
    sign,
    to_base32,
    token_digest,
)
from verifier.verify import Verifier

NUMBER = "6540040710001236"
ISSUED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 China time
LONG_NAME = "阿卜杜热合曼·买买提艾力·阿卜杜克热木"
ISSUED_TOKENS: dict[tuple[str, int], str] = {}  # (number, version) → digest of the token the bureau issued
SCHOOL = "霍尔果斯市伊车嘎善锡伯族乡中心学校"


class Key:
    def __init__(self, issuer: str = "654004", not_before: datetime = ISSUED - timedelta(days=30)) -> None:
        self.private = Ed25519PrivateKey.generate()
        self.public_raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw = self.private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        self.kid = key_id(self.public_raw)
        self.cose = cose_private_key(raw, self.public_raw)
        self.issuer, self.not_before = issuer, not_before

    def public(self, **changes) -> PublicKey:
        return replace(PublicKey(b64u(self.kid), self.issuer, self.public_raw, self.not_before), **changes)

    def token(self, claims: Claims) -> bytes:
        raw = self.forge(claims)
        ISSUED_TOKENS[(claims.number, claims.version)] = token_digest(raw)
        return raw

    def forge(self, claims: Claims) -> bytes:
        return sign(claims, self.cose, self.kid)


def claims(**changes) -> Claims:
    """A qualified Horgos cycle-7 certificate meeting every minimum."""
    base = Claims(
        issuer="654004",
        number=NUMBER,
        expires=end_of_day(date(2029, 12, 31)),
        issued=int(ISSUED.timestamp()),
        version=1,
        holder=LONG_NAME,
        id_masked="**************123X",
        cycle=7,
        school=SCHOOL,
        credits=(600, 1550, 1000, 2100, 1000, 1200, 2000, 9450),
        years=(1850, 2000, 1800, 1900, 1900),
        status=1,
    )
    return replace(base, **changes)


class MemoryStatus:
    """A register in memory: each number's versions; a version's digest,
    unless given, is the one of the token Key.token issued for it."""

    description = "memory"

    def __init__(self, states: dict[str, list[VersionState]] | None = None) -> None:
        self.states = states if states is not None else {NUMBER: [VersionState("current")]}

    def lookup(self, number: str, version: int = 0) -> NumberStatus | None:
        versions = self.states.get(number)
        if versions is None:
            return None
        return NumberStatus(
            number,
            tuple(
                replace(v, digest=v.digest or ISSUED_TOKENS.get((number, i), ""))
                for i, v in enumerate(versions, 1)
            ),
        )

    @classmethod
    def of(cls, *raws: bytes) -> MemoryStatus:
        """The register that issued these tokens, the last of a number current."""
        states: dict[str, list[VersionState]] = {}
        for raw in raws:
            c = parse(raw).claims
            versions = states.setdefault(c.number, [])
            if versions:
                versions[-1] = replace(versions[-1], state="superseded", changed_at=c.issued_at)
            versions.append(
                VersionState(
                    "current",
                    digest=token_digest(raw),
                    issued_at=c.issued_at,
                    verdict=c.status,
                    valid_until=c.valid_until,
                    total=c.credits[-1],
                )
            )
        return cls(states)


def verifier(*keys: PublicKey, status: MemoryStatus | None = None) -> Verifier:
    return Verifier(KeySet(list(keys)), status or MemoryStatus())


def b32(raw: bytes) -> str:
    return to_base32(raw)
