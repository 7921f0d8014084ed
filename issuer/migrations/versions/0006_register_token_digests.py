"""the register binds each token: its SHA-256 digest; its total; the holder's birth date

Until 2026-12-02 the status check read only (number, version), so anyone
holding a copy of a signing key could sign a token for a real number and
its current version and have it verify. From here the register keeps, for
every version it issued, the SHA-256 of the token's bytes (the COSE_Sign1
structure the QR code's base32 spells), and the verifier fails a token
whose digest is not the register's (docs/formats.md). The digests of the
certificates issued so far are computed from the tokens stored with them,
and so is `credits_total` (the token's total in hundredths), which lets a
verifier say what the current version of an updated certificate certifies
without reading its token.

`holder_born` is the holder's birth date, which the public verifier shows
only to someone who gives the certificate's 查验码, so that a committee can
match the certificate to the applicant's ID card; it is read from the ID
number of the teacher registered under the number.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
import hashlib
from datetime import date

from alembic import op
import sqlalchemy as sa

from verifier.token import from_base32, parse

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

certificates = sa.table("certificates", sa.column("id", sa.Integer), sa.column("number", sa.String),
                        sa.column("token", sa.Text), sa.column("token_sha256", sa.String),
                        sa.column("credits_total", sa.Integer), sa.column("holder_born", sa.Date))
registrations = sa.table("registrations", sa.column("number", sa.String), sa.column("teacher_id", sa.Integer))
teachers = sa.table("teachers", sa.column("id", sa.Integer), sa.column("id_number", sa.String))
BATCH = 2000


def upgrade() -> None:
    op.add_column("certificates", sa.Column("token_sha256", sa.String(length=64), nullable=True))
    op.add_column("certificates", sa.Column("credits_total", sa.Integer(), nullable=True))
    op.add_column("certificates", sa.Column("holder_born", sa.Date(), nullable=True))
    conn = op.get_bind()
    born = dict(conn.execute(sa.select(registrations.c.number, teachers.c.id_number)
                             .join(teachers, teachers.c.id == registrations.c.teacher_id)).all())
    rows = conn.execute(sa.select(certificates.c.id, certificates.c.number, certificates.c.token)).all()
    update = (certificates.update().where(certificates.c.id == sa.bindparam("row_id"))
              .values(token_sha256=sa.bindparam("digest"), credits_total=sa.bindparam("total"),
                      holder_born=sa.bindparam("born")))
    for i in range(0, len(rows), BATCH):
        conn.execute(update, [_values(row_id, born.get(number), token) for row_id, number, token in rows[i:i + BATCH]])
    with op.batch_alter_table("certificates") as batch:
        batch.alter_column("token_sha256", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("credits_total", existing_type=sa.Integer(), nullable=False)


def _values(row_id: int, id_number: str | None, token: str) -> dict:
    raw = from_base32(token)
    return {"row_id": row_id, "digest": hashlib.sha256(raw).hexdigest(),
            "total": parse(raw).claims.credits[-1], "born": _birth_date(id_number)}


def _birth_date(id_number: str | None) -> date | None:
    if not id_number:
        return None
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def downgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("holder_born")
        batch.drop_column("credits_total")
        batch.drop_column("token_sha256")
