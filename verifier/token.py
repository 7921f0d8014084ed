"""The signed token of docs/formats.md: a COSE_Sign1 (tag 18, EdDSA) over a CWT
claims map, carried in the QR code's URL as unpadded base32.

COSE and CWT are done by python-cwt; this module fixes the claims, their
types and the header, and refuses anything else. The issuer signs with
`sign`; the verifier parses with `parse` and checks with `verify_signature`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cwt import COSE, COSEKey

from verifier.clock import CHINA
from verifier.numbers import CertificateNumber, NumberFormatError
from verifier.vocab import Verdict

VERDICT_VALUES = frozenset(int(v) for v in Verdict)

if TYPE_CHECKING:
    from cwt.cose_key_interface import COSEKeyInterface

COSE_SIGN1_TAG = 18
ALG_EDDSA = -8
HDR_ALG, HDR_KID = 1, 4
KID_BYTES = 8
MAX_TOKEN_CHARS = 4096  # a real token is ~400; anything far larger is hostile
CREDIT_SLOTS = 8  # seven leaf buckets and the total

# claim key -> (name, python type)
CLAIMS = {
    1: ("iss", str),
    2: ("sub", str),
    4: ("exp", int),
    6: ("iat", int),
    -1: ("version", int),
    -2: ("holder", str),
    -3: ("id_masked", str),
    -4: ("cycle", int),
    -5: ("school", str),
    -6: ("credits", list),
    -7: ("years", list),
    -8: ("status", int),
}
BASE32_RE = re.compile(r"[A-Z2-7]+")
ID_MASKED_RE = re.compile(r"\*{14}[0-9]{3}[0-9X]")

_cose = COSE.new(alg_auto_inclusion=False, kid_auto_inclusion=False)


class TokenError(ValueError):
    """A token that is not one of ours in form. `message` is Chinese for the
    committee member, `detail` English."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail


@dataclass(frozen=True)
class Claims:
    issuer: str
    number: str
    expires: int
    issued: int
    version: int
    holder: str
    id_masked: str
    cycle: int
    school: str
    credits: tuple[int, ...]  # hundredths; LEAF_BUCKETS order, then the total
    years: tuple[int, ...]  # hundredths; first cycle year first
    status: int

    @property
    def valid_until(self) -> date:
        return datetime.fromtimestamp(self.expires, CHINA).date()

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.issued, CHINA)

    @property
    def status_name(self) -> str:
        return Verdict(self.status).code

    def to_cbor_map(self) -> dict[int, object]:
        return {
            1: self.issuer,
            2: self.number,
            4: self.expires,
            6: self.issued,
            -1: self.version,
            -2: self.holder,
            -3: self.id_masked,
            -4: self.cycle,
            -5: self.school,
            -6: list(self.credits),
            -7: list(self.years),
            -8: self.status,
        }

    def fingerprint(self) -> str:
        """What the certificate certifies, without when or which version: two
        issues with the same fingerprint say the same thing."""
        content = {k: v for k, v in self.to_cbor_map().items() if k not in (6, -1)}
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def end_of_day(day: date) -> int:
    """exp: 23:59:59 China time of the valid-until day, as NumericDate."""
    return int(datetime.combine(day, time(23, 59, 59), CHINA).timestamp())


# -- text form -------------------------------------------------------------


def to_base32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


_TO_INT32 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


def from_base32(text: str) -> bytes:
    """Unpadded RFC 4648 base32, either case. Decoded through int(…, 32),
    which is C, instead of base64.b32decode, which is Python and was a
    fifth of a verification's time."""
    if len(text) > MAX_TOKEN_CHARS:
        raise TokenError(
            "查验码过长，不是本系统签发的证书",
            f"token of {len(text)} characters exceeds the {MAX_TOKEN_CHARS} limit",
        )
    t = text.strip()
    t = t.upper() if t.isascii() else t  # "ı".upper() is "I": only ASCII may change case
    if not t or not BASE32_RE.fullmatch(t):
        bad = next((c for c in t if not ("A" <= c <= "Z" or "2" <= c <= "7")), "")
        raise TokenError(
            "证书数据含有非法字符，可能被截断或篡改",
            f"token is not base32 (A-Z, 2-7){f': found {bad!r}' if bad else ': empty'}",
        )
    if len(t) % 8 in (1, 3, 6):
        raise TokenError("证书数据长度不正确，可能被截断", "token is not valid base32 (bad length)")
    n_bytes = len(t) * 5 // 8
    spare = len(t) * 5 - n_bytes * 8
    value = int(t.translate(_TO_INT32), 32)
    if value & ((1 << spare) - 1):  # RFC 4648 §3.5: else many texts would spell one token
        raise TokenError(
            "证书数据末尾字符不正确，可能被改动",
            "token is not canonical base32: the last character's unused bits are not zero",
        )
    return (value >> spare).to_bytes(n_bytes, "big")


def token_digest(raw: bytes) -> str:
    """The register's digest of a token: hex SHA-256 of its bytes (the
    COSE_Sign1 structure the base32 text spells)."""
    return hashlib.sha256(raw).hexdigest()


# -- keys ------------------------------------------------------------------


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def from_b64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public_raw: bytes) -> bytes:
    """First 8 bytes of the RFC 7638 thumbprint of the Ed25519 public JWK."""
    jwk = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64u(public_raw)}, separators=(",", ":"), sort_keys=True
    )
    return hashlib.sha256(jwk.encode()).digest()[:KID_BYTES]


def cose_public_key(public_raw: bytes) -> COSEKeyInterface:
    # The COSE_Key map form, so that kid is the raw 8 bytes of the header.
    return COSEKey.new({1: 1, 2: key_id(public_raw), 3: ALG_EDDSA, -1: 6, -2: public_raw})


def cose_private_key(private_raw: bytes, public_raw: bytes) -> COSEKeyInterface:
    return COSEKey.new({1: 1, 2: key_id(public_raw), 3: ALG_EDDSA, -1: 6, -2: public_raw, -4: private_raw})


# -- sign and parse --------------------------------------------------------


def sign(claims: Claims, key: COSEKeyInterface, kid: bytes) -> bytes:
    payload = cbor2.dumps(claims.to_cbor_map())
    # cwt's return type reaches mypy as Any; without `out` it is the encoded bytes
    token: bytes = _cose.encode_and_sign(
        payload, key, protected={HDR_ALG: ALG_EDDSA, HDR_KID: kid}, unprotected={}
    )
    return token


@dataclass(frozen=True)
class ParsedToken:
    raw: bytes
    kid: bytes
    claims: Claims
    protected: bytes
    payload: bytes
    signature: bytes


def parse(raw: bytes) -> ParsedToken:
    """Structure and claims, without the signature. Raises TokenError, and
    nothing else, whatever the bytes: a CBOR value that cannot be encoded
    again (a lone break marker in a header) or read at all is malformed."""
    try:
        return _parse(raw)
    except TokenError:
        raise
    except (cbor2.CBORError, TypeError, ValueError, OverflowError, RecursionError, KeyError) as e:
        raise TokenError(
            "证书数据无法解码，可能被截断或篡改", f"token is not well-formed ({type(e).__name__})"
        ) from None


def _parse(raw: bytes) -> ParsedToken:
    try:
        obj = cbor2.loads(raw)
    except Exception:  # cbor2 raises several types on garbage; all mean the same
        raise TokenError("证书数据无法解码，可能被截断或篡改", "token is not well-formed CBOR") from None
    if not isinstance(obj, cbor2.CBORTag) or obj.tag != COSE_SIGN1_TAG:
        raise TokenError("证书数据不是签名结构", "token is not a COSE_Sign1 (CBOR tag 18)")
    msg = obj.value
    if (
        not isinstance(msg, (list, tuple))
        or len(msg) != 4
        or not isinstance(msg[0], bytes)
        or not isinstance(msg[1], dict)
        or not isinstance(msg[2], bytes)
        or not isinstance(msg[3], bytes)
    ):
        raise TokenError(
            "证书签名结构不完整", "COSE_Sign1 must be [protected, unprotected, payload, signature]"
        )
    kid = _protected_kid(msg[0])
    if msg[1]:
        raise TokenError("证书签名结构含有未知字段", "unprotected header must be empty")
    claims = _claims(msg[2])
    _require_canonical(raw, obj)
    return ParsedToken(raw, kid, claims, msg[0], msg[2], msg[3])


# One certificate, one token: cbor2 reads past bytes after the first item and
# accepts longer forms of an integer, so each part must be exactly what
# re-encoding what was read gives (docs/formats.md: integers in the shortest form;
# a map holds no key twice). The issuer signs this form.


def _require_canonical(raw: bytes, obj: cbor2.CBORTag) -> None:
    again = cbor2.dumps(obj)
    if again != raw:
        if raw.startswith(again):
            raise TokenError(
                "证书数据末尾有多余内容，可能被改动",
                f"{len(raw) - len(again)} bytes follow the COSE_Sign1 structure",
            )
        raise TokenError("证书签名结构不是规范编码", "COSE_Sign1 is not in the shortest CBOR form")


def _protected_kid(protected: bytes) -> bytes:
    try:
        header = cbor2.loads(protected)
    except Exception:
        raise TokenError("证书签名头无法解码", "protected header is not CBOR") from None
    if not isinstance(header, dict) or set(header) != {HDR_ALG, HDR_KID}:
        raise TokenError("证书签名头不符合规范", "protected header must hold exactly alg (1) and kid (4)")
    if cbor2.dumps(header) != protected:
        raise TokenError("证书签名头不是规范编码", "protected header is not in the shortest CBOR form")
    if header[HDR_ALG] != ALG_EDDSA:
        raise TokenError("证书签名算法不是 EdDSA", f"alg is {header[HDR_ALG]!r}, expected -8 (EdDSA)")
    kid = header[HDR_KID]
    if not isinstance(kid, bytes) or len(kid) != KID_BYTES:
        raise TokenError("证书签名密钥标识不符合规范", "kid must be a byte string of 8 bytes")
    return kid


def _claims(payload: bytes) -> Claims:
    try:
        m = cbor2.loads(payload)
    except Exception:
        raise TokenError("证书内容无法解码", "payload is not CBOR") from None
    if not isinstance(m, dict):
        raise TokenError("证书内容不是声明集合", "payload is not a CWT claims map")
    if m.keys() != _CLAIM_KEYS:
        _wrong_keys(m)
    if not _well_typed(m):
        _wrong_type(m)
    if cbor2.dumps(m) != payload:
        raise TokenError(
            "证书内容不是规范编码",
            "claims are not in the shortest CBOR form (a longer integer form, a key twice, "
            "or bytes after the map)",
        )
    claims = Claims(
        issuer=m[1],
        number=m[2],
        expires=m[4],
        issued=m[6],
        version=m[-1],
        holder=m[-2],
        id_masked=m[-3],
        cycle=m[-4],
        school=m[-5],
        credits=tuple(m[-6]),
        years=tuple(m[-7]),
        status=m[-8],
    )
    _check_values(claims)
    return claims


_CLAIM_KEYS = frozenset(CLAIMS)
_TEXT_CLAIMS = tuple(k for k, (_, typ) in CLAIMS.items() if typ is str)
_INT_CLAIMS = tuple(k for k, (_, typ) in CLAIMS.items() if typ is int)
_LIST_CLAIMS = tuple(k for k, (_, typ) in CLAIMS.items() if typ is list)
_UINT_END = 2**63


def _well_typed(m: dict[object, object]) -> bool:
    """Every claim of its type (`_uint` inlined: every verification asks)."""
    return (
        all(type(m[k]) is str for k in _TEXT_CLAIMS)
        and all(type(v := m[k]) is int and 0 <= v < _UINT_END for k in _INT_CLAIMS)
        and all(
            isinstance(v := m[k], (list, tuple)) and all(type(x) is int and 0 <= x < _UINT_END for x in v)
            for k in _LIST_CLAIMS
        )
    )


def _wrong_keys(m: dict[object, object]) -> None:
    unknown = set(m) - _CLAIM_KEYS
    missing = _CLAIM_KEYS - set(m)
    if unknown:
        raise TokenError("证书含有未知内容项", f"unknown claim(s) {sorted(unknown, key=str)}")
    if missing:
        names = ", ".join(CLAIMS[k][0] for k in sorted(missing))
        raise TokenError("证书缺少必要内容项", f"missing claim(s): {names}")


def _wrong_type(m: dict[object, object]) -> None:
    """The first claim, in CLAIMS order, not of its type."""
    for k, (name, typ) in CLAIMS.items():
        v = m[k]
        if typ is list:
            ok = isinstance(v, (list, tuple)) and all(_uint(x) for x in v)
        elif typ is int:
            ok = _uint(v)
        else:
            ok = isinstance(v, str)
        if not ok:
            raise TokenError("证书内容项类型不正确", f"claim {name} ({k}) has the wrong type")


def _uint(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63


def _check_values(c: Claims) -> None:
    try:
        number = CertificateNumber.parse(c.number)
    except NumberFormatError as e:
        raise TokenError("证书编号校验位错误或格式不正确", f"sub: {e}") from None
    if c.number != number.compact:
        raise TokenError("证书编号格式不正确", "sub must be the 16-character compact number")
    if c.issuer != number.bureau or c.cycle != number.cycle:
        raise TokenError(
            "证书编号与签发机关或周期不一致",
            f"sub {c.number} does not belong to issuer {c.issuer}, cycle {c.cycle}",
        )
    if not ID_MASKED_RE.fullmatch(c.id_masked):
        raise TokenError("身份证号掩码格式不正确", "id_masked must be 14 '*' and the last 4 characters")
    if c.version < 1:
        raise TokenError("证书版本号不正确", "version must be 1 or more")
    if c.status not in VERDICT_VALUES:
        raise TokenError("证书结论代码未知", f"status {c.status} is not 0, 1 or 2")
    if len(c.credits) != CREDIT_SLOTS:
        raise TokenError(
            "证书学分项数不正确", f"credits must have {CREDIT_SLOTS} entries, has {len(c.credits)}"
        )
    if not 1 <= len(c.years) <= 10:
        raise TokenError("证书年度学分项数不正确", f"years must have 1..10 entries, has {len(c.years)}")
    if not c.holder.strip() or len(c.holder) > 100 or len(c.school) > 200:
        raise TokenError(
            "持证人或学校名称不正确", "holder must be non-empty; holder ≤ 100, school ≤ 200 characters"
        )
    try:
        c.valid_until, c.issued_at  # noqa: B018  (out-of-range timestamps raise here)
    except (OverflowError, OSError, ValueError):
        raise TokenError("证书日期超出范围", "exp or iat is out of range") from None


def verify_signature(token: ParsedToken, key: Ed25519PublicKey) -> bool:
    """True when the token's signature is good under this key. The
    Sig_structure of RFC 9052 §4.4 is checked here rather than by cwt,
    which would decode the whole token again (half a verification's time);
    the tests check the same tokens with cwt and with pycose."""
    sig_structure = cbor2.dumps(["Signature1", token.protected, b"", token.payload])
    try:
        key.verify(token.signature, sig_structure)
        return True
    except InvalidSignature:
        return False
