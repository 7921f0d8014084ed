"""Engines, sessions and the schema's migration state.

SQLite is the embedded default; PostgreSQL (psycopg 3) the real deployment.
The schema is created only by the Alembic migrations in issuer/migrations.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from .errors import ConfigError, DatabaseNotReady

MIGRATIONS = Path(__file__).with_name("migrations")


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:  # kwargs: create_engine's own
    try:
        parsed = make_url(normalise_url(url))
    except ArgumentError:
        raise ConfigError(
            f"DATABASE_URL 无法解析：{url!r}",
            "DATABASE_URL is not a database URL (sqlite:///PATH or postgresql://...)",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, **kwargs)
    if backend != "postgresql":  # the only two the schema and its tests run on
        raise ConfigError(
            f"不支持的数据库：{backend}（DATABASE_URL 只能是 SQLite 或 PostgreSQL）",
            f"DATABASE_URL names {backend}; use sqlite:///PATH or postgresql://...",
        )
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_engine(url: URL, **kwargs: Any) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60}, **kwargs)

    @event.listens_for(engine, "connect")  # the pysqlite driver: a sqlite3.Connection
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so a writer can
        # take the write lock up front (BEGIN IMMEDIATE) instead of failing
        # with "database is locked" when it upgrades a read lock later.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("ecert_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """One transaction that writes: committed on success, rolled back whole
    on any error, so a refused import leaves nothing half-written."""
    with (
        Session(engine.execution_options(ecert_write=True), expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


# -- migrations ------------------------------------------------------------


def alembic_config(engine: Engine | None) -> Config:
    """With no engine, migrations/env.py opens DATABASE_URL's, as `alembic` does."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


@functools.cache  # the migration files do not change while a process runs; reading them compiles each
def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config(None)).get_heads()
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Create or upgrade the schema to the head revision (idempotent)."""
    before = _current_or_unreachable(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, head_revision()


def ensure_ready(engine: Engine) -> None:
    current = _current_or_unreachable(engine)
    if current != head_revision():
        state = "尚未初始化" if current is None else f"版本为 {current}，需要升级"
        raise DatabaseNotReady(
            f"数据库{state}：请先运行 ecert init",
            f"database at {engine.url.render_as_string(hide_password=True)} is "
            f"{'empty' if current is None else 'at revision ' + current}; run `ecert init`",
        )


def _current_or_unreachable(engine: Engine) -> str | None:
    try:
        return current_revision(engine)
    except OperationalError as e:
        raise DatabaseNotReady(
            "无法连接数据库，请检查 DATABASE_URL 或数据目录",
            f"cannot connect to {engine.url.render_as_string(hide_password=True)}: {e.orig}",
        ) from None
