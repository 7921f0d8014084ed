"""certificates: signing keys, certificate register, audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The audit log is append-only: triggers refuse UPDATE and DELETE on it, on
SQLite and on PostgreSQL alike, so even a clerk with SQL access cannot
rewrite history without dropping the trigger (which `ecert audit verify`
would not notice, but the hash chain would).
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table('signing_keys',
    sa.Column('kid', sa.String(length=16), nullable=False),
    sa.Column('bureau_code', sa.String(length=6), nullable=False),
    sa.Column('public_x', sa.String(length=64), nullable=False),
    sa.Column('not_before', TZ, nullable=False),
    sa.Column('not_after', TZ, nullable=True),
    sa.Column('compromised_at', TZ, nullable=True),
    sa.Column('compromise_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('kid', name=op.f('pk_signing_keys'))
    )
    op.create_index('uq_signing_keys_active', 'signing_keys', ['bureau_code'], unique=True,
                    sqlite_where=sa.text('not_after IS NULL'), postgresql_where=sa.text('not_after IS NULL'))
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('bureau_code', sa.String(length=6), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('verdict', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=16), nullable=False),
    sa.Column('issued_at', TZ, nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('token', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('check_code', sa.String(length=12), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('changed_at', TZ, nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('number', 'version', name=op.f('uq_certificates_number_version'))
    )
    op.create_index('uq_certificates_current', 'certificates', ['number'], unique=True,
                    sqlite_where=sa.text("state = 'current'"), postgresql_where=sa.text("state = 'current'"))
    op.create_table('audit_log',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', TZ, nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_log'))
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql""")
        op.execute("""CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
                      FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""")
    else:
        for event in ('UPDATE', 'DELETE'):
            op.execute(f"""CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
                           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table('audit_head')
    op.drop_table('audit_log')
    op.drop_index('uq_certificates_current', table_name='certificates')
    op.drop_table('certificates')
    op.drop_index('uq_signing_keys_active', table_name='signing_keys')
    op.drop_table('signing_keys')
