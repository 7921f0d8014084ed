"""teacher accounts: sign-in for the certificate download

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teacher_accounts',
    sa.Column('teacher_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('must_change', sa.Boolean(), nullable=False),
    sa.Column('epoch', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['teacher_id'], ['teachers.id'], name=op.f('fk_teacher_accounts_teacher_id_teachers')),
    sa.PrimaryKeyConstraint('teacher_id', name=op.f('pk_teacher_accounts'))
    )


def downgrade() -> None:
    op.drop_table('teacher_accounts')
