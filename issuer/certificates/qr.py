"""The size of the verification URL's QR code (the URL itself is spelled
by verifier/qr.py, for the certificate and the verifier's own prints alike).

The URL is upper case (BASE/V/<base32 token>) so the QR code can use
alphanumeric mode; level M. The version is computed from qrcode's own
capacity table rather than by building the symbol, which is ~1000× slower
and would dominate a batch issuance.
"""

from __future__ import annotations

import qrcode.util as qu
from qrcode.constants import ERROR_CORRECT_M

MAX_VERSION = 40
TARGET_VERSION = 13  # docs/formats.md: a typical certificate fits version 13 or lower


def qr_version(url: str) -> int | None:
    """Smallest QR version (level M, one alphanumeric segment) that holds
    `url`, or None if even version 40 cannot."""
    n = len(url)
    payload = 11 * (n // 2) + 6 * (n % 2)
    for version in range(1, MAX_VERSION + 1):
        # the stubs declare MODE_ALPHA_NUM an int, not the Literal mode that length_in_bits takes
        bits = 4 + qu.length_in_bits(qu.MODE_ALPHA_NUM, version) + payload  # type: ignore[arg-type]
        if bits <= qu.BIT_LIMIT_TABLE[ERROR_CORRECT_M][version]:
            return version
    return None
