"""The verification URL of docs/formats.md and a QR code of it, for the
verifier's own prints (the batch report): BASE/V/<base32 token>, upper
case, level M, as on the certificate, so that scanning a line of a report
opens the same page as scanning the certificate."""

from __future__ import annotations

import base64
import io


def base_url(value: str) -> str:
    """A base URL as the verification URL spells it: upper case, no trailing
    slash (the QR code's alphanumeric set; docs/formats.md)."""
    return value.strip().rstrip("/").upper()


def verification_url(base: str, token_b32: str) -> str:
    return f"{base_url(base)}/V/{token_b32}"


def qr_png(text: str, scale: int = 4) -> bytes:
    """A QR code of `text` (level M, quiet zone included) as a black-and-white
    PNG, `scale` pixels a module."""
    import zxingcpp
    from PIL import Image

    symbol = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    with Image.fromarray(symbol.to_image(scale=scale, add_quiet_zones=True)) as img:
        out = io.BytesIO()
        img.convert("1").save(out, "PNG")
    return out.getvalue()


def qr_data_uri(text: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(text)).decode("ascii")
