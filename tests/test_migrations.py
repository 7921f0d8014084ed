"""The schema comes from the migrations alone, and matches the models."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from issuer.db import current_revision, head_revision, migrate
from issuer.models import Base


def test_migrations_create_what_the_models_describe(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    assert diff == []
    assert current_revision(engine) == head_revision()


def test_migrate_is_idempotent(engine):
    tables = set(inspect(engine).get_table_names())
    assert migrate(engine) == (head_revision(), head_revision())
    assert set(inspect(engine).get_table_names()) == tables
