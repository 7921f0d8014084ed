"""The bureau's Ed25519 signing keys.

The private key is a PKCS#8 file encrypted with the passphrase in
ECERT_KEY_PASSPHRASE (never argv, never a file in git), one file per key in
ECERT_KEYS_DIR named <kid>.pem. The public half and its use window are rows
of signing_keys, which the verifier reads and `ecert keys jwks` publishes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.certificates import audit, docsigning
from issuer.errors import ConfigError, NotFound
from issuer.models import SigningKey
from verifier.clock import as_utc, now_utc
from verifier.token import Claims, b64u, cose_private_key, key_id, sign

if TYPE_CHECKING:
    from cwt.cose_key_interface import COSEKeyInterface

PASSPHRASE_ENV = "ECERT_KEY_PASSPHRASE"
MIN_PASSPHRASE = 12


@dataclass
class Signer:
    kid: bytes
    cose: COSEKeyInterface  # what cose_private_key makes (cwt's COSEKey is only its factory)
    private: Ed25519PrivateKey

    @property
    def kid_text(self) -> str:
        return b64u(self.kid)

    def sign_token(self, claims: Claims) -> bytes:
        return sign(claims, self.cose, self.kid)

    def sign_bytes(self, data: bytes) -> bytes:
        return self.private.sign(data)

    @classmethod
    def of(cls, private: Ed25519PrivateKey) -> Signer:
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(key_id(public_raw), cose_private_key(raw, public_raw), private)

    @classmethod
    def throwaway(cls) -> Signer:
        """A new key of the same kind that no one trusts: its tokens are the
        size a real key's are (a dry run checks they fit the QR code) and
        verify nowhere."""
        return cls.of(Ed25519PrivateKey.generate())


def passphrase() -> bytes:
    value = os.environ.get(PASSPHRASE_ENV)
    if not value:
        raise ConfigError(
            f"未设置签名密钥口令：请在环境变量 {PASSPHRASE_ENV} 中提供",
            f"{PASSPHRASE_ENV} is not set; the private keys cannot be opened",
        )
    return value.encode()


class Keystore:
    def __init__(self, keys_dir: Path, actor: str) -> None:
        self.dir, self.actor = keys_dir, actor

    def path(self, kid: str) -> Path:
        return self.dir / f"{kid}.pem"

    def active(
        self, session: Session, bureau: str, *, lock: bool = False, shared: bool = False
    ) -> SigningKey | None:
        """The bureau's active key; `lock`: its row locked for the transaction
        (`shared`: FOR SHARE, as issuance holds it so that a rotation waits)."""
        q = select(SigningKey).where(SigningKey.bureau_code == bureau, SigningKey.not_after.is_(None))
        return session.scalars(q.with_for_update(read=shared) if lock else q).first()

    def create(self, session: Session, bureau: str, bureau_name: str = "") -> SigningKey:
        """A new active key, with its PDF-signing key and certificate; the
        caller has retired the previous one."""
        secret = _new_key_passphrase()
        private = Ed25519PrivateKey.generate()
        public_raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        kid = b64u(key_id(public_raw))
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_private(self.path(kid), pem)
        row = SigningKey(kid=kid, bureau_code=bureau, public_x=b64u(public_raw), not_before=_whole_second())
        session.add(row)
        self.add_document_key(row, bureau_name)
        session.flush()
        audit.append(session, self.actor, [audit.Event("key-create", kid, {"bureau": bureau})])
        return row

    # -- the PDF-signing key beside it (issuer/certificates/docsigning.py) --------

    def document_key_path(self, kid: str) -> Path:
        return self.dir / f"{kid}{docsigning.KEY_SUFFIX}"

    def add_document_key(self, row: SigningKey, bureau_name: str) -> None:
        """A PDF-signing key and its self-signed certificate for the key `row`
        (made with it; or later, for a key made before PDFs were signed)."""
        path = self.document_key_path(row.kid)
        if path.exists():  # left by a run stopped before its row was saved: use it
            key = open_document_key(row.kid, path)
        else:
            key = docsigning.new_key()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(_new_key_passphrase()),
            )
            self.dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, pem)
        cert = docsigning.self_signed(key, row.bureau_code, bureau_name, row.not_before)
        row.pdf_certificate = docsigning.to_pem([cert])

    def document_key(self, session: Session, bureau: str) -> docsigning.DocumentKey:
        """The active key's PDF-signing key, as renderers need it."""
        row = self.active(session, bureau)
        if row is None or not row.pdf_certificate:
            raise ConfigError(
                f"机关 {bureau} 没有可用的 PDF 签章证书：请先运行 ecert keys init",
                f"no PDF-signing certificate for bureau {bureau}; run ecert keys init",
            )
        return docsigning.DocumentKey(row.kid, str(self.document_key_path(row.kid)), row.pdf_certificate)

    def install_certificate(self, session: Session, bureau: str, pem: bytes, where: str) -> SigningKey:
        """Replace the active key's self-made certificate with one a CA issued
        for the same key (`ecert keys import-cert`)."""
        row = self.active(session, bureau, lock=True)
        if row is None or not row.pdf_certificate:
            raise ConfigError(
                f"机关 {bureau} 没有可用的 PDF 签章密钥：请先运行 ecert keys init",
                f"no PDF-signing key for bureau {bureau}",
            )
        chain = docsigning.load_chain(pem, where)
        docsigning.check_for_key(chain, open_document_key(row.kid, self.document_key_path(row.kid)), where)
        row.pdf_certificate = docsigning.to_pem(chain)
        session.flush()
        audit.append(
            session,
            self.actor,
            [audit.Event("key-certificate", row.kid, {"subject": chain[0].subject.rfc4514_string()})],
        )
        return row

    def rotate(
        self, session: Session, bureau: str, bureau_name: str = ""
    ) -> tuple[SigningKey | None, SigningKey]:
        old = self.active(session, bureau, lock=True)
        if old is not None:
            old.not_after = _whole_second()
            session.flush()
            audit.append(session, self.actor, [audit.Event("key-retire", old.kid, {"bureau": bureau})])
        return old, self.create(session, bureau, bureau_name)

    def compromise(self, session: Session, kid: str, as_of: datetime, note: str) -> SigningKey:
        key = session.scalars(select(SigningKey).where(SigningKey.kid == kid).with_for_update()).first()
        if key is None:
            raise NotFound(f"没有标识为 {kid} 的签名密钥", f"no signing key with kid {kid}")
        key.compromised_at = as_utc(as_of)
        key.compromise_note = note
        if key.not_after is None:
            key.not_after = _whole_second()
        session.flush()
        audit.append(
            session,
            self.actor,
            [audit.Event("key-compromise", kid, {"as_of": as_utc(as_of).isoformat(), "note": note})],
        )
        return key

    def signer(self, session: Session, bureau: str) -> Signer:
        row = self.active(session, bureau)
        if row is None:
            raise ConfigError(
                f"机关 {bureau} 没有可用的签名密钥：请先运行 ecert keys init（或 keys rotate）",
                f"no active signing key for bureau {bureau}",
            )
        return self.open(row.kid)

    def open(self, kid: str) -> Signer:
        path = self.path(kid)
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                f"找不到签名密钥 {kid} 的私钥文件：{path}",
                f"private key file {path} is missing; check ECERT_KEYS_DIR",
            ) from None
        try:
            private = serialization.load_pem_private_key(pem, password=passphrase())
        except (ValueError, TypeError):
            raise ConfigError(
                f"签名密钥口令不正确，无法打开私钥 {kid}",
                f"{PASSPHRASE_ENV} does not open {path} (wrong passphrase or damaged file)",
            ) from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"私钥文件 {path} 不是 Ed25519 密钥", f"{path} is not an Ed25519 key")
        signer = Signer.of(private)
        if signer.kid_text != kid:
            raise ConfigError(f"私钥文件 {path} 与密钥标识 {kid} 不符", f"{path} holds another key")
        return signer


def open_document_key(kid: str, path: Path) -> ec.EllipticCurvePrivateKey:
    """The PDF-signing private key, opened with the passphrase."""
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"找不到 PDF 签章私钥文件：{path}",
            f"PDF-signing key file {path} is missing; check ECERT_KEYS_DIR",
        ) from None
    try:
        private = serialization.load_pem_private_key(pem, password=passphrase())
    except (ValueError, TypeError):
        raise ConfigError(
            f"签名密钥口令不正确，无法打开 PDF 签章私钥 {kid}",
            f"{PASSPHRASE_ENV} does not open {path} (wrong passphrase or damaged file)",
        ) from None
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"私钥文件 {path} 不是 ECDSA 密钥", f"{path} is not an ECDSA key")
    return private


def _new_key_passphrase() -> bytes:
    secret = passphrase()
    if len(secret) < MIN_PASSPHRASE:
        raise ConfigError(
            f"签名密钥口令太短：至少 {MIN_PASSPHRASE} 个字符",
            f"{PASSPHRASE_ENV} must be at least {MIN_PASSPHRASE} characters for a new key",
        )
    return secret


def _write_private(path: Path, pem: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)


def _whole_second() -> datetime:
    """Use windows in whole seconds, as the token's iat is."""
    return now_utc().replace(microsecond=0)
