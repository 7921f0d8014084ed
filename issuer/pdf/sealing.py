"""Signing a rendered certificate as a PDF (PAdES baseline B-B) with pyHanko.

The signature is an incremental update over WeasyPrint's file: a signature
field whose widget lies on the printed seal, its value a CMS SignedData
(ETSI.CAdES.detached) by the bureau's PDF-signing key
(issuer/certificates/docsigning.py) over every byte but its own. Readers
(Adobe, Foxit, poppler's pdfsig) then say the document is signed and
unmodified, and any later change shows as one.

Cost: about 12 ms a certificate, most of it pyHanko building the CMS in
asn1crypto. The space for the signature is reserved outright rather than
estimated: pyHanko's estimate signs a dummy first, which doubled the time
(benchmarks/bench_render.py measures rendering with and without signing).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.utils import CryptographyDeprecationWarning

from issuer.certificates.docsigning import DocumentKey
from issuer.certificates.keystore import open_document_key
from verifier.pdfsignature import run_coroutine

FIELD = "BureauSeal"
# The CMS holds the certificates and about 1.3 KB besides (signed
# attributes, the ECDSA signature); what is unused stays zeros in the
# signature's hex string, so the room is fitted to the chain. pyHanko counts
# it in hex digits, two a byte.
CMS_OVERHEAD = 1536
Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in PDF points, origin bottom left


def _pyhanko() -> Any:
    """pyHanko, imported on first use; its import touches cryptography's DSA
    module, which warns (deprecated) although no DSA key is ever used."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        import pyhanko.sign as sign
        import pyhanko.sign.fields
        import pyhanko.sign.signers.pdf_signer  # noqa: F401  (used through sign's namespace)
    return sign


class Sealer:
    """Signs PDFs with one PDF-signing key; made once per rendering process
    (opening the key and building the signer is the slow part)."""

    def __init__(self, key: DocumentKey, bureau_name: str) -> None:
        from asn1crypto import keys as akeys
        from asn1crypto import x509 as ax509

        sign = _pyhanko()
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.stamp import TextStampStyle
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        private = open_document_key(key.kid, Path(key.key_path))
        der_key = private.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        ders = _ders(key.chain_pem)
        chain = [ax509.Certificate.load(der) for der in ders]
        self._reserved = 2 * (CMS_OVERHEAD + sum(len(der) for der in ders))
        self.key = key
        self._writer = IncrementalPdfFileWriter
        self._signer = sign.signers.SimpleSigner(
            signing_cert=chain[0],
            signing_key=akeys.PrivateKeyInfo.load(der_key),
            cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # type: ignore[no-untyped-call]  # the CA chain: the signer's own goes in once, as signing_cert
        )
        self._meta = sign.signers.pdf_signer.PdfSignatureMetadata(
            field_name=FIELD,
            subfilter=sign.fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason="继续教育证书电子签章",
            name=bureau_name or None,
        )
        self._fields, self._sign = sign.fields, sign
        # The seal is printed on the page; the widget's own appearance adds nothing over it.
        self._style = TextStampStyle(stamp_text="", border_width=0, background=None)

    def seal(self, pdf: bytes, box: Box) -> bytes:
        signer = self._sign.signers.pdf_signer.PdfSigner(
            self._meta,
            signer=self._signer,
            stamp_style=self._style,
            new_field_spec=self._fields.SigFieldSpec(FIELD, on_page=0, box=box),
        )
        writer = self._writer(io.BytesIO(pdf))
        out: io.BytesIO = run_coroutine(lambda: signer.async_sign_pdf(writer, bytes_reserved=self._reserved))
        return out.getvalue()


def _ders(pem: str) -> list[bytes]:
    from cryptography import x509

    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem.encode())]
