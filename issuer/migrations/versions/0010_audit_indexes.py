"""audit_log indexes for the office's filters

The audit page filters by actor, action, certificate number (subject) and
a date range, and pages newest first. Without indexes each filter reads the
whole chain, which grows by one entry a certificate issued, reissued or
revoked: hundreds of thousands of rows in a region's cycle.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_log_actor": ["actor", "seq"],
    "ix_audit_log_action": ["action", "seq"],
    "ix_audit_log_subject": ["subject", "seq"],
    "ix_audit_log_at": ["at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "audit_log", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="audit_log")
