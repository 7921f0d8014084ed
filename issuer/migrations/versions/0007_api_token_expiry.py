"""API bearer tokens expire

Until 2026-12-02 a token worked until someone revoked it, so a departed
registrar's token worked forever. Each token now has an expiry: new ones
180 days unless asked otherwise (`ecert staff token --days`), those issued
before this migration 90 days from it, so that none is cut off without
warning and none lives on unseen.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from datetime import timedelta

from alembic import op
import sqlalchemy as sa

from verifier.clock import now_utc

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

GRACE = timedelta(days=90)
api_tokens = sa.table("api_tokens", sa.column("expires_at", sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.get_bind().execute(api_tokens.update().values(expires_at=now_utc().replace(microsecond=0) + GRACE))
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
