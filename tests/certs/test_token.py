"""The token of docs/formats.md, checked byte by byte and by an independent COSE
implementation (pycose) that knows only the published JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime

import cbor2
import pytest
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

from issuer.certificates.qr import TARGET_VERSION, qr_version
from verifier.clock import CHINA
from verifier.keyset import KeySet
from verifier.qr import verification_url
from verifier.token import TokenError, from_base32, parse, to_base32

from .tokens import ISSUED, LONG_NAME, NUMBER, SCHOOL, Key, claims


def test_token_is_a_tagged_cose_sign1_with_alg_and_kid_only():
    key = Key()
    raw = key.token(claims())
    obj = cbor2.loads(raw)
    assert obj.tag == 18 and len(obj.value) == 4
    protected, unprotected, payload, signature = obj.value
    assert cbor2.loads(protected) == {1: -8, 4: key.kid}
    assert unprotected == {} and len(signature) == 64
    m = cbor2.loads(payload)
    assert set(m) == {1, 2, 4, 6, -1, -2, -3, -4, -5, -6, -7, -8}
    assert (m[1], m[2], m[-1], m[-2], m[-4], m[-5], m[-8]) == ("654004", NUMBER, 1, LONG_NAME, 7, SCHOOL, 1)
    assert m[-6][-1] == 9450 and len(m[-6]) == 8 and len(m[-7]) == 5


def test_kid_is_the_first_8_bytes_of_the_rfc7638_thumbprint():
    key = Key()
    x = base64.urlsafe_b64encode(key.public_raw).rstrip(b"=").decode()
    thumb = hashlib.sha256(f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'.encode()).digest()
    assert key.kid == thumb[:8]
    jwk = KeySet([key.public()]).to_jwks()["keys"][0]
    assert jwk["kid"] == base64.urlsafe_b64encode(thumb[:8]).rstrip(b"=").decode()


def test_exp_is_the_end_of_the_valid_until_day_in_china():
    c = claims()
    assert datetime.fromtimestamp(c.expires, CHINA) == datetime(2029, 12, 31, 23, 59, 59, tzinfo=CHINA)
    assert c.valid_until == date(2029, 12, 31)


def test_pycose_verifies_our_token_with_only_the_published_jwks():
    key = Key()
    raw = key.token(claims())
    jwks = json.loads(json.dumps(KeySet([key.public()]).to_jwks()))  # as published
    msg = Sign1Message.decode(raw)
    kid = (
        base64.urlsafe_b64encode(msg.phdr[next(k for k in msg.phdr if k.identifier == 4)])
        .rstrip(b"=")
        .decode()
    )
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    x = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    msg.key = OKPKey(crv=Ed25519, x=x)
    assert msg.verify_signature()
    assert cbor2.loads(msg.payload)[2] == NUMBER


def test_pycose_rejects_a_tampered_token():
    key = Key()
    raw = bytearray(key.token(claims()))
    raw[raw.index(b"654004") + 5] ^= 1  # one bit of the issuer claim
    msg = Sign1Message.decode(bytes(raw))
    msg.key = OKPKey(crv=Ed25519, x=key.public_raw)
    assert not msg.verify_signature()


def test_a_typical_long_uyghur_name_fits_qr_version_13_in_alphanumeric_mode():
    raw = Key().token(claims(holder="热依拉·阿不都热合曼", school="霍尔果斯市第二中学"))
    url = verification_url("HTTPS://ECERT.HORGOS.EDU.CN", to_base32(raw))
    assert url == url.upper()
    assert len(raw) <= 260
    assert qr_version(url) <= TARGET_VERSION


def test_an_extreme_name_and_school_still_fit_a_printable_qr_code():
    raw = Key().token(claims(holder=LONG_NAME, school=SCHOOL))
    assert qr_version(verification_url("HTTPS://ECERT.HORGOS.EDU.CN", to_base32(raw))) <= 15


def test_qr_version_agrees_with_the_qrcode_library():
    import qrcode
    import qrcode.util as qu

    for n in (40, 300, 431, 432, 700):
        url = "HTTP://X/V/" + "A" * (n - 11)
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(qu.QRData(url, mode=qu.MODE_ALPHA_NUM))
        qr.make(fit=True)
        assert qr_version(url) == qr.version


def test_base32_round_trip_ignores_case_and_refuses_other_alphabets():
    raw = Key().token(claims())
    text = to_base32(raw)
    assert "=" not in text and from_base32(text.lower()) == raw
    for bad in (text[:10] + "0" + text[11:], text + "=", "", "证书"):
        with pytest.raises(TokenError):
            from_base32(bad)


def test_parse_reads_back_the_claims():
    c = claims(version=3, status=0, issued=int(ISSUED.timestamp()))
    assert parse(Key().token(c)).claims == c


def test_python_cwt_agrees_with_our_signature_check():
    from cwt import COSE

    from verifier.token import cose_public_key, verify_signature

    key, stranger = Key(), Key()
    raw = key.token(claims())
    assert COSE.new().decode(raw, cose_public_key(key.public_raw)) == parse(raw).payload
    assert verify_signature(parse(raw), key.public().verifying_key)
    assert not verify_signature(parse(raw), stranger.public().verifying_key)


def test_fast_base32_matches_the_standard_library():
    import base64

    for n in range(0, 40):
        data = bytes(range(256))[:n] + b"\xff" * (n % 3)
        text = base64.b32encode(data).decode().rstrip("=")
        if text:
            assert from_base32(text) == data
