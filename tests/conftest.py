"""Fixtures: a migrated database on SQLite and on PostgreSQL, file builders,
and the `ecert` command run the way a clerk runs it."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime, time

import pytest
from sqlalchemy import create_engine, text

from issuer.db import make_engine, migrate

PG_URL = os.environ.get("ECERT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    eng = create_engine(PG_URL)
    try:
        with eng.connect() as c:
            c.execute(text("select 1"))
        return None
    except Exception as e:  # any failure means "not here"; said below
        return f"{type(e).__name__}: {e}"
    finally:
        eng.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    why = _pg_reachable()
    if why is None:
        return True
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL at {PG_URL} is not reachable in CI: {why}")
    pytest.skip(f"PostgreSQL not reachable ({why}); set ECERT_TEST_POSTGRES")


@pytest.fixture
def pg_url(pg_available, request):
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as c:
        c.execute(text(f"create schema {schema}"))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f"drop schema {schema} cascade"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ecert.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def run_ecert(db_url, tmp_path, monkeypatch):
    """Run `ecert ARGS` in-process (click's runner) against the test database."""
    from click.testing import CliRunner

    from issuer.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ECERT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ECERT_PROFILE", raising=False)
    runner = CliRunner()

    def run(*args: str, check: bool = True):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        result.returncode = result.exit_code
        if check and result.exit_code != 0:
            raise AssertionError(
                f"ecert {' '.join(args)} exited {result.exit_code}\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


@pytest.fixture
def files(tmp_path):
    from tests.builders import Files

    return Files(tmp_path / "in")


class Clock:
    """The project's "now" moved to another moment (verifier.clock._now, the
    one source of now and today), still running: records dated in 2028, a
    final review, a date past validity can then be tried as they will happen."""

    def __init__(self, monkeypatch) -> None:
        self._monkeypatch = monkeypatch

    def move_to(self, when: date | datetime | str) -> None:
        """A day (10:00 China time) or an aware moment."""
        import verifier.clock as clock

        if isinstance(when, str):
            when = datetime.fromisoformat(when) if "T" in when else date.fromisoformat(when)
        if not isinstance(when, datetime):
            when = datetime.combine(when, time(10, 0), clock.CHINA)
        offset = when - datetime.now(UTC)
        self._monkeypatch.setattr(clock, "_now", lambda: datetime.now(UTC) + offset)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)
