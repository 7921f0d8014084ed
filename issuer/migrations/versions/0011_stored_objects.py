"""stored_objects and stored_chunks: files kept in the database

With ECERT_STORAGE=database the PDFs a worker renders (and its render
manifest, as each object's tag) live in the database every worker and web
server shares, instead of one machine's data folder (issuer/storage.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_objects",
        sa.Column("key", sa.String(400), primary_key=True),
        sa.Column("blob", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tag", sa.String(100), nullable=True),
    )
    op.create_table(
        "stored_chunks",
        sa.Column("blob", sa.String(32), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_chunks")
    op.drop_table("stored_objects")
