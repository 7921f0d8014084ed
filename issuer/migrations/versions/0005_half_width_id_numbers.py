"""national ID numbers stored in full-width digits, as ASCII

Until 2026-11-29 the import took str.isdigit() for a digit, so an ID number
typed in a Chinese input method's full-width mode was stored as typed, and
the same person imported later in ASCII would have been a second teacher.
This rewrites such numbers in ASCII. Where the ASCII form is already a
teacher, the two rows are one person twice: that needs a clerk, so the
upgrade stops, names both rows and changes nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa

from issuer.errors import ConfigError
from verifier.numbers import half_width

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

teachers = sa.table("teachers", sa.column("id", sa.Integer), sa.column("id_number", sa.String))


def upgrade() -> None:
    conn = op.get_bind()
    rows = [(i, n) for i, n in conn.execute(sa.select(teachers.c.id, teachers.c.id_number)) if not n.isascii()]
    fixes = [(i, half_width(n)) for i, n in rows]
    wanted = [ascii_form for _, ascii_form in fixes]
    taken = {n: i for n, i in conn.execute(sa.select(teachers.c.id_number, teachers.c.id)
                                           .where(teachers.c.id_number.in_(wanted)))} if wanted else {}
    clashes = [(i, taken[ascii_form]) for i, ascii_form in fixes if ascii_form in taken]
    if clashes:
        pairs = "; ".join(f"teacher {a} and teacher {b}" for a, b in clashes)
        raise ConfigError(f"数据库中有 {len(clashes)} 名教师以全角与半角身份证号各登记了一次，请人工合并后再升级",
                          f"the same ID number is stored twice, full-width and ASCII: {pairs}")
    for teacher_id, ascii_form in fixes:
        conn.execute(teachers.update().where(teachers.c.id == teacher_id).values(id_number=ascii_form))


def downgrade() -> None:
    pass  # the full-width forms were never meant to be stored
