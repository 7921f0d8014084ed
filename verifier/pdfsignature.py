"""The PDF's own signature: is this file, byte for byte, what the bureau signed?

A certificate PDF carries two signatures. The token's (the QR code and the
attached URL) says what was certified, and the other checks read it. The
PDF's (PAdES, issuer/pdf/sealing.py) says that the page itself, which a
person reads, has not been changed since: a PDF whose token verifies but
whose page was edited after signing is reported as modified, and the
verification is not valid, because what the committee holds is not what
was issued.

pyHanko reads the signature and checks its digest and cryptography; that
the signer is the bureau is decided here: its certificate must be one the
bureau published (beside the JWKS), not merely one a CA vouches for, since
any holder of a certificate from the same CA could otherwise sign a page.
A PDF without a signature (made before PDFs were signed) passes with a
note: its token is then all that was checked.
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from cryptography.utils import CryptographyDeprecationWarning


class Finding(NamedTuple):
    """The "pdf" check of a verification (verifier/verify.py makes it one)."""

    ok: bool
    message: str
    detail: str


MODIFIED = "PDF 在签章后被修改：页面内容不可信，请以本页显示的查验结果为准"


def check_pdf(data: bytes, published: list[bytes]) -> Finding:
    """`published`: DER of the PDF-signing certificates the bureau published."""
    try:
        signatures = _signatures(data)
    except Exception as e:  # pyHanko's reader raises many kinds on a damaged file
        return Finding(
            False,
            "PDF 文件结构损坏，无法核对其电子签章",
            f"PDF signature could not be read: {type(e).__name__}: {str(e)[:200]}",
        )
    if not signatures:
        return Finding(
            True,
            "此 PDF 未带电子签章（早期生成）：以本页显示的查验结果为准",
            "the PDF carries no signature of its own; only its token was checked",
        )
    return _check_signature(signatures[0], len(signatures), published)


def _signatures(data: bytes) -> list[Any]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return list(PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures)


def _check_signature(sig: Any, count: int, published: list[bytes]) -> Finding:
    validation = _validation()
    try:
        signer = sig.signer_cert.dump()
        status = run_coroutine(
            lambda: validation.async_validate_pdf_signature(sig, validation.context(published))
        )
    except Exception as e:
        return Finding(
            False,
            "PDF 电子签章损坏，无法核对",
            f"PDF signature is damaged: {type(e).__name__}: {str(e)[:200]}",
        )
    if not (status.intact and status.valid):
        return Finding(
            False, MODIFIED, "PDF modified after signing: the signed bytes no longer match the signature"
        )
    if count > 1 or status.coverage != validation.ENTIRE_FILE:
        return Finding(
            False,
            MODIFIED,
            "PDF modified after signing: content was added after the signature (incremental update)",
        )
    if signer not in published:
        return Finding(
            False,
            "PDF 电子签章不是发证机关公布的签章证书所签",
            "the PDF is signed with a certificate the bureau has not published",
        )
    return Finding(
        True,
        "PDF 电子签章有效，签章后未被修改",
        f"PAdES signature by {sig.signer_cert.subject.human_friendly[:120]} covers the whole file",
    )


T = TypeVar("T")


def run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """pyHanko's work is async; its sync wrappers call asyncio.run, which
    fails where an event loop already runs in this thread (a Playwright
    test, an async server). There it runs in a thread of its own."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, main()).result()


class _Validation:
    """pyHanko's validation parts, imported on first use (its import is slow
    and touches cryptography's deprecated DSA module, which warns)."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            from asn1crypto import x509
            from pyhanko.sign.validation import async_validate_pdf_signature
            from pyhanko.sign.validation.status import SignatureCoverageLevel
            from pyhanko_certvalidator import ValidationContext
        self.async_validate_pdf_signature = async_validate_pdf_signature
        self.ENTIRE_FILE = SignatureCoverageLevel.ENTIRE_FILE
        self._context, self._x509 = ValidationContext, x509

    def context(self, published: list[bytes]) -> Any:
        roots = [self._x509.Certificate.load(der) for der in published]
        return self._context(trust_roots=roots, allow_fetching=False)


_loaded: list[_Validation] = []


def _validation() -> _Validation:
    if not _loaded:
        _loaded.append(_Validation())
    return _loaded[0]
