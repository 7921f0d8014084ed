"""Whatever a committee member has in hand, reduced to the token's bytes:
the base32 token, a verification URL (either case), a PDF of ours, or a
photo or scan of the QR code (PNG or JPEG).

A PDF of ours carries the verification URL as an embedded file named
`TOKEN_ATTACHMENT`; failing that, the URL is looked for in the PDF's text.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

from verifier.token import TokenError, from_base32

TOKEN_ATTACHMENT = "ecert-verification-url.txt"
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000  # a 12-megapixel phone photo is well inside
URL_TOKEN_RE = re.compile(r"/V/([A-Z2-7]{16,})", re.IGNORECASE)
PDF_MAGIC, PNG_MAGIC, JPEG_MAGIC = b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


def token_from_text(text: str) -> bytes:
    """A base32 token or a verification URL whose path ends /v/<token>."""
    text = text.strip()
    if "/" in text:
        m = URL_TOKEN_RE.search(text.split("?", 1)[0].split("#", 1)[0])
        if not m:
            raise TokenError("这不是证书查验网址", "not a verification URL: no /v/<token> path")
        text = m.group(1)
    return from_base32(text)


def token_from_bytes(data: bytes, name: str = "file") -> bytes:
    if len(data) > MAX_FILE_BYTES:
        raise TokenError("文件过大", f"{name}: larger than {MAX_FILE_BYTES // 2**20} MB")
    if data.startswith(PDF_MAGIC):
        return token_from_pdf(data, name)
    if data.startswith(PNG_MAGIC) or data.startswith(JPEG_MAGIC):
        return token_from_image(data, name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError(
            "无法识别的文件：请提供 PDF 证书、二维码图片或查验网址", f"{name}: not a PDF, PNG, JPEG or text"
        ) from None
    return token_from_text(text)


FILE_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".txt")


def names_a_missing_file(value: str) -> bool:
    """INPUT that can only be meant as a file's path (a certificate's or a
    picture's name, or a relative or absolute path that is no URL) and is
    not there: worth saying so rather than reading it as a token."""
    v = value.strip()
    if not v or "\n" in v or "://" in v or "/V/" in v.upper():
        return False
    looks_like_path = v.lower().endswith(FILE_SUFFIXES) or v.startswith(("/", "./", "../"))
    try:
        return looks_like_path and not Path(v).exists()
    except OSError:
        return False


def token_from_input(value: str) -> bytes:
    """The CLI's INPUT: a path to a file if one exists there, else text."""
    data = input_file(value)
    return token_from_text(value) if data is None else token_from_bytes(data, Path(value).name)


def input_file(value: str) -> bytes | None:
    """The bytes of the file INPUT names, or None when it names none."""
    path = Path(value)
    try:
        is_file = "\n" not in value and path.is_file()
    except OSError:  # a long token is not a valid file name
        is_file = False
    if not is_file:
        return None
    try:
        return path.read_bytes()
    except OSError as e:
        raise TokenError("无法读取文件", f"{value}: {e.strerror}") from None


def is_pdf(data: bytes) -> bool:
    return data.startswith(PDF_MAGIC)


def token_from_pdf(data: bytes, name: str = "PDF") -> bytes:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        attached = reader.attachments.get(TOKEN_ATTACHMENT)
        if attached:
            return token_from_text(attached[0].decode("utf-8", "replace"))
        for page in reader.pages[:3]:
            m = URL_TOKEN_RE.search((page.extract_text() or "").replace("\n", ""))
            if m:
                return from_base32(m.group(1))
    except TokenError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError):
        raise TokenError("PDF 文件损坏或无法读取", f"{name}: not a readable PDF") from None
    raise TokenError("PDF 中没有找到证书查验码", f"{name}: the PDF carries no verification URL or token")


def token_from_image(data: bytes, name: str = "image") -> bytes:
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise TokenError("图片过大", f"{name}: image pixels exceeds {MAX_IMAGE_PIXELS:,}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise TokenError("图片损坏或无法读取", f"{name}: not a readable PNG or JPEG") from None
    try:
        with img:
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise TokenError("图片过大", f"{name}: {w}×{h} pixels exceeds {MAX_IMAGE_PIXELS:,}")
            img.load()
            qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)  # what a bare format converts to
            results = zxingcpp.read_barcodes(img.convert("L"), formats=qr)
    except TokenError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise TokenError("图片损坏或无法读取", f"{name}: not a readable PNG or JPEG") from None
    texts = [r.text for r in results if r.valid and r.text]
    if not texts:
        raise TokenError("图片中没有识别到二维码", f"{name}: no QR code found in the image")
    return token_from_text(texts[0])
