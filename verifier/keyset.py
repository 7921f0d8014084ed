"""The bureau's public keys, as the verifier knows them: from the database
(online) or from a published JWKS file (offline).

A JWKS entry is a standard Ed25519 OKP JWK with `kid` (base64url of the 8
key-id bytes), `alg` EdDSA and `use` sig, plus members of ours: `issuer`
(region code), `status` (active | retired | compromised), `not_before`,
`not_after` and `compromised_at` (ISO 8601 or null).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TypedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, select

from verifier import schema
from verifier.clock import as_utc
from verifier.files import read_json
from verifier.token import b64u, from_b64u, key_id

MAX_JWKS_BYTES = 1_000_000


class KeySetError(ValueError):
    """A JWKS that cannot be used; the message names the entry and why."""


class JWK(TypedDict):
    """A key as the JWKS publishes it (the module's docstring)."""

    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str
    issuer: str
    status: str
    not_before: str | None
    not_after: str | None
    compromised_at: str | None


class JWKS(TypedDict):
    keys: list[JWK]


@dataclass(frozen=True)
class PublicKey:
    kid: str  # base64url
    issuer: str
    public_raw: bytes
    not_before: datetime
    not_after: datetime | None = None
    compromised_at: datetime | None = None

    @property
    def status(self) -> str:
        if self.compromised_at is not None:
            return "compromised"
        return "retired" if self.not_after is not None else "active"

    @cached_property
    def verifying_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_raw)

    def to_jwk(self) -> JWK:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64u(self.public_raw),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
            "issuer": self.issuer,
            "status": self.status,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "compromised_at": _iso(self.compromised_at),
        }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


class KeySet:
    def __init__(self, keys: list[PublicKey]) -> None:
        self._by_kid = {k.kid: k for k in keys}

    def get(self, kid: bytes) -> PublicKey | None:
        return self._by_kid.get(b64u(kid))

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self._by_kid.values())

    def __len__(self) -> int:
        return len(self._by_kid)

    def to_jwks(self) -> JWKS:
        return {"keys": [k.to_jwk() for k in sorted(self, key=lambda k: k.not_before)]}

    # -- sources -----------------------------------------------------------

    @classmethod
    def from_database(cls, engine: Engine) -> KeySet:
        t = schema.signing_keys
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.c.kid, t.c.bureau_code, t.c.public_x, t.c.not_before, t.c.not_after, t.c.compromised_at
                )
            ).all()
        return cls(
            [
                PublicKey(
                    r.kid,
                    r.bureau_code,
                    from_b64u(r.public_x),
                    as_utc(r.not_before),
                    as_utc(r.not_after),
                    as_utc(r.compromised_at),
                )
                for r in rows
            ]
        )

    @classmethod
    def from_jwks_file(cls, path: Path) -> KeySet:
        doc = read_json(path, "JWKS file", MAX_JWKS_BYTES, KeySetError)
        try:
            return cls.from_jwks(doc)
        except KeySetError as e:
            raise KeySetError(f"{path}: {e}") from None

    @classmethod
    def from_jwks(cls, jwks: object) -> KeySet:
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise KeySetError('a JWKS is an object with a "keys" array')
        return cls([_from_jwk(i, k) for i, k in enumerate(jwks["keys"])])


def _from_jwk(i: int, jwk: object) -> PublicKey:
    where = f"keys[{i}]"
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise KeySetError(f"{where}: only Ed25519 OKP keys are used")
    try:
        raw = from_b64u(str(jwk["x"]))
        kid = str(jwk["kid"])
        issuer = str(jwk["issuer"])
        not_before = _parse_time(jwk["not_before"])
        if not_before is None:  # a key without a start of use would fail every comparison with it
            raise ValueError("not_before is null")
    except (KeyError, ValueError) as e:
        raise KeySetError(f"{where}: missing or malformed member ({e})") from None
    if len(raw) != 32:
        raise KeySetError(f"{where}: x is not a 32-byte Ed25519 public key")
    if kid != b64u(key_id(raw)):
        raise KeySetError(f"{where}: kid {kid} is not the thumbprint of its key")
    try:
        return PublicKey(
            kid,
            issuer,
            raw,
            not_before,
            _parse_time(jwk.get("not_after")),
            _parse_time(jwk.get("compromised_at")),
        )
    except ValueError as e:
        raise KeySetError(f"{where}: {e}") from None


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(str(value))
    if t.tzinfo is None:
        raise ValueError(f"time without a zone: {value}")
    return t
