"""The tables the verifier reads: the public keys and the certificate register.

They are defined here, as SQLAlchemy Core tables, because the verifier is
deployed alone with read access to them; the issuer maps its models onto
these same Table objects (issuer/models.py) and creates them through its
Alembic migrations. There is deliberately no foreign key to the ledger's
tables, so the two can be replicated to a verifier-only database.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per Ed25519 signing key of a bureau. A key signs from not_before
# until not_after (set when it is rotated out); compromised_at, once set,
# invalidates every token it signed at or after that moment.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(16), primary_key=True),  # base64url of the 8-byte kid
    Column("bureau_code", String(6), nullable=False),
    Column("public_x", String(64), nullable=False),  # base64url of the raw public key
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("not_after", DateTime(timezone=True)),
    Column("compromised_at", DateTime(timezone=True)),
    Column("compromise_note", Text),
    # PEM of the certificate of the PDF-signing key made with this one (and its
    # CA's chain after it): issuer/certificates/docsigning.py
    Column("pdf_certificate", Text),
)
Index(
    "uq_signing_keys_active",
    signing_keys.c.bureau_code,
    unique=True,
    sqlite_where=text("not_after IS NULL"),
    postgresql_where=text("not_after IS NULL"),
)

# One row per version of a certificate. state: current | superseded | revoked.
# At most one current version per number (the partial unique index).
certificates = Table(
    "certificates",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("number", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("bureau_code", String(6), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("state", String(12), nullable=False),
    Column("verdict", Integer, nullable=False),  # the token's status claim: 0, 1, 2
    Column("kid", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("token", Text, nullable=False),  # base32, as in the QR code's URL
    # SHA-256 (hex) of the token's bytes: the status check binds a token to the
    # version the register issued, so a leaked key cannot mint one that verifies
    Column("token_sha256", String(64), nullable=False),
    Column("credits_total", Integer, nullable=False),  # the token's total, in hundredths
    Column("fingerprint", String(64), nullable=False),  # what the token certifies, bar iat/version
    Column("check_code", String(12), nullable=False),  # 查验码, kept across versions
    Column("summary", Text, nullable=False),  # JSON: the sheet's years and minimums at issue, for the PDF
    Column("changed_at", DateTime(timezone=True)),  # when it was superseded or revoked
    Column("revoke_reason", Text),
    # shown only to whoever gives the 查验码, to match the applicant's ID card
    Column("holder_born", Date),
    UniqueConstraint("number", "version"),
)
Index(
    "uq_certificates_current",
    certificates.c.number,
    unique=True,
    sqlite_where=text("state = 'current'"),
    postgresql_where=text("state = 'current'"),
)
