"""Certificates: issuance, the signing keys, the register of versions and
revocations, the audit chain, the signed status snapshot and the QR URL."""
