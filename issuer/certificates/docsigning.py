"""The bureau's document-signing certificate, with which every certificate
PDF is signed as a PDF (PAdES), so that a reader shows it as signed.

It is a second key beside the token's Ed25519 key, made by the same
`ecert keys init` / `rotate` and retired with it: ECDSA P-256 with SHA-256,
which Adobe Reader, poppler, Foxit and the Chinese readers all accept
(Ed25519 in PDF signatures they mostly do not). Its private half is a
PKCS#8 file encrypted with the same passphrase, `<kid>.pdf-key.pem` in
ECERT_KEYS_DIR; its certificate (PEM, the chain after it when a CA issued
it) is stored with the key's row and published beside the JWKS.

The certificate made here is self-signed. A bureau that wants readers to
trust it without a step of their own has its CA certify the same key:
`ecert keys csr` writes a request, `ecert keys import-cert` installs what
the CA returns (checked to be for this key and for signing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from issuer.errors import ConfigError

KEY_SUFFIX = ".pdf-key.pem"
# Ten years: a PDF is checked at a title review years after its issue, and
# a B-B signature is checked against the certificate's validity then.
LIFETIME = timedelta(days=3653)
USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=True,  # non-repudiation, which PAdES validators look for
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
# id-kp-documentSigning (RFC 9336), besides the usual email protection that Adobe accepts
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def subject(bureau_code: str, bureau_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, bureau_name or bureau_code),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"行政区划 {bureau_code}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{bureau_name or bureau_code} 电子证书签章"),
        ]
    )


def self_signed(
    key: ec.EllipticCurvePrivateKey, bureau_code: str, bureau_name: str, not_before: datetime
) -> x509.Certificate:
    name = subject(bureau_code, bureau_name)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before - timedelta(minutes=5))  # clocks of readers differ
        .not_valid_after(not_before + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(USAGE, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def request(key: ec.EllipticCurvePrivateKey, bureau_code: str, bureau_name: str) -> bytes:
    """A PEM certificate signing request for the bureau's CA."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject(bureau_code, bureau_name))
        .add_extension(USAGE, critical=True)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM)


def to_pem(chain: list[x509.Certificate]) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)


def load_chain(pem: bytes, where: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ConfigError(f"{where} 不是 PEM 格式的证书", f"{where}: not PEM X.509 certificates") from None
    if not chain:
        raise ConfigError(f"{where} 中没有证书", f"{where}: no certificate in it")
    return chain


def check_for_key(chain: list[x509.Certificate], key: ec.EllipticCurvePrivateKey, where: str) -> None:
    """A CA's certificate may replace the self-made one only if it certifies
    this very key, for signing, and is in force."""
    leaf = chain[0]
    if leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise ConfigError(
            f"{where} 的第一张证书不是本机关文档签章密钥的证书",
            f"{where}: its first certificate is for another key than the active PDF-signing key",
        )
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not (usage.digital_signature or usage.content_commitment):
        raise ConfigError(
            f"{where} 的证书不允许用于签名（密钥用法）",
            f"{where}: key usage allows neither digitalSignature nor nonRepudiation",
        )


@dataclass(frozen=True)
class DocumentKey:
    """What a renderer needs to sign PDFs: the key's file and its chain."""

    kid: str
    key_path: str
    chain_pem: str

    @cached_property
    def fingerprint(self) -> str:
        """Part of every PDF's render key: a new certificate re-renders them."""
        leaf = x509.load_pem_x509_certificate(self.chain_pem.encode())
        return leaf.fingerprint(hashes.SHA256()).hex()
