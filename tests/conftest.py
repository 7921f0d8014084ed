"""Fixtures: a migrated database on SQLite and on PostgreSQL, the `ecert`
command run the way a clerk runs it, and the two bureaus most tests share
(a small one with keys, and a region of two schools with staff accounts).

Databases: the migrations run once a session, and each test gets a
database of its own with their result: on SQLite a copy of a migrated file
in its tmp_path; on PostgreSQL a fresh schema (dropped after) that gets the
statements the migrations sent to an empty one, recorded once and sent
again. `db_url`, `sqlite_url`, `pg_url` and `engine` are fully migrated and
empty; a test marked `unmigrated` gets them without the schema instead
(`ecert init` and the migrations' own tests).

Markers (pyproject.toml): postgres (the PostgreSQL fixtures and the
db_url[postgresql] parameter), redis (the Redis queue) and browser
(tests/e2e) are set below, in pytest_collection_modifyitems; slow (over
~3 s each by --durations) is written on the tests themselves. The quick run,
SQLite only and none of those:

    .venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow and not browser and not postgres and not redis"
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text

from issuer.db import make_engine, migrate
from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    id_number,
    project_row,
    record_row,
    teacher_row,
)
from tests.helpers import FULL, PASSPHRASE, PROJECTS, SCHOOL_A, SCHOOL_B, Region

PG_URL = os.environ.get("ECERT_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
E2E = Path(__file__).with_name("e2e")

# -- markers -------------------------------------------------------------------

# Fixtures that mean a service outside the test process.
POSTGRES_FIXTURES = {"pg_url", "pg_available", "pg_server", "pg_migration"}
REDIS_FIXTURES = {"redis_queue"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if names & POSTGRES_FIXTURES or params.get("db_url") == "postgresql":
            item.add_marker(pytest.mark.postgres)
        if names & REDIS_FIXTURES:
            item.add_marker(pytest.mark.redis)
        if E2E in item.path.parents:
            item.add_marker(pytest.mark.browser)


# -- databases -----------------------------------------------------------------


def _unmigrated(request) -> bool:
    return request.node.get_closest_marker("unmigrated") is not None


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


def _pg_schema_url(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def pg_server(pg_available):
    """An engine on the server's database, which makes and drops the tests'
    schemas."""
    eng = create_engine(PG_URL)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def pg_migration(pg_server) -> list[tuple[str, object, bool]]:
    """What `migrate` sent PostgreSQL to build the schema in an empty one of
    this session's own: each statement, its parameters and whether it was
    an executemany, in order. A test's schema is made by sending them again:
    the same schema, at a third of the time Alembic takes to work them out
    (CREATE DATABASE … TEMPLATE copies and logs a whole database and took
    longer still)."""
    template = f"ecert_tpl_{uuid.uuid4().hex[:12]}"
    with pg_server.begin() as c:
        c.execute(text(f"create schema {template}"))
    engine = make_engine(_pg_schema_url(template))
    sent: list[tuple[str, object, bool]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters, executemany))

    try:
        migrate(engine)
    finally:
        engine.dispose()
        with pg_server.begin() as c:
            c.execute(text(f"drop schema {template} cascade"))
    named = [statement for statement, _, _ in sent if template in statement]
    assert not named, f"the migrations named their schema; they cannot be replayed elsewhere: {named}"
    return sent


@pytest.fixture
def pg_url(request, pg_server):
    """A PostgreSQL URL whose search_path is a fresh schema (migrated, or
    empty when the test is marked `unmigrated`), dropped after."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    statements = () if _unmigrated(request) else request.getfixturevalue("pg_migration")
    with pg_server.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
        conn.execute(text(f"set local search_path to {schema}"))
        cursor = conn.connection.cursor()  # the driver's own, to send them exactly as recorded
        for statement, parameters, many in statements:
            (cursor.executemany if many else cursor.execute)(statement, parameters)
    yield _pg_schema_url(schema)
    with pg_server.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file the migrations ran on, copied for each test."""
    path = tmp_path_factory.mktemp("template") / "ecert.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()  # the last connection closed: the WAL is checkpointed into the file
    assert not path.with_name(f"{path.name}-wal").exists()
    return path


@pytest.fixture
def sqlite_url(request, tmp_path):
    """tmp_path/ecert.sqlite3, a copy of the template (no file at all when
    the test is marked `unmigrated`)."""
    path = tmp_path / "ecert.sqlite3"
    if not _unmigrated(request):
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(db_url):
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def run_ecert(db_url, tmp_path, monkeypatch):
    """Run `ecert ARGS` in-process (click's runner) against the test database."""
    from click.testing import CliRunner

    from issuer.cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("ECERT_DATA_DIR", str(tmp_path / "data"))
    for name in ("ECERT_PROFILE", "ECERT_BASE_URL", "ECERT_PORT"):  # a developer's own, if set
        monkeypatch.delenv(name, raising=False)
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


# -- a small bureau with keys (tests/certs, web, pdf, e2e) ------------------------


@pytest.fixture
def keyed(run_ecert, monkeypatch, tmp_path):
    """`ecert` on the test's database, with a signing key."""
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("ECERT_ACTOR", "测试员")
    run_ecert("keys", "init")
    return run_ecert


@pytest.fixture
def bureau(keyed, files):
    """Three teachers, one who meets every minimum and two who do not;
    returns their ID numbers: qualified, short, short."""
    ids = [id_number(seq=s) for s in (101, 102, 103)]
    keyed(
        "projects",
        "import",
        str(
            files.csv(
                "p.csv",
                PROJECT_HEADER,
                [
                    project_row(code, level=lvl, category=cat, mode=mode, hours=h, year="2025")
                    for code, lvl, cat, mode, h in FULL
                ],
            )
        ),
    )
    keyed(
        "roster",
        "import",
        str(
            files.csv(
                "r.csv",
                ROSTER_HEADER,
                [
                    teacher_row("热依拉·阿不都热合曼", ids[0]),
                    teacher_row("王芳", ids[1]),
                    teacher_row("李娜", ids[2]),
                ],
            )
        ),
    )
    rows = [record_row(ids[0], code, done="2025-06-01") for code, *_ in FULL]
    rows += [record_row(ids[1], "X-ELE"), record_row(ids[2], "S-SCH")]
    keyed("records", "import", str(files.csv("rec.csv", RECORD_HEADER, rows)))
    return ids


# -- a region of two schools, with an account of each role (tests/staff, and
# -- the office tests of tests/test_import_limits.py) ---------------------------


@pytest.fixture
def region(run_ecert, files, db_url):
    run_ecert(
        "projects",
        "import",
        str(
            files.csv(
                "p.csv",
                PROJECT_HEADER,
                [project_row(c, level=lvl, category=cat, mode=m, hours=h) for c, lvl, cat, m, h in PROJECTS],
            )
        ),
    )
    a = [id_number(seq=s) for s in (301, 302)]
    b = [id_number(seq=s) for s in (401,)]
    run_ecert(
        "roster",
        "import",
        str(
            files.csv(
                "r.csv",
                ROSTER_HEADER,
                [
                    teacher_row("王芳", a[0], school=SCHOOL_A),
                    teacher_row("李娜", a[1], school=SCHOOL_A),
                    teacher_row("张伟", b[0], school=SCHOOL_B),
                ],
            )
        ),
    )
    codes = {}
    for user, role, school in (
        ("admin", "admin", None),
        ("auditor", "auditor", None),
        ("reg-a", "registrar", SCHOOL_A[0]),
        ("reg-b", "registrar", SCHOOL_B[0]),
    ):
        out = run_ecert(
            "staff", "add", user, "--role", role, *(["--school", school] if school else [])
        ).stdout
        codes[user] = re.search(r"一次性密码：(\w+)", out).group(1)
    engine = make_engine(db_url)
    yield Region(run_ecert, engine, a, b, codes, files)
    engine.dispose()


@pytest.fixture
def app(region):
    """The full service over the region's database; the limiter's memory is
    per process, so each test starts afresh."""
    from issuer.config import load_settings
    from issuer.web import create_app, limiter

    app = create_app(load_settings())
    limiter.reset()
    yield app
    app.extensions["ecert_verifier"].close()
    app.extensions["ecert_engine"].dispose()


@pytest.fixture
def tokens(region):
    """A bearer token of each of the region's accounts, for the office API."""
    from issuer.db import write_session
    from issuer.office import staff

    with write_session(region.engine) as s:
        return {u: staff.create_token(s, u, "test") for u in ("admin", "auditor", "reg-a", "reg-b")}
