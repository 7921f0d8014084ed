"""ledger_version: a counter every change to what a credit sheet reads bumps

The office's teacher table filtered by "short of X" needs every teacher's
sheet; a web process keeps them between requests and must know, cheaply
and exactly, when they went stale. Triggers on the five tables a sheet and
its row read (training_records, teachers, registrations, projects,
schools) add one to the single row of ledger_version on every INSERT,
UPDATE or DELETE (and TRUNCATE on PostgreSQL), in the writer's own
transaction: the new value becomes visible with the change itself, never
before, so a reader that reads the counter before the ledger never keeps
an old table under a new value. Timestamps would miss a deletion, a
clock set back and any statement that does not set them.

SQLite has row triggers only: one bump a row (a few µs; writers take
turns there anyway). PostgreSQL bumps once a transaction, from a trigger
BEFORE each statement, so the counter's row lock is always taken before any
ledger row lock: writers of the ledger take turns (the row is held until
commit), and cannot deadlock over it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ("training_records", "teachers", "registrations", "projects", "schools")
BUMP = "UPDATE ledger_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "ledger_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_version")),
    )
    op.execute("INSERT INTO ledger_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        # Once a transaction: an import's executemany is one statement a row,
        # and updating one row 50,000 times in a transaction walks an ever
        # longer chain of its versions (an import 8× slower). The flag is a
        # setting local to the transaction, undone with it (or with a
        # savepoint rolled back, as the bump is).
        op.execute(f"""
            CREATE FUNCTION ledger_version_bump() RETURNS trigger AS $$
            BEGIN
              IF current_setting('ecert.ledger_bumped', true) IS DISTINCT FROM 'yes' THEN
                {BUMP};
                PERFORM set_config('ecert.ledger_bumped', 'yes', true);
              END IF;
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        for table in TABLES:
            op.execute(f"""CREATE TRIGGER ledger_version_bump BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE
                           ON {table} FOR EACH STATEMENT EXECUTE FUNCTION ledger_version_bump()""")
    else:
        for table in TABLES:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER ledger_version_{table}_{event.lower()} AFTER {event} ON {table}
                               BEGIN {BUMP}; END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER ledger_version_bump ON {table}")
        op.execute("DROP FUNCTION ledger_version_bump()")
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER ledger_version_{table}_{event}")
    op.drop_table("ledger_version")
