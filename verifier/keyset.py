"""The bureau's public keys, as the verifier knows them: from the database
(online) or from a published JWKS file (offline).

A JWKS entry is a standard Ed25519 OKP JWK with `kid` (base64url of the 8
key-id bytes), `alg` EdDSA and `use` sig, plus members of ours: `issuer`
(region code), `status` (active | retired | compromised), `not_before`,
`not_after` and `compromised_at` (ISO 8601 or null), and `pdf_x5c`: the
certificate chain of the PDF-signing key made with this key, as x5c has it
(base64 DER, the signer's own certificate first), or absent. It is not
this JWK's x5c: that key is another (ECDSA P-256, for PDF signatures).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import NotRequired, TypedDict

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
    pdf_x5c: NotRequired[list[str]]


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
    pdf_chain: tuple[bytes, ...] = ()  # DER, the PDF-signing certificate first

    @property
    def status(self) -> str:
        if self.compromised_at is not None:
            return "compromised"
        return "retired" if self.not_after is not None else "active"

    @cached_property
    def verifying_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_raw)

    def to_jwk(self) -> JWK:
        jwk: JWK = {
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
        if self.pdf_chain:
            jwk["pdf_x5c"] = [base64.b64encode(c).decode() for c in self.pdf_chain]
        return jwk


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

    def pdf_certificates(self) -> list[bytes]:
        """The PDF-signing certificates (DER) of every key, oldest first:
        a certificate PDF is the bureau's only if signed under one of them."""
        return [k.pdf_chain[0] for k in sorted(self, key=lambda k: k.not_before) if k.pdf_chain]

    def pdf_certificates_pem(self) -> str:
        """The same with their chains, as a PEM bundle for people and tools."""
        return "".join(
            pem_certificate(der) for k in sorted(self, key=lambda k: k.not_before) for der in k.pdf_chain
        )

    # -- sources -----------------------------------------------------------

    @classmethod
    def from_database(cls, engine: Engine) -> KeySet:
        t = schema.signing_keys
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.c.kid,
                    t.c.bureau_code,
                    t.c.public_x,
                    t.c.not_before,
                    t.c.not_after,
                    t.c.compromised_at,
                    t.c.pdf_certificate,
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
                    pem_chain(r.pdf_certificate or ""),
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
            _pdf_chain(jwk.get("pdf_x5c")),
        )
    except ValueError as e:
        raise KeySetError(f"{where}: {e}") from None


def _pdf_chain(value: object) -> tuple[bytes, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise ValueError("pdf_x5c is not an array of base64 strings")
    try:
        return tuple(base64.b64decode(c, validate=True) for c in value)
    except ValueError:
        raise ValueError("pdf_x5c holds something that is not base64") from None


PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


def pem_chain(text: str) -> tuple[bytes, ...]:
    """DER of each certificate in a PEM bundle, in order."""
    return tuple(base64.b64decode("".join(m.group(1).split())) for m in PEM_RE.finditer(text))


def pem_certificate(der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    t = datetime.fromisoformat(str(value))
    if t.tzinfo is None:
        raise ValueError(f"time without a zone: {value}")
    return t
