"""A region of two schools, with an account of each role."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from issuer.db import make_engine
from tests.builders import (
    PROJECT_HEADER,
    RECORD_HEADER,
    ROSTER_HEADER,
    id_number,
    project_row,
    record_row,
    teacher_row,
)

PASSPHRASE = "correct horse battery staple"
SCHOOL_A = ("6540040001", "霍尔果斯市第一小学")
SCHOOL_B = ("6540040002", "霍尔果斯市第二中学")
PROJECTS = [
    ("X-PRO", "县市级", "必修-专业", "集中", "40"),
    ("X-ELE", "县市级", "选修", "集中", "20"),
    ("S-SCH", "校级", "校本", "校本", "30"),
]


@dataclass
class Region:
    run: object
    engine: object
    a: list[str]  # ID numbers of school A's teachers
    b: list[str]
    codes: dict[str, str]  # username → one-time code
    files: object

    def records_file(self, name: str, rows: list[list[str]]):
        return self.files.csv(name, RECORD_HEADER, rows)


@pytest.fixture
def region(run_ecert, files, db_url):
    run_ecert("init")
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
def keys(region, monkeypatch, tmp_path):
    """A signing key in a temporary folder, its passphrase in the environment."""
    monkeypatch.setenv("ECERT_KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("ECERT_KEY_PASSPHRASE", PASSPHRASE)
    region.run("keys", "init")


@pytest.fixture
def issued(region, keys):
    """Every teacher's certificate issued."""
    region.run("issue")


@pytest.fixture
def numbers(region) -> dict[str, str]:
    """Certificate number of each ID number (the roster import registers them)."""
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import Registration, Teacher

    with read_session(region.engine) as s:
        return dict(
            s.execute(
                select(Teacher.id_number, Registration.number).join(
                    Registration, Registration.teacher_id == Teacher.id
                )
            ).all()
        )


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The background queue: the job ids the web requests handed to it
    (the test runs them)."""
    from issuer import tasks

    ids: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", ids.append)
    return ids


def scope_of(engine, username: str):
    from sqlalchemy import select

    from issuer.db import read_session
    from issuer.models import StaffAccount
    from issuer.staff import Scope

    with read_session(engine) as s:
        return Scope.of(s.scalar(select(StaffAccount).where(StaffAccount.username == username)))


__all__ = ["PASSPHRASE", "Region", "SCHOOL_A", "SCHOOL_B", "record_row", "scope_of"]
