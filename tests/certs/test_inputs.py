"""What a committee member has in hand, reduced to the token: text, URL,
PDF, or a picture of the QR code."""

from __future__ import annotations

import io

import pytest
import qrcode
from pypdf import PdfWriter

from verifier.inputs import TOKEN_ATTACHMENT, token_from_bytes, token_from_input, token_from_text
from verifier.qr import verification_url
from verifier.token import TokenError

from .tokens import Key, b32, claims


@pytest.fixture(scope="module")
def raw():
    return Key().token(claims())


@pytest.fixture(scope="module")
def url(raw):
    return verification_url("HTTPS://ECERT.HORGOS.EDU.CN", b32(raw))


def test_token_and_url_in_either_case(raw, url):
    assert token_from_text(b32(raw)) == raw
    assert token_from_text(url) == raw
    assert token_from_text(url.lower()) == raw
    assert token_from_text(url + "?utm=x#top") == raw
    assert token_from_input("  " + url + "\n") == raw


def test_a_url_without_a_token_path_is_refused():
    with pytest.raises(TokenError, match="not a verification URL"):
        token_from_text("https://example.com/certificates/123")


def _pdf(attachment: bytes | None = None) -> bytes:
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    if attachment is not None:
        w.add_attachment(TOKEN_ATTACHMENT, attachment)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def test_a_pdf_carrying_the_url_as_an_attachment(raw, url, tmp_path):
    path = tmp_path / "证书.pdf"
    path.write_bytes(_pdf(url.encode()))
    assert token_from_input(str(path)) == raw


def test_a_pdf_without_a_code_is_named_as_such():
    with pytest.raises(TokenError) as e:
        token_from_bytes(_pdf(), "blank.pdf")
    assert e.value.message == "PDF 中没有找到证书查验码"


def test_a_pdf_that_is_not_a_pdf():
    with pytest.raises(TokenError, match="not a readable PDF"):
        token_from_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100, "fake.pdf")


def _qr_image(text: str, fmt: str) -> bytes:
    img = qrcode.make(text, error_correction=qrcode.constants.ERROR_CORRECT_M).get_image().convert("RGB")
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_picture_of_the_qr_code(raw, url, fmt):
    assert token_from_bytes(_qr_image(url, fmt), f"photo.{fmt.lower()}") == raw


def test_a_picture_without_a_qr_code():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (200, 200), "white").save(out, format="PNG")
    with pytest.raises(TokenError, match="no QR code"):
        token_from_bytes(out.getvalue(), "white.png")


def test_a_decompression_bomb_is_refused_before_decoding():
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, format="PNG")  # 100 Mpx, a few KB on disk
    assert len(out.getvalue()) < 1_000_000
    with pytest.raises(TokenError, match="pixels exceeds"):
        token_from_bytes(out.getvalue(), "bomb.png")


def test_oversized_and_unknown_files_are_refused():
    with pytest.raises(TokenError, match="larger than"):
        token_from_bytes(b"A" * (11 * 1024 * 1024))
    with pytest.raises(TokenError, match="not a PDF, PNG, JPEG or text"):
        token_from_bytes(b"\xff\xfe\x00\x01binary")
