"""Certificate PDFs are signed as PDFs: each signing key gets a certificate

Every signing key now has a PDF-signing key beside it (ECDSA P-256, its
private half a file in ECERT_KEYS_DIR) whose X.509 certificate is stored
here and published beside the JWKS. Keys made before have none until
`ecert keys init` makes one for the active key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("pdf_certificate", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("pdf_certificate")
